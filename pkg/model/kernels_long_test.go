//go:build long

package model

import (
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
)

// go test -tags long -run Stories110M -bench Stories110M ./pkg/model

func stories110m(t testing.TB) Config {
	c, err := LoadConfig(filepath.Join(sharedtest.Root(t), "examples", "models", "stories110m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStories110MKernels checks every stories110m kernel (S = 1024)
// against the float64 definitions, as TestKernelsMatchReference does for
// the small shapes.
func TestStories110MKernels(t *testing.T) {
	c := stories110m(t)
	c.NLayers = 1 // the kernels are the same for every layer
	ks, err := BuildKernels(c)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := anert.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	w := kernelWeights(c, 11)
	for i, k := range ks.Kernels {
		t.Run(k.Name, func(t *testing.T) { checkKernel(t, dev, ks, k, w, int64(i)) })
	}
}

func BenchmarkStories110MKernels(b *testing.B) {
	c := stories110m(b)
	c.NLayers = 1
	ks, err := BuildKernels(c)
	if err != nil {
		b.Fatal(err)
	}
	dev, err := anert.Open("cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	for _, k := range ks.Kernels {
		b.Run(k.Name, func(b *testing.B) {
			kern, err := dev.Compile(k.Program, ks.BlobSource())
			if err != nil {
				b.Fatal(err)
			}
			defer kern.Close()
			bd, err := kern.NewBinding()
			if err != nil {
				b.Fatal(err)
			}
			defer bd.Close()
			for b.Loop() {
				if err := bd.Eval(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(k.FLOPs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
