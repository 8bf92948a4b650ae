package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/mil/miltest"
)

// asKernel makes p's output a surface: a reshape to [1, n, 1, 1] when it
// is not already [1, C, 1, S].
func asKernel(p *mil.Program) *mil.Program {
	f := p.Main()
	sc, err := mil.NewScope(f)
	if err != nil {
		panic(err)
	}
	t, _ := sc.Type(f.Outputs[0])
	if _, ok := surfaceShape(t); ok {
		return p
	}
	n := t.Elems()
	shape := mil.Value{Type: mil.Tensor(mil.Int32, 4), Ints: []int64{1, int64(n), 1, 1}}
	f.Ops = append(f.Ops,
		&mil.Op{Result: "kshape__", Type: shape.Type, Kind: "const", Name: "kshape__", Val: &shape},
		&mil.Op{Result: "kout__", Type: mil.Tensor(mil.FP16, 1, n, 1, 1), Kind: "reshape", Name: "kout__",
			Args: []mil.Arg{{Name: "x", Refs: []string{f.Outputs[0]}}, {Name: "shape", Refs: []string{"kshape__"}}}})
	f.Outputs = []string{"kout__"}
	return p
}

func run(t *testing.T, dev anert.Device, p *mil.Program, x []uint16) []uint16 {
	t.Helper()
	k, err := dev.Compile(p, nil)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, mil.Print(p))
	}
	b, err := k.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	copy(b.In().Halves(), x)
	if err := b.Eval(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(b.Out().Halves())
}

// TestRandomPrograms: for random well-typed programs, build -> run equals
// build -> print -> parse -> run bit for bit, in default and strict
// precision, and both agree with the float64 reference.
func TestRandomPrograms(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	def, strict := New(Options{Threads: 2}), New(Options{Strict: true, Threads: 1})
	worst := map[string]float64{}
	for seed := range n {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		p := asKernel(miltest.RandomProgram(rng, miltest.Options{}))
		q, err := mil.Parse(mil.Print(p))
		if err != nil {
			t.Fatalf("seed %d: parse of printed program: %v", seed, err)
		}
		in := p.Main().Inputs[0].Type
		x := make([]uint16, in.Elems())
		xf := make([]float64, len(x))
		for i := range x {
			x[i] = f16.FromFloat32(float32(rng.Float64()*4 - 2))
			xf[i] = float64(f16.ToFloat32(x[i]))
		}
		for _, mode := range []struct {
			name string
			dev  anert.Device
		}{{"default", def}, {"strict", strict}} {
			a := run(t, mode.dev, p, x)
			b := run(t, mode.dev, q, x)
			if !slices.Equal(a, b) {
				t.Fatalf("seed %d %s: printed and parsed program gives different output\n%s", seed, mode.name, mil.Print(p))
			}
			ref, err := refEval(p, xf, nil)
			if err != nil {
				t.Fatal(err)
			}
			scale := 0.0
			for _, r := range ref {
				scale = max(scale, math.Abs(r))
			}
			worstErr := 0.0
			for i, r := range ref {
				g := float64(f16.ToFloat32(a[i]))
				e := math.Abs(g - r)
				if math.IsNaN(g) != math.IsNaN(r) || (!math.IsNaN(r) && !(e <= 0.02*scale+1e-3)) {
					t.Fatalf("seed %d %s: output %d = %g, reference %g (max|ref| %g)\n%s", seed, mode.name, i, g, r, scale, mil.Print(p))
				}
				if !math.IsNaN(e) {
					worstErr = max(worstErr, e/max(scale, 1e-3))
				}
			}
			worst[mode.name] = max(worst[mode.name], worstErr)
		}
	}
	t.Logf("%d programs: worst error / max|ref|: default %.3g, strict %.3g", n, worst["default"], worst["strict"])
}
