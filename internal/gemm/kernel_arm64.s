//go:build arm64 && !purego

#include "textflag.h"

// The NEON 8×12 micro-kernel, written by hand (avo generates only amd64).
//
// Registers: V0–V23 accumulate the 8×12 block of C, row r in V(3r),
// V(3r+1), V(3r+2) (four columns each); V24–V25 hold the 8 A values of
// one step p (rows 0–3, 4–7); V26–V28 hold the 12 B values of that step;
// V29–V30 hold alpha and beta in the epilogue. Each step loads 80 bytes and
// issues 24 FMLAs (96 multiply-adds).
//
// The Go assembler has VFMLA only in its vector form, so the by-element
// forms are spelled as instruction words (encodings checked against GNU as):
//	FMLA Vd.4S, Vn.4S, Vm.S[i]	0x4F801000 | (i&1)<<21 | m<<16 | (i>>1)<<11 | n<<5 | d
//	FMUL Vd.4S, Vn.4S, Vm.S[i]	0x4F809000 | (i&1)<<21 | m<<16 | (i>>1)<<11 | n<<5 | d
#define FMLAE(d, n, m, i) WORD $(0x4F801000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))
#define FMULE(d, n, m, i) WORD $(0x4F809000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))

// ROW0 stores one row of C (three vectors) at R4.
#define ROW0(c0, c1, c2) VST1 [c0.S4, c1.S4, c2.S4], (R4)

// ROWB stores one row of C at R4 after adding beta (V30) times its old
// value.
#define ROWB(c0, c1, c2) \
	VLD1  (R4), [V26.S4, V27.S4, V28.S4]; \
	VFMLA V30.S4, V26.S4, c0.S4; \
	VFMLA V30.S4, V27.S4, c1.S4; \
	VFMLA V30.S4, V28.S4, c2.S4; \
	VST1  [c0.S4, c1.S4, c2.S4], (R4)

// func kernNEON(mr, k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kernNEON(SB), NOSPLIT, $0-56
	MOVD mr+0(FP), R0
	MOVD k+8(FP), R1
	MOVD a+16(FP), R2
	MOVD b+24(FP), R3
	MOVD c+32(FP), R4
	MOVD ldc+40(FP), R5
	LSL  $2, R5, R5
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	CBZ  R1, scale

loop:
	VLD1.P 32(R2), [V24.S4, V25.S4]
	VLD1.P 48(R3), [V26.S4, V27.S4, V28.S4]
	FMLAE(0, 26, 24, 0)
	FMLAE(1, 27, 24, 0)
	FMLAE(2, 28, 24, 0)
	FMLAE(3, 26, 24, 1)
	FMLAE(4, 27, 24, 1)
	FMLAE(5, 28, 24, 1)
	FMLAE(6, 26, 24, 2)
	FMLAE(7, 27, 24, 2)
	FMLAE(8, 28, 24, 2)
	FMLAE(9, 26, 24, 3)
	FMLAE(10, 27, 24, 3)
	FMLAE(11, 28, 24, 3)
	FMLAE(12, 26, 25, 0)
	FMLAE(13, 27, 25, 0)
	FMLAE(14, 28, 25, 0)
	FMLAE(15, 26, 25, 1)
	FMLAE(16, 27, 25, 1)
	FMLAE(17, 28, 25, 1)
	FMLAE(18, 26, 25, 2)
	FMLAE(19, 27, 25, 2)
	FMLAE(20, 28, 25, 2)
	FMLAE(21, 26, 25, 3)
	FMLAE(22, 27, 25, 3)
	FMLAE(23, 28, 25, 3)
	SUBS $1, R1, R1
	BNE  loop

scale:
	FMOVS alpha+48(FP), F29
	FMULE(0, 0, 29, 0)
	FMULE(1, 1, 29, 0)
	FMULE(2, 2, 29, 0)
	FMULE(3, 3, 29, 0)
	FMULE(4, 4, 29, 0)
	FMULE(5, 5, 29, 0)
	FMULE(6, 6, 29, 0)
	FMULE(7, 7, 29, 0)
	FMULE(8, 8, 29, 0)
	FMULE(9, 9, 29, 0)
	FMULE(10, 10, 29, 0)
	FMULE(11, 11, 29, 0)
	FMULE(12, 12, 29, 0)
	FMULE(13, 13, 29, 0)
	FMULE(14, 14, 29, 0)
	FMULE(15, 15, 29, 0)
	FMULE(16, 16, 29, 0)
	FMULE(17, 17, 29, 0)
	FMULE(18, 18, 29, 0)
	FMULE(19, 19, 29, 0)
	FMULE(20, 20, 29, 0)
	FMULE(21, 21, 29, 0)
	FMULE(22, 22, 29, 0)
	FMULE(23, 23, 29, 0)
	MOVWU beta+52(FP), R6
	ANDW  $0x7fffffff, R6, R6
	CBZW  R6, beta0
	FMOVS beta+52(FP), F30
	VDUP  V30.S[0], V30.S4
	ROWB(V0, V1, V2)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V3, V4, V5)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V6, V7, V8)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V9, V10, V11)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V12, V13, V14)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V15, V16, V17)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V18, V19, V20)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROWB(V21, V22, V23)

stored:
	RET

beta0:
	ROW0(V0, V1, V2)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V3, V4, V5)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V6, V7, V8)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V9, V10, V11)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V12, V13, V14)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V15, V16, V17)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V18, V19, V20)
	SUBS $1, R0, R0
	BEQ  stored
	ADD  R5, R4, R4
	ROW0(V21, V22, V23)
	RET
