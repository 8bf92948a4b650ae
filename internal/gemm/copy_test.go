package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestRowCopy covers A copied by rows (fp32 whose row stride aliases in
// L1, and row-major fp16) and B packed by whole panels or by the first A
// panel's kernel (fused), across K blocks, partial column panels, and both
// thread splits.
func TestRowCopy(t *testing.T) {
	defer SetThreads(SetThreads(2))
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		for _, c := range []gemmCase{
			{batch: 1, m: 29, n: 97, k: 1024, alpha: 1, beta: 0},            // lda 4 KiB
			{batch: 1, m: 60, n: 640, k: 2048, alpha: 0.5, beta: 1},         // lda 8 KiB, two K blocks and more
			{batch: 1, m: 45, n: 130, k: 900, ha: true, alpha: 1, beta: -1}, // fp16 A decoded by rows
			{batch: 2, m: 17, n: 64, k: 1024, hb: true, alpha: 1, beta: 0},
			{batch: 1, m: 3, n: 33, k: 4096, alpha: 2, beta: 0},
		} {
			t.Run(c.String(), func(t *testing.T) { runCase(t, r, c) })
			noDynamic = true
			t.Run(c.String()+"-static", func(t *testing.T) { runCase(t, r, c) })
			noDynamic = false
			noFuse = true // B packed before the kernels, not by the first A panel
			t.Run(c.String()+"-unfused", func(t *testing.T) { runCase(t, r, c) })
			noFuse = false
		}
	})
}
