//go:build amd64 && !purego

package gemm

import "testing"

// BenchmarkKernel512 times the AVX-512 micro-kernel alone on L1/L2-resident
// panels: the ceiling the driver works towards.
func BenchmarkKernel512(b *testing.B) {
	k := 384
	a, bp, c := make([]float32, 14*k), make([]float32, 32*k*10), make([]float32, 14*32*10)
	for b.Loop() {
		for j := 0; j < 10; j++ {
			run512(14, k, a, bp[j*32*k:], c[j*32:], 320, 1, 1)
		}
	}
	b.ReportMetric(2*14*32*float64(k)*10*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkKernel256(b *testing.B) {
	k := 384
	a, bp, c := make([]float32, 6*k), make([]float32, 16*k*20), make([]float32, 6*16*20)
	for b.Loop() {
		for j := 0; j < 20; j++ {
			run256(6, k, a, bp[j*16*k:], c[j*16:], 320, 1, 1)
		}
	}
	b.ReportMetric(2*6*16*float64(k)*20*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
