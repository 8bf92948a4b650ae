//go:build arm64 && !purego

package gemm

import (
	"unsafe"

	"github.com/anekit/anekit/internal/cpu"
)

// kernNEON is the NEON 8×12 micro-kernel (kernel_arm64.s). a is a packed
// panel of k steps of 8 floats (A rows; rows >= mr are read but not
// stored), b a packed panel of k steps of 12 floats, and c the top-left of
// mr rows of 12 floats of C, ldc floats apart. It computes
//
//	for r := 0; r < mr; r++ {
//		for j := 0; j < 12; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[8*p+r] * b[12*p+j] // one FMLA, fused, per term
//			}
//			s *= alpha
//			if beta != 0 { // -0 counts as 0: C is not read
//				s += beta * c[r*ldc+j] // fused
//			}
//			c[r*ldc+j] = s
//		}
//	}
//
// with 1 <= mr <= 8 and k >= 0.
//
//go:noescape
func kernNEON(mr, k int, a, b, c *float32, ldc int, alpha, beta float32)

// neonKernel's blocking is chosen for Apple M-series cores (128 KiB L1d
// on performance cores, 64 KiB on efficiency cores, a 4–16 MiB L2 shared
// by a cluster), not measured on one: the 512×8 A micro-panel (16 KiB)
// and the 512×12 B micro-panel (24 KiB) share L1; the 512×768 B block
// (1.5 MiB) sits in L2.
var neonKernel = &kernel{name: "neon", mr: 8, nr: 12, kc: 512, nb: 768, mb: 1024, run: runNEON}

func runNEON(mr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[:k*8], b[:k*12], c[:(mr-1)*ldc+12]
	kernNEON(mr, k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
}

// currentKernel returns the NEON kernel unless NEON is disabled (tests) or
// ANEKIT_GEMM=go asks for the portable one.
func currentKernel() *kernel {
	if cpu.HasNEON() && forced != "go" {
		return neonKernel
	}
	return goKernel
}
