//go:build arm64 && !purego

#include "textflag.h"

// The Go arm64 assembler has no mnemonics for the half-precision
// conversions, so they are spelled as instruction words (encodings checked
// against GNU as):
//	FCVTN  Vd.4H, Vn.4S	0x0E216800 | n<<5 | d	(low half of Vd, upper cleared)
//	FCVTN2 Vd.8H, Vn.4S	0x4E216800 | n<<5 | d	(high half of Vd)
//	FCVTL  Vd.4S, Vn.4H	0x0E217800 | n<<5 | d	(from the low half of Vn)
//	FCVTL2 Vd.4S, Vn.8H	0x4E217800 | n<<5 | d	(from the high half of Vn)
// They round to nearest even under the default FPCR (RMode 0, DN 0, AHP 0),
// quieting NaNs and keeping the payload bits that fit, as FromFloat32 and
// ToFloat32 do.
#define FCVTN(d, n) WORD $(0x0E216800 | ((n)<<5) | (d))
#define FCVTN2(d, n) WORD $(0x4E216800 | ((n)<<5) | (d))
#define FCVTL(d, n) WORD $(0x0E217800 | ((n)<<5) | (d))
#define FCVTL2(d, n) WORD $(0x4E217800 | ((n)<<5) | (d))

// func encodeNEON(dst *uint16, src *float32, n int)
TEXT ·encodeNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

encode16:
	CMP  $16, R2
	BLT  encode8
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	FCVTN(4, 0)
	FCVTN2(4, 1)
	FCVTN(5, 2)
	FCVTN2(5, 3)
	VST1.P [V4.H8, V5.H8], 32(R0)
	SUB  $16, R2
	B    encode16

encode8:
	CBZ  R2, encodeDone
	VLD1.P 32(R1), [V0.S4, V1.S4]
	FCVTN(4, 0)
	FCVTN2(4, 1)
	VST1.P [V4.H8], 16(R0)

encodeDone:
	RET

// func decodeNEON(dst *float32, src *uint16, n int)
TEXT ·decodeNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

decode16:
	CMP  $16, R2
	BLT  decode8
	VLD1.P 32(R1), [V0.H8, V1.H8]
	FCVTL(2, 0)
	FCVTL2(3, 0)
	FCVTL(4, 1)
	FCVTL2(5, 1)
	VST1.P [V2.S4, V3.S4, V4.S4, V5.S4], 64(R0)
	SUB  $16, R2
	B    decode16

decode8:
	CBZ  R2, decodeDone
	VLD1.P 16(R1), [V0.H8]
	FCVTL(2, 0)
	FCVTL2(3, 0)
	VST1.P [V2.S4, V3.S4], 32(R0)

decodeDone:
	RET
