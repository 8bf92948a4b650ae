package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
)

// fusedCases are programs with the row fusions: a softmax computing its
// elementwise producer, a matmul whose result stays fp32 inside the group
// that reads it, and a reduction computing its elementwise producer.
var fusedCases = []struct {
	name  string
	c, s  int
	fewer bool    // the fused plans have fewer steps
	tol   float64 // default fused vs float64: half an ulp + tol*max|ref| (< 0: not checked, unfused roundings remain)
	build func(b *mil.Builder, x mil.Var, c, s int) mil.Var
}{
	{"attention", 64, 512, true, 2e-5, func(b *mil.Builder, x mil.Var, c, s int) mil.Var {
		// scores = Qᵀ·K * 0.25 + causal mask; softmax over keys
		q := b.Reshape(b.SliceBySize(x, []int{0, 0, 0, 0}, []int{1, 32, 1, s}), 1, 2, 16, s)
		k := b.Reshape(b.SliceBySize(x, []int{0, 32, 0, 0}, []int{1, 32, 1, s}), 1, 2, 16, s)
		sc := b.Mul(b.MatMul(q, k, true, false), b.FP16(0.25))
		mask := make([]float32, s*s)
		for i := range s {
			for j := i + 1; j < s; j++ {
				mask[i*s+j] = -65504
			}
		}
		m := b.Const(mil.Value{Type: mil.Tensor(mil.FP16, 1, 1, s, s), Floats: mask})
		p := b.Softmax(b.Add(sc, m), -1)
		return b.Reshape(p, 1, 2*s, 1, s)
	}},
	{"softmax_axis1_chain", 24, 1500, true, 2e-5, func(b *mil.Builder, x mil.Var, c, s int) mil.Var {
		// a chain of two ops and a broadcast partner, softmax over channels
		t := b.Sub(b.Mul(x, b.FP16(1.5)), b.SliceBySize(x, []int{0, 3, 0, 0}, []int{1, 1, 1, s}))
		return b.Softmax(t, 1)
	}},
	{"matmul_into_group", 32, 512, false, -1, func(b *mil.Builder, x mil.Var, c, s int) mil.Var {
		// attention-backward's dS = P * (dP - rowsum): dP a matmul
		a := b.Reshape(x, 1, 1, c, s)
		dp := b.MatMul(a, a, true, false) // [1,1,S,S]
		r := b.Reduce("reduce_sum", b.Mul(a, a), []int{2}, true)
		r = b.Transpose(r, 0, 1, 3, 2) // [1,1,S,1]
		p := b.Softmax(b.Mul(b.MatMul(a, a, true, false), b.FP16(0.125)), -1)
		return b.Reshape(b.Mul(p, b.Sub(dp, r)), 1, s, 1, s)
	}},
	{"reduce_last", 40, 3000, true, -1, func(b *mil.Builder, x mil.Var, c, s int) mil.Var {
		// attention backward's row sums: sum(dO * O) along the last axis
		y := b.SliceBySize(x, []int{0, 20, 0, 0}, []int{1, 20, 1, s})
		x0 := b.SliceBySize(x, []int{0, 0, 0, 0}, []int{1, 20, 1, s})
		r := b.Reduce("reduce_sum", b.Mul(x0, y), []int{3}, true)
		m := b.Reduce("reduce_max", b.Unary("exp", x0), []int{3}, true)
		return b.Sub(b.Sub(x0, r), m)
	}},
	{"reduce_chain", 64, 2048, false, -1, func(b *mil.Builder, x mil.Var, c, s int) mil.Var {
		// RMSNorm: x * rsqrt(mean(x*x over channels) + eps)
		ms := b.Reduce("reduce_mean", b.Mul(x, x), []int{1}, true)
		return b.Mul(x, b.Apply("rsqrt", mil.A("x", b.Add(ms, b.FP16(1e-3)))))
	}},
}

// TestFused: the fused plans agree with the float64 reference within half
// an fp16 ulp (plus fp32 accumulation), are no less accurate than the plain
// plans, have fewer steps, and in strict mode equal the plain plans bit for
// bit (strict rounds every op either way).
func TestFused(t *testing.T) {
	defer func() { noFusion = false }()
	for _, fc := range fusedCases {
		t.Run(fc.name, func(t *testing.T) {
			b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, fc.c, 1, fc.s))
			b.Output(fc.build(b, b.Input(), fc.c, fc.s))
			p, err := b.Program()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, uint64(fc.c)))
			x := make([]uint16, fc.c*fc.s)
			xf := make([]float64, len(x))
			for i := range x {
				x[i] = f16.FromFloat32(float32(rng.Float64()*4 - 2))
				xf[i] = float64(f16.ToFloat32(x[i]))
			}
			ref, err := refEval(p, xf, nil)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				out   []uint16
				steps int
			}
			runMode := func(strict, fuse bool) result {
				noFusion = !fuse
				dev := New(Options{Strict: strict, Threads: 2})
				k, err := dev.Compile(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				return result{run(t, dev, p, x), Steps(k)}
			}
			df, dp := runMode(false, true), runMode(false, false)
			sf, sp := runMode(true, true), runMode(true, false)
			if fc.fewer && df.steps >= dp.steps {
				t.Errorf("default: fused plan has %d steps, plain %d", df.steps, dp.steps)
			}
			if fc.fewer && sf.steps >= sp.steps {
				t.Errorf("strict: fused plan has %d steps, plain %d", sf.steps, sp.steps)
			}
			for i := range sf.out {
				if sf.out[i] != sp.out[i] {
					t.Fatalf("strict: element %d fused %g, plain %g", i, f16.ToFloat32(sf.out[i]), f16.ToFloat32(sp.out[i]))
				}
			}
			if err := withinHalfULP(df.out, ref, fc.tol); fc.tol >= 0 && err != nil {
				t.Errorf("default fused: %v", err)
			}
			ef, ep := maxErr(df.out, ref), maxErr(dp.out, ref)
			t.Logf("steps fused %d / plain %d (strict %d / %d); max error fused %.3g, plain %.3g, strict %.3g",
				df.steps, dp.steps, sf.steps, sp.steps, ef, ep, maxErr(sf.out, ref))
			if ef > ep*1.01+1e-7 {
				t.Errorf("fused max error %.3g exceeds the plain plan's %.3g", ef, ep)
			}
		})
	}
}

func maxErr(got []uint16, ref []float64) float64 {
	e := 0.0
	for i, r := range ref {
		e = max(e, math.Abs(float64(f16.ToFloat32(got[i]))-r))
	}
	return e
}

// TestFusedAllocs: the fused steps allocate nothing per Eval.
func TestFusedAllocs(t *testing.T) {
	for _, fc := range fusedCases {
		b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, fc.c, 1, fc.s))
		b.Output(fc.build(b, b.Input(), fc.c, fc.s))
		p, err := b.Program()
		if err != nil {
			t.Fatal(err)
		}
		for _, strict := range []bool{false, true} {
			k, err := New(Options{Strict: strict, Threads: 2}).Compile(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			bi, _ := k.NewBinding()
			bi.Eval()
			if n := sharedtest.AllocsPerRun(5, func() { bi.Eval() }); n != 0 {
				t.Errorf("%s strict=%v: Eval allocates %v times", fc.name, strict, n)
			}
			bi.Close()
		}
	}
	_ = anert.FLOPs
}
