package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anekit/anekit/internal/cpu"
)

// TestRowLoops: the row loops (assembly where the CPU allows, then with it
// turned off) equal the plain Go loops bit for bit, at every length around
// the 16-lane blocks, including infinities, zeros of both signs and NaN.
func TestRowLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -65504}
	val := func() float32 {
		if rng.IntN(20) == 0 {
			return specials[rng.IntN(len(specials))]
		}
		return float32(rng.NormFloat64() * 10)
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for _, impl := range []string{"asm", "go"} {
		if impl == "go" {
			defer cpu.DisableAVX512()()
		}
		for n := 0; n < 70; n++ {
			a, b, d := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range a {
				a[i], b[i] = val(), val()
			}
			for _, op := range []opcode{opAdd, opSub, opMul, opDiv} {
				binaryRow(op, d, a, b)
				for i := range d {
					var w float32
					switch op {
					case opAdd:
						w = a[i] + b[i]
					case opSub:
						w = a[i] - b[i]
					case opMul:
						w = a[i] * b[i]
					case opDiv:
						w = a[i] / b[i]
					}
					if !same(d[i], w) {
						t.Fatalf("%s n=%d op %d: element %d = %g, want %g", impl, n, op, i, d[i], w)
					}
				}
			}
			copy(d, a)
			scaleRow(d, 0.37)
			for i := range d {
				if !same(d[i], a[i]*0.37) {
					t.Fatalf("%s n=%d scale: element %d = %g, want %g", impl, n, i, d[i], a[i]*0.37)
				}
			}
			want, nan := float32(math.Inf(-1)), false
			for _, v := range a {
				want = max(want, v)
				nan = nan || v != v
			}
			if m := softmaxMax(a); !nan && !same(m, want) && !(m == 0 && want == 0) {
				t.Fatalf("%s n=%d: softmaxMax %g, want %g", impl, n, m, want)
			}
		}
	}
}
