package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/mil"
)

// Each case builds one compute op (plus free views) on the input [1,C,1,S],
// so the backend rounds exactly once: its result must be within half an
// fp16 ulp of the float64 reference, plus acc*max|ref| for ops that sum
// (fp32 accumulation).
type opCase struct {
	name     string
	positive bool    // input in [0.5, 2] instead of [-3, 3]
	acc      float64 // extra tolerance, relative to max|ref|
	build    func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var
}

// strided returns a random view of x: itself, a transposed reshape, or a
// slice, all reading the input surface in place.
func strided(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
	switch rng.IntN(3) {
	case 0:
		return x
	case 1:
		return b.Transpose(b.Reshape(x, 1, 1, c, s), 0, 1, 3, 2) // [1,1,S,C], strides (1, S)
	}
	return b.SliceBySize(x, []int{0, c / 2, 0, s / 3}, []int{1, c - c/2, 1, s - s/3})
}

// partnerOf returns a value broadcastable to v: v's transpose-twice twin, a
// size-1 slice along a random axis (a stride-0 broadcast), or a scalar.
func partnerOf(rng *rand.Rand, b *mil.Builder, v mil.Var) mil.Var {
	sh := v.Type.Shape
	switch rng.IntN(4) {
	case 0:
		return b.FP16(float64(rng.IntN(15)-7)/4 + 0.125)
	case 1:
		ax := rng.IntN(len(sh))
		begin := make([]int, len(sh))
		size := append([]int(nil), sh...)
		size[ax] = 1
		begin[ax] = rng.IntN(sh[ax])
		return b.SliceBySize(v, begin, size)
	case 2:
		return b.Reduce("reduce_max", v, []int{len(sh) - 1}, true)
	}
	return v
}

var opCases = []opCase{}

func init() {
	for _, k := range []string{"exp", "tanh", "sigmoid", "silu", "relu", "square"} {
		opCases = append(opCases, opCase{name: k, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			return b.Unary(k, strided(rng, b, x, c, s))
		}})
	}
	for _, k := range []string{"sqrt", "rsqrt"} {
		opCases = append(opCases, opCase{name: k, positive: true, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			return b.Unary(k, strided(rng, b, x, c, s))
		}})
	}
	for _, k := range []string{"add", "sub", "mul", "maximum", "minimum", "real_div", "pow"} {
		opCases = append(opCases, opCase{name: k, positive: k == "real_div" || k == "pow",
			build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
				v := strided(rng, b, x, c, s)
				w := partnerOf(rng, b, v)
				if (k == "real_div" || k == "pow") && w.Type.Tensor == false {
					w = b.FP16(0.75)
				}
				if rng.IntN(2) == 0 && k != "pow" {
					v, w = w, v
				}
				return b.Apply(k, mil.A("x", v), mil.A("y", w))
			}})
	}
	opCases = append(opCases,
		opCase{name: "cast", build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			return b.Cast(b.Cast(strided(rng, b, x, c, s), mil.FP32), mil.FP16)
		}},
		opCase{name: "views", build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			v := strided(rng, b, x, c, s)
			return b.Transpose(v, rng.Perm(4)...)
		}},
		opCase{name: "softmax", acc: 1e-6, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			v := strided(rng, b, x, c, s)
			return b.Softmax(v, rng.IntN(8)-4)
		}},
		opCase{name: "reduce", acc: 1e-5, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			v := strided(rng, b, x, c, s)
			k := []string{"reduce_sum", "reduce_mean", "reduce_max"}[rng.IntN(3)]
			axes := rng.Perm(4)[:1+rng.IntN(4)]
			return b.Reduce(k, v, axes, len(axes) == 4 || rng.IntN(2) == 0)
		}},
		opCase{name: "concat", build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			v := strided(rng, b, x, c, s)
			w := b.Unary("relu", v)
			parts := []mil.Var{v, w, v}[:2+rng.IntN(2)]
			return b.Concat(rng.IntN(4), rng.IntN(3) == 0, parts...)
		}},
		opCase{name: "matmul", acc: 1e-5, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			batch := 1
			if c%2 == 0 {
				batch = 2
			}
			v := b.Reshape(x, 1, batch, c/batch, s) // [1,B,M,K]
			if rng.IntN(2) == 0 {
				v = b.Transpose(b.Transpose(v, 0, 1, 3, 2), 0, 1, 3, 2)
			}
			tx := rng.IntN(2) == 0
			y := v
			if rng.IntN(3) == 0 { // broadcast batch: batch 0 only
				y = b.SliceBySize(v, []int{0, 0, 0, 0}, []int{1, 1, c / batch, s})
			}
			return b.MatMul(v, y, tx, !tx)
		}},
		opCase{name: "matmul_scaled", acc: 1e-5, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			v := b.Reshape(x, 1, 1, c, s)
			return b.Mul(b.MatMul(v, v, false, true), b.FP16(0.125))
		}},
		opCase{name: "conv1x1", acc: 1e-5, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			o := 1 + rng.IntN(9)
			w := make([]float32, o*c)
			for i := range w {
				w[i] = f16.Round(float32(rng.NormFloat64()))
			}
			wv := b.Const(mil.Value{Type: mil.Tensor(mil.FP16, o, c, 1, 1), Floats: w})
			return b.Conv(x, wv, mil.ConvOptions{})
		}},
		opCase{name: "conv", acc: 1e-5, build: func(rng *rand.Rand, b *mil.Builder, x mil.Var, c, s int) mil.Var {
			g := 1
			if c%2 == 0 {
				g = 2
			}
			o := g * (1 + rng.IntN(3))
			kh, kw := 1, 1+rng.IntN(min(3, s))
			w := make([]float32, o*(c/g)*kh*kw)
			for i := range w {
				w[i] = f16.Round(float32(rng.NormFloat64()))
			}
			wv := b.Const(mil.Value{Type: mil.Tensor(mil.FP16, o, c/g, kh, kw), Floats: w})
			pt := []string{"valid", "same", "custom"}[rng.IntN(3)]
			opt := mil.ConvOptions{PadType: pt, Groups: g, Strides: []int{1, 1 + rng.IntN(2)}}
			if pt == "custom" {
				opt.Pad = []int{0, 0, rng.IntN(2), rng.IntN(2)}
			}
			return b.Conv(x, wv, opt)
		}},
	)
}

