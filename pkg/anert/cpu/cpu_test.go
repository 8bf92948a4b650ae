package cpu

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/cpu"
	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
)

func TestRoundHalf(t *testing.T) {
	check := func(v float32) {
		got, want := roundHalf(v), f16.Round(v)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("roundHalf(%g = %#x) = %g, want %g", v, math.Float32bits(v), got, want)
		}
	}
	// every exponent region with a dense sweep of mantissas, both signs
	for b := uint32(0); b < 1<<31; b += 0x1fff + 4 {
		check(math.Float32frombits(b))
		check(math.Float32frombits(b | 1<<31))
	}
	for _, v := range []float32{65504, 65519.99, 65520, 65536, 6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08,
		float32(math.Inf(1)), float32(math.NaN())} {
		check(v)
		check(-v)
	}
	// halfway cases: the exact midpoints between neighbouring halves
	for h := uint16(0); h < 0x7bff; h++ {
		a, b := f16.ToFloat32(h), f16.ToFloat32(h+1)
		check((a + b) / 2)
	}
}

func TestRoundHalves(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	x := make([]float32, 100003)
	for i := range x {
		x[i] = math.Float32frombits(rng.Uint32())
	}
	y := append([]float32(nil), x...)
	roundHalves(y, make([]uint16, 100))
	for i, v := range x {
		want := roundHalf(v)
		if math.Float32bits(y[i]) != math.Float32bits(want) && !(want != want && y[i] != y[i]) {
			t.Fatalf("roundHalves(%g) = %g, want %g", v, y[i], want)
		}
	}
}

