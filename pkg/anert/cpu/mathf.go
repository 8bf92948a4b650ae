package cpu

import (
	"math"

	"github.com/anekit/anekit/internal/f16"
)

// roundHalf rounds v to the nearest fp16 value (ties to even), returned as
// a float32: the same result as f16.Round, without the branches of a full
// conversion.
func roundHalf(v float32) float32 {
	b := math.Float32bits(v)
	a := b & 0x7fffffff
	switch {
	case a >= 0x38800000: // |v| >= 2^-14: the normal range of a half
		if a >= 0x477ff000 { // >= 65520 rounds to Inf; NaN stays NaN
			if a > 0x7f800000 {
				return math.Float32frombits(b | 0x00400000)
			}
			return math.Float32frombits(b&0x80000000 | 0x7f800000)
		}
		b += 0xfff + (b>>13)&1
		return math.Float32frombits(b &^ 0x1fff)
	default: // subnormal half: a multiple of 2^-24, found by float32 rounding
		r := (math.Float32frombits(a) + 0.5) - 0.5
		return math.Float32frombits(math.Float32bits(r) | b&0x80000000)
	}
}

// roundHalves rounds every element of x to fp16 in place, through the
// vectorised conversions of internal/f16 (the same rounding as roundHalf).
// h is scratch of any non-zero length.
func roundHalves(x []float32, h []uint16) {
	for len(x) > 0 {
		n := min(len(x), len(h))
		f16.Encode(h[:n], x[:n])
		f16.Decode(x[:n], h[:n])
		x = x[n:]
	}
}

// expf is e^x for float32 arguments, within 1 ulp of float32: range
// reduction by ln 2 and a degree-7 polynomial evaluated in float64.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.8:
		return float32(math.Inf(1))
	case x < -104:
		return 0
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 6.93147180369123816490e-01
		ln2lo = 1.90821492927058770002e-10
	)
	xf := float64(x)
	k := math.Floor(xf*log2e + 0.5)
	r := xf - k*ln2hi - k*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return float32(p * math.Float64frombits(uint64(int64(k)+1023)<<52))
}

var negInf = math.Inf(-1)

func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }

func tanhf(x float32) float32 { return float32(math.Tanh(float64(x))) }

// expFast is e^x for x in [-87, 88] (the caller checks the range): range
// reduction by ln 2 in float32 (Cody-Waite, ln2hi exact in 12 bits so
// n*ln2hi is exact) and a degree-7 Taylor polynomial, within 3 float32 ulp
// (TestExpRow). It is small enough to inline into the row loops.
func expFast(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		magic = 12582912 // 1.5 * 2^23: adding it rounds to an integer
		ln2hi = 0.693145751953125
		ln2lo = 1.42860682030941723e-06
	)
	t := x*log2e + magic
	n := int32(math.Float32bits(t)) - int32(math.Float32bits(magic))
	fn := t - magic
	r := x - fn*ln2hi - fn*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// expConsts are expAffine512's constants, in the order it loads them.
var expConsts = [12]float32{-104, 89, 1.44269504088896341, 0.693145751953125, 1.42860682030941723e-06,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1}

// expAffine sets dst[i] = e^(a*src[i] + b) and returns the sum of the
// results (accumulated in float32, in no particular order); len(dst) >=
// len(src). dst may be src. On amd64 with AVX-512 it runs 16 lanes at a
// time; elsewhere, and for the tail, expFast or expf.
func expAffine(dst, src []float32, a, b float32) float32 {
	dst = dst[:len(src)]
	var s float32
	done := 0
	if expAsm() && len(src) >= 16 {
		var sums [16]float32
		done = len(src) &^ 15
		expAffine512(&dst[0], &src[0], done, a, b, &expConsts[0], &sums[0])
		for _, v := range sums {
			s += v
		}
	}
	var s1, s2 float32
	for i := done; i < len(src); i++ {
		v := a*src[i] + b
		var e float32
		if v >= -87 && v <= 88 {
			e = expFast(v)
		} else {
			e = expf(v)
		}
		dst[i] = e
		if i&1 == 0 {
			s1 += e
		} else {
			s2 += e
		}
	}
	return s + s1 + s2
}
