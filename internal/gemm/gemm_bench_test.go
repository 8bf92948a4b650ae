package gemm

import (
	"fmt"
	"testing"
)

// benchShapes are the M,N,K shapes bench/gemm.sh compares with OpenBLAS.
var benchShapes = [][3]int{
	{256, 768, 768}, {256, 2048, 768}, {256, 768, 2048}, {768, 768, 256},
	{256, 288, 288}, {256, 32000, 288}, {2048, 2048, 2048},
}

func BenchmarkSgemm(b *testing.B) {
	for _, th := range []int{1, 2} {
		for _, s := range benchShapes {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("t%d/%dx%dx%d", th, m, n, k), func(b *testing.B) {
				defer SetThreads(SetThreads(th))
				a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
				for i := range a {
					a[i] = float32(i%7) * 0.1
				}
				for i := range bb {
					bb[i] = float32(i%5) * 0.1
				}
				for b.Loop() {
					Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
