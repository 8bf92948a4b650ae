package gemm

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestRowCopy covers A copied by rows (fp32 whose row stride aliases in
// L1, and row-major fp16), transposed A and B packed by the amd64 packers,
// and B packed by whole panels or by the first A
// panel's kernel (fused), across K blocks, partial column panels, and the
// thread splits (column chunks, row chunks, static).
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
			// Transposed operands: B transposed in 16×16 blocks plus a
			// tail of steps; A transposed packed step by step (masked).
			{batch: 1, m: 47, n: 100, k: 333, la: colMajor, lb: colMajor, alpha: 1, beta: 0},
			{batch: 1, m: 300, n: 64, k: 900, la: colMajor, alpha: 1, beta: 1},
			// Tall: row chunks shared out across goroutines.
			{batch: 1, m: 1100, n: 64, k: 300, alpha: 1, beta: 0},
			{batch: 1, m: 1030, n: 50, k: 70, lc: strided, hc: true, alpha: 1, beta: 0.5},
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

// TestRowPanel checks the claims of a dynamic split's row copy of A: the
// first part to need a panel copies it; a panel another part is copying is
// read in place (fp32); a copied panel is read from the copy.
func TestRowPanel(t *testing.T) {
	const m, k, lda = 30, 40, 1024
	a := make([]float32, m*lda)
	for i := range a {
		a[i] = float32(i)
	}
	kn := &kernel{mr: 14}
	ldr := rowStride(k)
	j := &job{kn: kn, m: m, k: k, apack: make([]float32, 3*14*ldr), astate: make([]atomic.Int32, 3)}
	A := Mat{F32: a, RowStride: lda, ColStride: 1}
	j.astate[1].Store(copyBusy)
	for q, want := range []int{ldr, lda, ldr} {
		p, ld := j.rowPanel(A, q, ldr)
		if ld != want {
			t.Fatalf("panel %d: stride %d, want %d", q, ld, want)
		}
		for r := 0; r < min(14, m-q*14); r++ {
			for x := 0; x < k; x++ {
				if got, w := p[r*ld+x], a[(q*14+r)*lda+x]; got != w {
					t.Fatalf("panel %d row %d col %d: %g, want %g", q, r, x, got, w)
				}
			}
		}
	}
	if j.astate[0].Load() != copyDone || j.astate[1].Load() != copyBusy || j.astate[2].Load() != copyDone {
		t.Fatalf("states %d %d %d", j.astate[0].Load(), j.astate[1].Load(), j.astate[2].Load())
	}
}
