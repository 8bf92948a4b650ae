package main

import (
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/mil"
)

// The harness end to end, with the strict CPU backend standing in for the
// device: every kernel runs, agrees within 1e-2, and the differences that
// fp16 rounding makes are seen (not all zero).
func TestCheckSelfTest(t *testing.T) {
	dir := filepath.Join(sharedtest.Path(t, "conformance", "mil"), "small")
	files, err := milFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := checkFiles(files, checkOptions{device: "cpu-strict", tol: 1e-2, scale: 1, seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kernels) != 10 || res.Compiles != 10 {
		t.Fatalf("%d kernels, %d compiles, want 10", len(res.Kernels), res.Compiles)
	}
	var anyDiff bool
	for _, k := range res.Kernels {
		if k.Error != "" || !k.Pass {
			t.Errorf("%s: pass %v, error %q, rel %g", k.File, k.Pass, k.Error, k.MaxRel)
		}
		anyDiff = anyDiff || k.MaxAbs > 0
	}
	if !anyDiff {
		t.Error("strict and default CPU agree bit for bit on every kernel: the comparison sees nothing")
	}
}

func TestCheckNoANE(t *testing.T) {
	if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
		t.Skip("the ane backend may exist here")
	}
	_, err := checkFiles(nil, checkOptions{device: "ane", tol: 1e-2, scale: 1})
	var na noANE
	if !errors.As(err, &na) || !errors.Is(err, anert.ErrUnavailable) {
		t.Errorf("checkFiles on ane = %v, want noANE wrapping ErrUnavailable", err)
	}
}

func TestCompareOutputs(t *testing.T) {
	want := []float32{1, -2, 4, 0}
	cases := []struct {
		got         []float32
		pass, zeros bool
		nonFinite   int
		maxAbs, rel float64
	}{
		{[]float32{1, -2, 4, 0}, true, false, 0, 0, 0},
		{[]float32{1, -2, 4.02, 0}, true, false, 0, 0.02, 0.005},
		{[]float32{1, -2, 4.2, 0}, false, false, 0, 0.2, 0.05},
		{[]float32{0, 0, 0, 0}, false, true, 0, 4, 1},
		{[]float32{1, float32(math.NaN()), 4, float32(math.Inf(1))}, false, false, 2, 0, 0},
	}
	for i, c := range cases {
		var k checkKernel
		if err := compareOutputs(&k, c.got, want, 1e-2); err != nil {
			t.Fatal(err)
		}
		if k.Pass != c.pass || k.Zeros != c.zeros || k.NonFinite != c.nonFinite ||
			math.Abs(k.MaxAbs-c.maxAbs) > 1e-6 || math.Abs(k.MaxRel-c.rel) > 1e-6 || k.RefMax != 4 {
			t.Errorf("case %d: %+v", i, k)
		}
	}
	var k checkKernel
	if err := compareOutputs(&k, []float32{0}, []float32{float32(math.Inf(1))}, 1); err == nil {
		t.Error("non-finite reference accepted")
	}
}

func TestBlobSourceOverride(t *testing.T) {
	small := filepath.Join(sharedtest.Path(t, "conformance", "mil"), "small")
	a, err := blobSource(small, "")("@model_path/weights/mask.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := blobSource("/nonexistent", filepath.Join(small, "weights"))("@model_path/weights/mask.bin")
	if err != nil || string(a) != string(b) {
		t.Errorf("--weights override: %v", err)
	}
}

// The peak program computes W^depth x: checked against float64 on the CPU
// backend for both weight placements, and its FLOPs are 2*depth*C*C*S.
func TestPeakProgram(t *testing.T) {
	for _, cnst := range []bool{false, true} {
		s := peakSpec{C: 64, S: 64, Depth: 3, Const: cnst}
		pk, err := peakProgram(s, 7)
		if err != nil {
			t.Fatal(err)
		}
		if vs := mil.Validate(pk.prog); len(vs) > 0 {
			t.Errorf("const=%v: the peak program breaks ANE rules: %v", cnst, vs)
		}
		n, err := mil.CountFLOPs(pk.prog)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(2 * s.Depth * s.C * s.C * s.S); n.Matrix != want {
			t.Errorf("const=%v: %d FLOPs, want %d", cnst, n.Matrix, want)
		}
		dev := cpu.New(cpu.Options{})
		k, err := dev.Compile(pk.prog, pk.blobs)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.In().WriteRegion(b.In().All(), pk.in); err != nil {
			t.Fatal(err)
		}
		if err := b.Eval(); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, s.C*s.S)
		if err := b.Out().ReadRegion(b.Out().All(), got); err != nil {
			t.Fatal(err)
		}
		y := make([]float64, len(pk.x))
		for i, v := range pk.x {
			y[i] = float64(v)
		}
		for range s.Depth {
			z := make([]float64, len(y))
			for j := 0; j < s.C; j++ {
				for kk := 0; kk < s.C; kk++ {
					w := float64(pk.w[j*s.C+kk])
					for p := 0; p < s.S; p++ {
						z[j*s.S+p] += w * y[kk*s.S+p]
					}
				}
			}
			y = z
		}
		var maxAbs, maxRef float64
		for i := range y {
			maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-y[i]))
			maxRef = math.Max(maxRef, math.Abs(y[i]))
		}
		if maxRef < 0.1 || maxAbs/maxRef > 5e-3 {
			t.Errorf("const=%v: max abs err %g of max %g", cnst, maxAbs, maxRef)
		}
		if !outputOK(got) {
			t.Errorf("const=%v: output not ok", cnst)
		}
	}
	if outputOK([]float32{0, 0}) || outputOK([]float32{1, float32(math.NaN())}) || !outputOK([]float32{0, 1}) {
		t.Error("outputOK")
	}
}
