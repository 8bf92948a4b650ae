package cpu

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
)

// BenchmarkKernels runs every research kernel of each conformance set
// (small, smallgqa, stories110m, qwen3_06b) and reports GFLOPS from
// anert.FLOPs. Only with -bench:
//
//	go test ./pkg/anert/cpu -run '^$' -bench Kernels/stories110m
func BenchmarkKernels(b *testing.B) {
	shared := sharedtest.Dir(b, "conformance/mil")
	for _, set := range []string{"small", "smallgqa", "stories110m", "qwen3_06b"} {
		for _, name := range kernelNames {
			b.Run(set+"/"+name, func(b *testing.B) {
				dir := filepath.Join(shared, "conformance", "mil", set)
				p := loadProgram(b, filepath.Join(dir, name+".mil"))
				flops, err := anert.FLOPs(p)
				if err != nil {
					b.Fatal(err)
				}
				k, err := New(Options{}).Compile(p, anert.DirBlobs(dir))
				if err != nil {
					b.Fatal(err)
				}
				bind, err := k.NewBinding()
				if err != nil {
					b.Fatal(err)
				}
				defer bind.Close()
				randomInput(rand.New(rand.NewPCG(1, 1)), bind, 0.1)
				bind.Eval()
				out := make([]float32, len(bind.Out().Halves()))
				f16.Decode(out, bind.Out().Halves())
				for i, v := range out {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						b.Fatalf("output %d is %g", i, v)
					}
				}
				b.ResetTimer()
				for b.Loop() {
					bind.Eval()
				}
				b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
