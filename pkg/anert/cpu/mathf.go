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

func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }

func tanhf(x float32) float32 { return float32(math.Tanh(float64(x))) }
