package cpu

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/mil/milref"
)

var kernelNames = []string{"sdpaFwd", "woFwd", "ffnFused", "ffnBwdW2t", "ffnBwdW13t", "wotBwd", "qBwd", "kvBwd", "sdpaBwd1", "sdpaBwd2"}

func loadProgram(t testing.TB, path string) *mil.Program {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mil.Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// randomInput fills b's input surface with fp16 values uniform in
// [-scale, scale] and returns them as float64.
func randomInput(rng *rand.Rand, b anert.Binding, scale float64) []float64 {
	h := b.In().Halves()
	x := make([]float64, len(h))
	for i := range h {
		h[i] = f16.FromFloat32(float32((rng.Float64()*2 - 1) * scale))
		x[i] = float64(f16.ToFloat32(h[i]))
	}
	return x
}

// compareOut returns the largest absolute error, the largest error relative
// to max|ref|, and the largest error relative to |ref| (over elements with
// |ref| above 1% of max|ref|).
func compareOut(b anert.Binding, ref []float64) (maxAbs, maxScaled, maxRel float64) {
	got := make([]float32, len(ref))
	f16.Decode(got, b.Out().Halves())
	scale := 0.0
	for _, r := range ref {
		scale = max(scale, math.Abs(r))
	}
	for i, r := range ref {
		e := math.Abs(float64(got[i]) - r)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		maxAbs = max(maxAbs, e)
		if math.Abs(r) > 0.01*scale {
			maxRel = max(maxRel, e/math.Abs(r))
		}
	}
	return maxAbs, maxAbs / max(scale, 1e-30), maxRel
}

// TestConformance runs every research kernel of the small and smallgqa sets
// and compares it with milref.Eval (float64) on random input in [-1, 1].
// Tolerance: max |got - ref| <= 1% of max |ref| for each output (fp16
// storage between ops gives ~0.1-0.5%; accumulated over two chained GEMMs
// and a softmax).
func TestConformance(t *testing.T) {
	shared := sharedtest.Dir(t, "conformance/mil")
	dev := New(Options{})
	for _, set := range []string{"small", "smallgqa"} {
		for _, name := range kernelNames {
			t.Run(set+"/"+name, func(t *testing.T) {
				dir := filepath.Join(shared, "conformance", "mil", set)
				p := loadProgram(t, filepath.Join(dir, name+".mil"))
				blobs := anert.DirBlobs(dir)
				k, err := dev.Compile(p, blobs)
				if err != nil {
					t.Fatal(err)
				}
				b, err := k.NewBinding()
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				rng := rand.New(rand.NewPCG(1, uint64(len(name))))
				x := randomInput(rng, b, 1)
				if err := b.Eval(); err != nil {
					t.Fatal(err)
				}
				ref, err := milref.Eval(p, x, blobs)
				if err != nil {
					t.Fatal(err)
				}
				own, err := refEval(p, x, blobs)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ref { // the two float64 references agree
					if math.Abs(own[i]-ref[i]) > 1e-9*(1+math.Abs(ref[i])) {
						t.Fatalf("output %d: milref %g, test reference %g", i, ref[i], own[i])
					}
				}
				abs, scaled, rel := compareOut(b, ref)
				t.Logf("%s/%s: %d steps, max abs err %.3g, max err / max|ref| %.3g, max rel err %.3g", set, name, Steps(k), abs, scaled, rel)
				if !(scaled <= 0.01) {
					t.Errorf("max error %.3g of max|ref| exceeds 1%%", scaled)
				}
			})
		}
	}
}
