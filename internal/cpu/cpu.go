// Package cpu reports the CPU features anekit's assembly kernels use, with
// hooks that let tests turn a feature off to exercise the next path down
// (as crypto/sha256 and klauspost/compress do).
//
// The x86 flags are read once at start-up from golang.org/x/sys/cpu, which
// also checks that the operating system saves the wider registers. On arm64
// NEON (Advanced SIMD) is part of every CPU Go runs on, so its flag is set
// without asking. Flags of other architectures are false. The Disable functions are for tests
// and benchmarks only: they are not safe to call while another goroutine
// runs a kernel.
package cpu

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

var (
	// avx512 means AVX-512 F, VL, BW and DQ are usable.
	avx512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL &&
		cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ
	// avx2 means AVX2 and FMA3 are usable.
	avx2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	// f16c means F16C (VCVTPH2PS/VCVTPS2PH) on top of AVX is usable.
	f16c = cpu.X86.HasAVX && cpu.X86.HasF16C
	// neon means the arm64 Advanced SIMD kernels (FMLA, FCVTN/FCVTL) may
	// run. ARMv8-A makes Advanced SIMD mandatory for the application
	// profile, and Go's arm64 ports assume it.
	neon = runtime.GOARCH == "arm64"
)

// HasAVX512 reports whether the AVX-512 kernels (F, VL, BW, DQ) may run.
func HasAVX512() bool { return avx512 }

// HasAVX2 reports whether the AVX2 + FMA kernels may run.
func HasAVX2() bool { return avx2 }

// HasF16C reports whether the F16C conversions (with AVX) may run.
func HasF16C() bool { return f16c }

// HasNEON reports whether the arm64 NEON kernels may run.
func HasNEON() bool { return neon }

// DisableAVX512 turns AVX-512 off and returns a function that restores it.
func DisableAVX512() (restore func()) { return disable(&avx512) }

// DisableAVX2 turns AVX2 + FMA off and returns a function that restores it.
func DisableAVX2() (restore func()) { return disable(&avx2) }

// DisableF16C turns F16C off and returns a function that restores it.
func DisableF16C() (restore func()) { return disable(&f16c) }

// DisableNEON turns NEON off and returns a function that restores it.
func DisableNEON() (restore func()) { return disable(&neon) }

func disable(flag *bool) func() {
	old := *flag
	*flag = false
	return func() { *flag = old }
}

// Path names the fastest path the flags allow: "avx512", "avx2", "neon" or
// "go".
// Packages with narrower needs may pick differently; this is what ane-bench
// records.
func Path() string {
	switch {
	case avx512:
		return "avx512"
	case avx2:
		return "avx2"
	case neon:
		return "neon"
	}
	return "go"
}
