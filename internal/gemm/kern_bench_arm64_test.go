//go:build arm64 && !purego

package gemm

import "testing"

// BenchmarkKernelNEON times the NEON micro-kernel alone on L1/L2-resident
// panels: the ceiling the driver works towards. Meaningless under
// emulation; run it on an arm64 machine.
func BenchmarkKernelNEON(b *testing.B) {
	k := 512
	a, bp, c := make([]float32, 8*k), make([]float32, 12*k*8), make([]float32, 8*12*8)
	for b.Loop() {
		for j := 0; j < 8; j++ {
			runNEON(8, k, a, bp[j*12*k:], c[j*12:], 96, 1, 1)
		}
	}
	b.ReportMetric(2*8*12*float64(k)*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
