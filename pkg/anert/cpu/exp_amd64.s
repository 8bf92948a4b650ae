//go:build amd64 && !purego

#include "textflag.h"

// func expAffine512(dst, src *float32, n int, a, b float32, k *float32, sums *float32)
//
// dst[i] = exp(a*src[i] + b) for i < n (n a multiple of 16), 16 lanes at a
// time, and sums[0:16] = the lane-wise sums of the results. k holds the
// constants of expConsts. The argument is clamped to [-104, 89] (NaN stays
// NaN), rounded to n = round(x·log2e), reduced to r = x - n·ln2 in two
// parts, e^r is a degree-7 Taylor polynomial and VSCALEFPS multiplies by
// 2^n (overflow gives +Inf, underflow subnormals or 0).
TEXT ·expAffine512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Z16
	VBROADCASTSS b+28(FP), Z17
	MOVQ         k+32(FP), AX
	MOVQ         sums+40(FP), DX
	VBROADCASTSS 0(AX), Z18  // lower clamp
	VBROADCASTSS 4(AX), Z19  // upper clamp
	VBROADCASTSS 8(AX), Z20  // log2(e)
	VBROADCASTSS 12(AX), Z21 // ln2 high part
	VBROADCASTSS 16(AX), Z22 // ln2 low part
	VBROADCASTSS 20(AX), Z23 // 1/7!
	VBROADCASTSS 24(AX), Z24 // 1/6!
	VBROADCASTSS 28(AX), Z25 // 1/5!
	VBROADCASTSS 32(AX), Z26 // 1/4!
	VBROADCASTSS 36(AX), Z27 // 1/3!
	VBROADCASTSS 40(AX), Z28 // 1/2
	VBROADCASTSS 44(AX), Z29 // 1
	VPXORD       Z15, Z15, Z15

loop:
	CMPQ         CX, $16
	JB           done
	VMOVUPS      (SI), Z0
	VFMADD213PS  Z17, Z16, Z0 // x = a*x + b
	VMAXPS       Z0, Z18, Z0  // max(lo, x), NaN stays
	VMINPS       Z0, Z19, Z0  // min(hi, x), NaN stays
	VMULPS       Z20, Z0, Z1
	VRNDSCALEPS  $0, Z1, Z1   // n = round(x*log2e)
	VFNMADD231PS Z21, Z1, Z0  // r = x - n*ln2hi
	VFNMADD231PS Z22, Z1, Z0  // r -= n*ln2lo
	VMOVAPS      Z23, Z2
	VFMADD213PS  Z24, Z0, Z2
	VFMADD213PS  Z25, Z0, Z2
	VFMADD213PS  Z26, Z0, Z2
	VFMADD213PS  Z27, Z0, Z2
	VFMADD213PS  Z28, Z0, Z2
	VFMADD213PS  Z29, Z0, Z2
	VFMADD213PS  Z29, Z0, Z2  // p = e^r
	VSCALEFPS    Z1, Z2, Z2   // p * 2^n
	VMOVUPS      Z2, (DI)
	VADDPS       Z2, Z15, Z15
	ADDQ         $64, SI
	ADDQ         $64, DI
	SUBQ         $16, CX
	JMP          loop

done:
	VMOVUPS Z15, (DX)
	VZEROUPPER
	RET