func TestOps(t *testing.T) {
	dev := New(Options{Threads: 2})
	for _, oc := range opCases {
		t.Run(oc.name, func(t *testing.T) {
			for trial := range 40 {
				rng := rand.New(rand.NewPCG(uint64(trial), 99))
				c, s := 1+rng.IntN(24), 1+rng.IntN(40)
				if trial%8 == 7 { // big enough to split across workers
					c, s = 2*(16+rng.IntN(16)), 1024+rng.IntN(700)
					if oc.name == "matmul" || oc.name == "matmul_scaled" || oc.name == "conv" {
						s = 64
					}
				}
				b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, c, 1, s))
				y := oc.build(rng, b, b.Input(), c, s)
				b.Output(y)
				p, err := b.Program()
				if err != nil {
					t.Fatal(err)
				}
				p = asKernel(p)
				x := make([]uint16, c*s)
				xf := make([]float64, c*s)
				for i := range x {
					v := rng.Float64()*6 - 3
					if oc.positive {
						v = 0.5 + 1.5*rng.Float64()
					}
					x[i] = f16.FromFloat32(float32(v))
					xf[i] = float64(f16.ToFloat32(x[i]))
				}
				got := run(t, dev, p, x)
				ref, err := refEval(p, xf, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := withinHalfULP(got, ref, oc.acc); err != nil {
					t.Fatalf("trial %d [1,%d,1,%d]: %v\n%s", trial, c, s, err, mil.Print(p))
				}
			}
		})
	}
}

func withinHalfULP(got []uint16, ref []float64, acc float64) error {
	scale := 0.0
	for _, r := range ref {
		scale = max(scale, math.Abs(r))
	}
	for i, r := range ref {
		g := float64(f16.ToFloat32(got[i]))
		tol := math.Abs(r)*(1.0/2048)*1.0001 + 1.0/(1<<24) + acc*scale
		if math.IsInf(r, 0) && g == r {
			continue
		}
		if e := math.Abs(g - r); !(e <= tol) {
			return fmt.Errorf("element %d = %g, reference %g: error %.3g > %.3g", i, g, r, e, tol)
		}
	}
	return nil
}
