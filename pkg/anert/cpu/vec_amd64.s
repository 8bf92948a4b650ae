//go:build amd64 && !purego

#include "textflag.h"

// The row loops below run 16 float32 lanes at a time over n elements, n a
// multiple of 16; the Go wrappers in vec.go do the tails.

// func max512(x *float32, n int) float32
TEXT ·max512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VMOVUPS      (SI), Z0
	VMOVAPS      Z0, Z1
	ADDQ         $64, SI
	SUBQ         $16, CX

max_two:
	CMPQ    CX, $32
	JB      max_one
	VMAXPS  (SI), Z0, Z0
	VMAXPS  64(SI), Z1, Z1
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     max_two

max_one:
	CMPQ    CX, $16
	JB      max_done
	VMAXPS  (SI), Z0, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     max_one

max_done:
	VMAXPS        Z1, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	MOVSS         X0, ret+16(FP)
	VZEROUPPER
	RET

// func scale512(x *float32, n int, s float32)
TEXT ·scale512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Z2

scale_loop:
	CMPQ    CX, $16
	JB      scale_done
	VMULPS  (SI), Z2, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     scale_loop

scale_done:
	VZEROUPPER
	RET

// func binary512(op int, d, a, b *float32, n int)
// d[i] = a[i] op b[i] for op 0 add, 1 sub, 2 mul, 3 div: IEEE single
// precision, the same results as the scalar Go loops.
TEXT ·binary512(SB), NOSPLIT, $0-40
	MOVQ op+0(FP), AX
	MOVQ d+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	CMPQ AX, $0
	JEQ  add_loop
	CMPQ AX, $1
	JEQ  sub_loop
	CMPQ AX, $2
	JEQ  mul_loop
	JMP  div_loop

add_loop:
	CMPQ    CX, $16
	JB      bin_done
	VMOVUPS (SI), Z0
	VADDPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     add_loop

sub_loop:
	CMPQ    CX, $16
	JB      bin_done
	VMOVUPS (SI), Z0
	VSUBPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     sub_loop

mul_loop:
	CMPQ    CX, $16
	JB      bin_done
	VMOVUPS (SI), Z0
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     mul_loop

div_loop:
	CMPQ    CX, $16
	JB      bin_done
	VMOVUPS (SI), Z0
	VDIVPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     div_loop

bin_done:
	VZEROUPPER
	RET
