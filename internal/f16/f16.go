// Package f16 converts between IEEE 754 binary32 and binary16 (half).
//
// Rounding is round-to-nearest-even, as F16C's VCVTPS2PH with imm 0 and as
// the Neural Engine's conversions; NaN stays NaN (quiet), overflow gives
// ±Inf, tiny values become subnormals or ±0.
package f16

import "math"

// FromFloat32 returns the half nearest to f (ties to even).
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	case exp > 127+15: // overflow
		return sign | 0x7c00
	case exp >= 127-14: // normal half
		h := uint32(exp-127+15)<<10 | man>>13
		rest := man & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(h)
	case exp >= 127-25: // subnormal half
		man |= 0x800000
		// value = man * 2^(exp-127-23) and the half subnormal unit is
		// 2^-24, so h = man >> (126 - exp), then round to nearest even.
		shift := uint32(126 - exp)
		h := man >> shift
		rest := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	default:
		return sign
	}
}

// ToFloat32 returns the float32 equal to the half h (exact). A NaN keeps
// its sign and payload and comes back quiet, as VCVTPH2PS and Arm's FCVT
// return it.
func ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		if man != 0 {
			man |= 0x200 // quiet
		}
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	default: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
}

// Round returns f rounded to the nearest half, as a float32.
func Round(f float32) float32 { return ToFloat32(FromFloat32(f)) }

// Encode converts src to halves in dst; len(dst) must be >= len(src).
// The result is bit-identical to FromFloat32 on each element; on amd64 it
// runs VCVTPS2PH 16 or 8 lanes at a time when the CPU has AVX-512 or F16C,
// on arm64 FCVTN/FCVTN2 8 lanes at a time (hand-written, conv_arm64.s).
func Encode(dst []uint16, src []float32) {
	_ = dst[:len(src)]
	encode(dst[:len(src)], src)
}

// Decode converts halves in src to float32 in dst; len(dst) must be >= len(src).
// The result is bit-identical to ToFloat32 on each element; on amd64 it
// runs VCVTPH2PS 16 or 8 lanes at a time when the CPU has AVX-512 or F16C,
// on arm64 FCVTL/FCVTL2 8 lanes at a time (hand-written, conv_arm64.s).
func Decode(dst []float32, src []uint16) {
	_ = dst[:len(src)]
	decode(dst[:len(src)], src)
}

// encodeGeneric and decodeGeneric are the portable loops, used for tails and
// where no assembly applies. len(dst) == len(src).
func encodeGeneric(dst []uint16, src []float32) {
	for i, v := range src {
		dst[i] = FromFloat32(v)
	}
}

func decodeGeneric(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = ToFloat32(h)
	}
}
