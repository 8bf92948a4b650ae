package cpu_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/model"
)

// BenchmarkBundle runs the kernels pkg/model generates for the example
// models (examples/models/{tiny,stories110m}.yaml), the ones `ane-bench
// bundle` times, and reports GFLOPS. Only with -bench:
//
//	go test ./pkg/anert/cpu -run '^$' -bench Bundle/tiny
func BenchmarkBundle(b *testing.B) {
	root := sharedtest.Root(b)
	for _, name := range []string{"tiny", "stories110m"} {
		c, err := model.LoadConfig(filepath.Join(root, "examples", "models", name+".yaml"))
		if err != nil {
			b.Fatal(err)
		}
		ks, err := model.BuildKernels(c)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range ks.Kernels {
			b.Run(name+"/"+k.Name, func(b *testing.B) {
				kern, err := cpu.New(cpu.Options{}).Compile(k.Program, ks.BlobSource())
				if err != nil {
					b.Fatal(err)
				}
				bind, err := kern.NewBinding()
				if err != nil {
					b.Fatal(err)
				}
				defer bind.Close()
				rng := rand.New(rand.NewPCG(1, 2))
				h := bind.In().Halves()
				for i := range h {
					h[i] = f16.FromFloat32(float32(rng.Float64()*0.2 - 0.1))
				}
				flops, err := anert.FLOPs(k.Program)
				if err != nil {
					b.Fatal(err)
				}
				bind.Eval()
				b.ResetTimer()
				for b.Loop() {
					bind.Eval()
				}
				b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