func TestExpf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		x := float32(rng.Float64()*200 - 110)
		got, want := float64(expf(x)), math.Exp(float64(x))
		if want < math.SmallestNonzeroFloat32*(1<<23) { // float32 subnormals: absolute
			if math.Abs(got-want) > 2*math.SmallestNonzeroFloat32 {
				t.Fatalf("expf(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("expf(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		if math.Abs(got-want) > 2.5e-7*want {
			t.Fatalf("expf(%g) = %g, want %g (rel err %.3g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) || expf(float32(math.Inf(-1))) != 0 {
		t.Error("expf special values")
	}
}

func TestReshapeView(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		// a random permuted, sliced view of a dense buffer
		base := []int{1 + rng.IntN(4), 1 + rng.IntN(4), 1 + rng.IntN(4), 1 + rng.IntN(4)}
		v := denseView(0, base)
		begin := make([]int, 4)
		size := make([]int, 4)
		for i, d := range base {
			size[i] = 1 + rng.IntN(d)
			begin[i] = rng.IntN(d - size[i] + 1)
		}
		v = v.slice(begin, size).transpose(rng.Perm(4))
		n := elems(v.shape)
		ns := randomShapeOf(rng, n)
		w, ok := v.reshape(ns)
		// reference: the flat order of v's elements
		flat := offsets(v)
		if ok {
			got := offsets(w)
			for i := range flat {
				if got[i] != flat[i] {
					t.Fatalf("reshape %v st %v to %v: element %d at %d, want %d", v.shape, v.st, ns, i, got[i], flat[i])
				}
			}
		}
		if isDense(flat) && !ok {
			t.Fatalf("reshape of a contiguous view %v st %v to %v refused", v.shape, v.st, ns)
		}
	}
}

func offsets(v view) []int {
	n := elems(v.shape)
	out := make([]int, n)
	idx := make([]int, len(v.shape))
	for i := range out {
		unravel(i, v.shape, idx)
		o := v.off
		for k := range idx {
			o += idx[k] * v.st[k]
		}
		out[i] = o
	}
	return out
}

func isDense(o []int) bool {
	for i := 1; i < len(o); i++ {
		if o[i] != o[i-1]+1 {
			return false
		}
	}
	return true
}

func randomShapeOf(rng *rand.Rand, n int) []int {
	r := 1 + rng.IntN(5)
	s := make([]int, r)
	for i := range s {
		s[i] = 1
	}
	for f := 2; n > 1; {
		if n%f == 0 {
			s[rng.IntN(r)] *= f
			n /= f
		} else {
			f++
		}
	}
	return s
}

func tinyAdd(t testing.TB, c, s int) *mil.Program {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, c, 1, s))
	b.Output(b.Add(b.Input(), b.FP16(1)))
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompileOnceEvalMany(t *testing.T) {
	dev, err := anert.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	k, err := dev.Compile(tinyAdd(t, 8, 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	var bs []anert.Binding
	for range 3 {
		b, err := k.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	for step := range 50 {
		for i, b := range bs {
			b.In().WriteRegion(b.In().All(), filled(8*16, float32(step+i)))
			if err := b.Eval(); err != nil {
				t.Fatal(err)
			}
			out := make([]float32, 8*16)
			b.Out().ReadRegion(b.Out().All(), out)
			if out[5] != float32(step+i+1) {
				t.Fatalf("step %d binding %d: got %g", step, i, out[5])
			}
		}
	}
	if dev.Compiles() != 1 {
		t.Errorf("Compiles() = %d after one compile and 150 evals, want 1", dev.Compiles())
	}
	for _, b := range bs {
		b.Close()
	}
	if err := bs[0].Eval(); err == nil {
		t.Error("Eval after Close succeeded")
	}
}

func filled(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	dev := New(Options{})
	// output not a surface
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 4, 1, 4))
	b.Output(b.Reshape(b.Input(), 4, 4))
	p, _ := b.Program()
	if _, err := dev.Compile(p, nil); err == nil {
		t.Error("compiled a program whose output is not [1,C,1,S]")
	}
	// a blob without a source
	b = mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 4, 1, 4))
	w := b.Blob(mil.Tensor(mil.FP16, 1, 4, 1, 4), "@model_path/weights/w.bin", 64)
	b.Output(b.Add(b.Input(), w))
	p, _ = b.Program()
	if _, err := dev.Compile(p, nil); err == nil {
		t.Error("compiled a BLOBFILE const without a BlobSource")
	}
	if _, err := dev.Compile(p, anert.MapBlobs(map[string][]byte{"@model_path/weights/w.bin": make([]byte, 100)})); err == nil {
		t.Error("compiled a BLOBFILE const from a truncated blob file")
	}
	if dev.Compiles() != 0 {
		t.Errorf("failed compiles counted: %d", dev.Compiles())
	}
}

// TestEvalAllocs: Eval allocates nothing, for a tiny kernel and for the
// research kernels (which use every kind of step).
func TestEvalAllocs(t *testing.T) {
	dev := New(Options{Threads: 2})
	check := func(name string, p *mil.Program, blobs anert.BlobSource) {
		k, err := dev.Compile(p, blobs)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.NewBinding()
		defer b.Close()
		b.Eval()
		if n := sharedtest.AllocsPerRun(5, func() { b.Eval() }); n != 0 {
			t.Errorf("%s: Eval allocates %v times", name, n)
		}
	}
	check("add", tinyAdd(t, 64, 64), nil)
	shared := sharedtest.Dir(t, "conformance/mil")
	for _, name := range kernelNames {
		dir := filepath.Join(shared, "conformance", "mil", "small")
		check(name, loadProgram(t, filepath.Join(dir, name+".mil")), anert.DirBlobs(dir))
	}
}

func BenchmarkDispatchAdd64x64(b *testing.B) {
	dev := New(Options{})
	k, err := dev.Compile(tinyAdd(b, 64, 64), nil)
	if err != nil {
		b.Fatal(err)
	}
	bind, _ := k.NewBinding()
	defer bind.Close()
	b.ReportAllocs()
	for b.Loop() {
		bind.Eval()
	}
}

// BenchmarkDispatchAdd1x1 is the fixed cost of one Eval of a one-step kernel.
func BenchmarkDispatchAdd1x1(b *testing.B) {
	k, err := New(Options{}).Compile(tinyAdd(b, 1, 1), nil)
	if err != nil {
		b.Fatal(err)
	}
	bind, _ := k.NewBinding()
	defer bind.Close()
	b.ReportAllocs()
	for b.Loop() {
		bind.Eval()
	}
}

// TestOutputCases: outputs that are the input itself, a constant, a view
// of the input, or a value other ops also read.
func TestOutputCases(t *testing.T) {
	dev := New(Options{})
	in := mil.Tensor(mil.FP16, 1, 3, 1, 4)
	build := map[string]func(b *mil.Builder) mil.Var{
		"identity": func(b *mil.Builder) mil.Var { return b.Input() },
		"const": func(b *mil.Builder) mil.Var {
			return b.Const(mil.Value{Type: in, Floats: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}})
		},
		"view": func(b *mil.Builder) mil.Var {
			return b.Reshape(b.Transpose(b.Reshape(b.Input(), 1, 1, 3, 4), 0, 1, 3, 2), 1, 3, 1, 4)
		},
		"shared": func(b *mil.Builder) mil.Var {
			e := b.Unary("exp", b.Input())
			s := b.Add(e, e)
			_ = b.Mul(s, e) // dead, but e has several uses
			return e
		},
	}
	for name, f := range build {
		b := mil.NewBuilder("main", in)
		b.Output(f(b))
		p, err := b.Program()
		if err != nil {
			t.Fatal(err)
		}
		x := make([]uint16, 12)
		xf := make([]float64, 12)
		for i := range x {
			x[i] = f16.FromFloat32(float32(i) / 8)
			xf[i] = float64(i) / 8
		}
		got := run(t, dev, p, x)
		ref, err := refEval(p, xf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := withinHalfULP(got, ref, 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestExpAffine: the bulk exp (AVX-512 where present, else Go) is within
// 3 float32 ulps of math.Exp over the whole range, exact at the edges
// (0 below the subnormals, +Inf above MaxFloat32, NaN for NaN), and its
// sum is the sum of its results.
func TestExpAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, impl := range []string{"asm", "go"} {
		if impl == "go" && expAsm() {
			restore := cpu.DisableAVX512()
			defer restore()
		}
		const n = 4099
		x := make([]float32, n)
		y := make([]float32, n)
		for round := range 50 {
			for i := range x {
				x[i] = float32(rng.Float64()*200 - 110)
				if round == 0 {
					x[i] = float32(i)/n*40 - 20
				}
			}
			a, b := float32(1), float32(0)
			if round%2 == 1 {
				a, b = -1, 0.5
				for i := range x { // no overflow: the sum is finite
					x[i] = max(x[i], -80)
				}
			} else {
				x[3], x[17], x[40], x[41] = float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), -1e30
			}
			sum := expAffine(y, x, a, b)
			var want64 float64
			for i, v := range x {
				arg := a*v + b
				got, want := float64(y[i]), math.Exp(float64(arg))
				switch {
				case arg != arg:
					if !math.IsNaN(got) {
						t.Fatalf("%s: exp(NaN) = %g", impl, got)
					}
					continue
				case want > math.MaxFloat32:
					if !math.IsInf(got, 1) {
						t.Fatalf("%s: exp(%g) = %g, want +Inf", impl, arg, got)
					}
				case want < math.SmallestNonzeroFloat32*(1<<23):
					if math.Abs(got-want) > 2*math.SmallestNonzeroFloat32 {
						t.Fatalf("%s: exp(%g) = %g, want %g", impl, arg, got, want)
					}
				default:
					if e := math.Abs(got-want) / want; e > 3.6e-7 {
						t.Fatalf("%s: exp(%g) = %g, want %g (rel err %.3g)", impl, arg, got, want, e)
					}
				}
				if !math.IsInf(got, 0) && !math.IsNaN(got) {
					want64 += got
				}
			}
			if round%2 == 1 && math.Abs(float64(sum)-want64) > 1e-5*want64 {
				t.Fatalf("%s: sum %g, want %g", impl, sum, want64)
			}
		}
	}
}
