//go:build amd64 && !purego

package gemm

//go:generate sh -c "cd ../../_asm && go run ./gemm -out ../internal/gemm/kernel_amd64.s -stubs ../internal/gemm/kernel_amd64.go -pkg gemm"

import (
	"unsafe"

	"github.com/anekit/anekit/internal/cpu"
)

// Blocking, chosen on Zen 4 and rechecked on Zen 5 (48 KiB L1d, 1 MiB L2
// per core; kc 256..512, nb 160..480 and mb 336..2048 all measured within
// noise of these): the kc×MR A micro-panel stays in L1, the kc×nb B block
// in L2.
var (
	avx512Kernel = &kernel{name: "avx512", mr: 14, nr: 32, kc: 384, nb: 320, mb: 1008, run: run512, runU: run512u, runF: run512f, runPF: run512pf, packB32: packB512, packBT: packBT512, packAT: packAT512}
	avx2Kernel   = &kernel{name: "avx2", mr: 6, nr: 16, kc: 384, nb: 320, mb: 1008, run: run256}
)

var kern512 = [...]func(k int, a, b, c *float32, ldc int, alpha, beta float32){
	kern512x1, kern512x2, kern512x3, kern512x4, kern512x5, kern512x6, kern512x7,
	kern512x8, kern512x9, kern512x10, kern512x11, kern512x12, kern512x13, kern512x14,
}

var kern512u = [...]func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32){
	kern512ux1, kern512ux2, kern512ux3, kern512ux4, kern512ux5, kern512ux6, kern512ux7,
	kern512ux8, kern512ux9, kern512ux10, kern512ux11, kern512ux12, kern512ux13, kern512ux14,
}

var kern256 = [...]func(k int, a, b, c *float32, ldc int, alpha, beta float32){
	kern256x1, kern256x2, kern256x3, kern256x4, kern256x5, kern256x6,
}

func run512(mr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[:k*14], b[:k*32], c[:(mr-1)*ldc+32]
	kern512[mr-1](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
}

func run512u(mr, k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[:(mr-1)*lda+k], b[:k*32], c[:(mr-1)*ldc+32]
	kern512u[mr-1](k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
}

var kern512f = [...]func(k int, a *float32, lda int, b, bsrc *float32, ldb int, c *float32, ldc int, alpha, beta float32){
	kern512fx1, kern512fx2, kern512fx3, kern512fx4, kern512fx5, kern512fx6, kern512fx7,
	kern512fx8, kern512fx9, kern512fx10, kern512fx11, kern512fx12, kern512fx13, kern512fx14,
}

func run512f(mr, k int, a []float32, lda int, b, bsrc []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_, _, _, _ = a[:(mr-1)*lda+k], b[:k*32], bsrc[:(k-1)*ldb+32], c[:(mr-1)*ldc+32]
	kern512f[mr-1](k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(bsrc), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

var kern512pf = [...]func(k int, a, b, bsrc *float32, ldb int, c *float32, ldc int, alpha, beta float32){
	kern512pfx1, kern512pfx2, kern512pfx3, kern512pfx4, kern512pfx5, kern512pfx6, kern512pfx7,
	kern512pfx8, kern512pfx9, kern512pfx10, kern512pfx11, kern512pfx12, kern512pfx13, kern512pfx14,
}

func run512pf(mr, k int, a, b, bsrc []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_, _, _, _ = a[:k*14], b[:k*32], bsrc[:(k-1)*ldb+32], c[:(mr-1)*ldc+32]
	kern512pf[mr-1](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(bsrc), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

func run256(mr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[:k*6], b[:k*16], c[:(mr-1)*ldc+16]
	kern256[mr-1](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
}

// currentKernel returns the fastest kernel the CPU flags allow now, or the
// Go kernel when ANEKIT_GEMM=go.
func currentKernel() *kernel {
	switch {
	case forced == "go":
		return goKernel
	case cpu.HasAVX512():
		return avx512Kernel
	case cpu.HasAVX2():
		return avx2Kernel
	}
	return goKernel
}

func packB512(dst, src []float32, ldb, kc, nq int) {
	_, _ = dst[:nq*kc*32], src[:(kc-1)*ldb+nq*32]
	packB32pf(unsafe.SliceData(dst), unsafe.SliceData(src), ldb, kc, nq)
}

func packBT512(dst, bt []float32, ld, kc int) {
	_, _ = dst[:kc*32], bt[:31*ld+kc]
	k16 := kc &^ 15
	if k16 > 0 {
		packBT32(unsafe.SliceData(dst), unsafe.SliceData(bt), ld, k16)
	}
	for p := k16; p < kc; p++ {
		for x := range 32 {
			dst[p*32+x] = bt[x*ld+p]
		}
	}
}

func packAT512(dst, at []float32, ld, kc, mr int) {
	if kc <= 0 {
		return
	}
	_, _ = dst[:kc*14], at[:(kc-1)*ld+mr]
	packAT14(unsafe.SliceData(dst), unsafe.SliceData(at), ld, kc, mr)
}
