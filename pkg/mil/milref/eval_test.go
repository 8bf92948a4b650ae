package milref

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/mil/miltest"
)

// run builds a program with b's function body and evaluates it on in.
func run(t *testing.T, in mil.Type, data []float64, body func(b *mil.Builder, x mil.Var) mil.Var) ([]float64, mil.Type) {
	t.Helper()
	b := mil.NewBuilder("main", in)
	y := body(b, b.Input())
	b.Output(y)
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	// Evaluate the printed and re-parsed program: the text is what backends get.
	q, err := mil.Parse(mil.Print(p))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Eval(q, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, y.Type
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*(1+math.Abs(b[i])) {
			return false
		}
	}
	return true
}

func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i + 1)
	}
	return v
}

func TestOps(t *testing.T) {
	f16 := func(s ...int) mil.Type { return mil.Tensor(mil.FP16, s...) }
	x23 := seq(6) // [[1,2,3],[4,5,6]]
	s1, s3, s6 := math.Exp(1), math.Exp(3), math.Exp(6)
	cases := []struct {
		name  string
		in    mil.Type
		data  []float64
		body  func(b *mil.Builder, x mil.Var) mil.Var
		want  []float64
		shape []int
	}{
		{"slice", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.SliceBySize(x, []int{1, 1}, []int{1, -1})
		}, []float64{5, 6}, []int{1, 2}},
		{"reshape", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Reshape(x, 3, 2) }, x23, []int{3, 2}},
		{"transpose", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Transpose(x, 1, 0) }, []float64{1, 4, 2, 5, 3, 6}, []int{3, 2}},
		{"matmul x·xᵀ", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.MatMul(x, x, false, true) }, []float64{14, 32, 32, 77}, []int{2, 2}},
		{"matmul xᵀ·x", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.MatMul(x, x, true, false) },
			[]float64{17, 22, 27, 22, 29, 36, 27, 36, 45}, []int{3, 3}},
		{"matmul batch broadcast", f16(2, 1, 1, 2), []float64{1, 2, 3, 4}, func(b *mil.Builder, x mil.Var) mil.Var {
			y := b.Reshape(x, 1, 2, 2, 1) // two [2,1] matrices: (1,2)ᵀ and (3,4)ᵀ
			return b.MatMul(x, y, false, false)
		}, []float64{5, 11, 11, 25}, []int{2, 2, 1, 1}},
		{"conv 1x1", f16(1, 2, 1, 3), seq(6), func(b *mil.Builder, x mil.Var) mil.Var {
			w := b.Reshape(b.SliceBySize(b.Reshape(x, 6), []int{0}, []int{4}), 2, 2, 1, 1) // [[1,2],[3,4]]
			return b.Conv(x, w, mil.ConvOptions{})
		}, []float64{9, 12, 15, 19, 26, 33}, []int{1, 2, 1, 3}},
		{"conv 3x3 same, groups 2, bias", f16(1, 2, 2, 2), []float64{1, 2, 3, 4, 10, 20, 30, 40}, func(b *mil.Builder, x mil.Var) mil.Var {
			ones := b.Reshape(b.Concat(0, false, b.Reshape(b.Unary("sigmoid", b.Mul(x, b.FP16(100))), 8), b.Reshape(b.Unary("sigmoid", b.Mul(x, b.FP16(100))), 8), b.Reshape(b.Unary("sigmoid", b.Mul(x, b.FP16(100))), 8)), 24)
			w := b.Reshape(b.SliceBySize(ones, []int{0}, []int{18}), 2, 1, 3, 3) // all ≈1
			bias := b.SliceBySize(b.Reshape(x, 8), []int{0}, []int{2})           // (1, 2)
			return b.Conv(x, w, mil.ConvOptions{PadType: "same", Groups: 2, Bias: &bias})
		}, []float64{11, 11, 11, 11, 102, 102, 102, 102}, []int{1, 2, 2, 2}},
		{"conv strided dilated custom pad", f16(1, 1, 1, 5), seq(5), func(b *mil.Builder, x mil.Var) mil.Var {
			w := b.Reshape(b.SliceBySize(x, []int{0, 0, 0, 0}, []int{1, 1, 1, 2}), 1, 1, 1, 2) // (1,2)
			return b.Conv(x, w, mil.ConvOptions{PadType: "custom", Pad: []int{0, 0, 1, 0}, Strides: []int{1, 2}, Dilations: []int{1, 2}})
		}, []float64{0*1 + 2*2, 2*1 + 4*2}, []int{1, 1, 1, 2}},
		{"add broadcast", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Add(x, b.SliceBySize(x, []int{0, 0}, []int{2, 1}))
		}, []float64{2, 3, 4, 8, 9, 10}, []int{2, 3}},
		{"sub scalar", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Sub(b.FP16(1), x) }, []float64{0, -1, -2, -3, -4, -5}, []int{2, 3}},
		{"mul row", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Mul(x, b.SliceBySize(x, []int{1, 0}, []int{1, 3}))
		}, []float64{4, 10, 18, 16, 25, 36}, []int{2, 3}},
		{"real_div", f16(2), []float64{1, 3}, func(b *mil.Builder, x mil.Var) mil.Var { return b.RealDiv(x, b.FP16(2)) }, []float64{0.5, 1.5}, []int{2}},
		{"maximum minimum", f16(3), []float64{-1, 0.5, 2}, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Minimum(b.Maximum(x, b.FP16(0)), b.FP16(1))
		}, []float64{0, 0.5, 1}, []int{3}},
		{"pow", f16(2), []float64{4, 9}, func(b *mil.Builder, x mil.Var) mil.Var { return b.Pow(x, b.FP16(-0.5)) }, []float64{0.5, 1.0 / 3}, []int{2}},
		{"softmax axis 0", f16(2, 3), []float64{0, 1, 3, 0, 3, 6}, func(b *mil.Builder, x mil.Var) mil.Var { return b.Softmax(x, 0) },
			[]float64{0.5, 1 / (1 + math.Exp(2)), 1 / (1 + s3), 0.5, 1 / (1 + math.Exp(-2)), 1 / (1 + 1/s3)}, []int{2, 3}},
		{"softmax last", f16(1, 3), []float64{0, 1, 6}, func(b *mil.Builder, x mil.Var) mil.Var { return b.Softmax(x, -1) },
			[]float64{1 / (1 + s1 + s6), s1 / (1 + s1 + s6), s6 / (1 + s1 + s6)}, []int{1, 3}},
		{"concat", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Concat(1, false, x, b.SliceBySize(x, []int{0, 0}, []int{2, 1}))
		}, []float64{1, 2, 3, 1, 4, 5, 6, 4}, []int{2, 4}},
		{"concat interleave", f16(3, 1), []float64{1, 3, 5}, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Concat(0, true, x, b.Add(x, b.FP16(1)))
		}, []float64{1, 2, 3, 4, 5, 6}, []int{6, 1}},
		{"reduce_sum keep", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Reduce("reduce_sum", x, []int{1}, true) }, []float64{6, 15}, []int{2, 1}},
		{"reduce_mean", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Reduce("reduce_mean", x, []int{0}, false) }, []float64{2.5, 3.5, 4.5}, []int{3}},
		{"reduce_max all", f16(2, 3), x23, func(b *mil.Builder, x mil.Var) mil.Var { return b.Reduce("reduce_max", x, []int{-1, 0}, false) }, []float64{6}, nil},
		{"rsqrt sqrt square", f16(2), []float64{4, 16}, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Mul(b.Unary("rsqrt", x), b.Unary("square", b.Unary("sqrt", x)))
		}, []float64{2, 4}, []int{2}},
		{"sigmoid silu relu", f16(2), []float64{-1, 2}, func(b *mil.Builder, x mil.Var) mil.Var {
			return b.Add(b.Unary("silu", x), b.Add(b.Unary("sigmoid", x), b.Unary("relu", x)))
		}, []float64{-1/(1+math.E) + 1/(1+math.E), 2/(1+math.Exp(-2)) + 1/(1+math.Exp(-2)) + 2}, []int{2}},
		{"exp tanh", f16(2), []float64{0, 1}, func(b *mil.Builder, x mil.Var) mil.Var { return b.Add(b.Unary("exp", x), b.Unary("tanh", x)) },
			[]float64{1, math.E + math.Tanh(1)}, []int{2}},
		{"cast", f16(3), []float64{-1.5, 0.25, 2.75}, func(b *mil.Builder, x mil.Var) mil.Var { return b.Cast(b.Cast(x, mil.Int32), mil.FP16) },
			[]float64{-1, 0, 2}, []int{3}},
	}
	for _, c := range cases {
		got, typ := run(t, c.in, c.data, c.body)
		if !near(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		if len(typ.Shape) != len(c.shape) || !typ.Equal(mil.Type{DType: typ.DType, Tensor: typ.Tensor, Shape: c.shape}) && len(c.shape) > 0 {
			t.Errorf("%s: type %s, want shape %v", c.name, typ, c.shape)
		}
	}
}

// TestConformanceEval evaluates the small and smallgqa programs on random
// input with the sets' weight blobs, and checks woFwd against y = Wᵀ·a
// computed directly.
func TestConformanceEval(t *testing.T) {
	dir := sharedtest.Dir(t, "conformance/mil")
	for _, set := range []string{"small", "smallgqa"} {
		files, _ := filepath.Glob(filepath.Join(dir, "conformance", "mil", set, "*.mil"))
		if len(files) != 10 {
			t.Fatalf("%s: %d programs, want 10", set, len(files))
		}
		blobs := func(path string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, "conformance", "mil", set, strings.TrimPrefix(path, "@model_path/")))
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := mil.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			in := p.Main().Inputs[0].Type
			x := make([]float64, in.Elems())
			state := uint64(len(f))
			for i := range x {
				state = state*6364136223846793005 + 1442695040888963407
				x[i] = float64(int64(state>>40)%2001-1000) / 4000
			}
			out, err := Eval(p, x, blobs)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for i, v := range out {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s: output %d is %g", f, i, v)
				}
			}
			if filepath.Base(f) == "woFwd.mil" {
				// in [1,QD,1,S+D]: a = [0,S), Woᵀ region [S,S+D) on channel c holds Wo[0..D-1][c].
				qd, w := in.Shape[1], in.Shape[3]
				s := 64
				d := w - s
				for o := 0; o < d; o++ {
					for tk := 0; tk < s; tk++ {
						sum := 0.0
						for c := 0; c < qd; c++ {
							sum += x[c*w+s+o] * x[c*w+tk]
						}
						if g := out[o*s+tk]; math.Abs(g-sum) > 1e-9 {
							t.Fatalf("%s: out[%d,%d] = %g, want %g", f, o, tk, g, sum)
						}
					}
				}
			}
		}
	}
}

func TestRandomProgramsEvaluate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100; i++ {
		p := miltest.RandomProgram(rng, miltest.Options{})
		in := p.Main().Inputs[0].Type
		x := make([]float64, in.Elems())
		for j := range x {
			x[j] = rng.Float64()*4 - 2
		}
		out, err := Eval(p, x, nil)
		if err != nil {
			t.Fatalf("program %d: %v\n%s", i, err, mil.Print(p))
		}
		for _, v := range out {
			if math.IsNaN(v) {
				t.Fatalf("program %d: NaN output\n%s", i, mil.Print(p))
			}
		}
	}
}
