package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// modelSgemm is a Go model of row-major cblas_sgemm, for testing the
// mapping of Batched onto it where Accelerate is not at hand. It checks the
// arguments as BLAS does, that every element it touches lies inside one of
// the slices in storage, and computes in float64. It reads C even when
// beta == 0 (as a careless library might), so NaN there would show.
func modelSgemm(t *testing.T, storage [][]float32, calls *int) cblasSgemm {
	inside := func(p *float32, n int) []float32 {
		lo := uintptr(unsafe.Pointer(p))
		for _, s := range storage {
			base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
			if lo >= base && lo+uintptr(4*n) <= base+uintptr(4*len(s)) {
				return unsafe.Slice(p, n)
			}
		}
		t.Fatalf("cblas_sgemm would touch %d floats from %#x outside every operand", n, lo)
		return nil
	}
	return func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32) {
		*calls++
		if order != cblasRowMajor || transA != cblasNoTrans && transA != cblasTrans || transB != cblasNoTrans && transB != cblasTrans {
			t.Fatalf("cblas_sgemm: order %d transA %d transB %d", order, transA, transB)
		}
		if m <= 0 || n <= 0 || k <= 0 {
			t.Fatalf("cblas_sgemm: m, n, k = %d, %d, %d", m, n, k)
		}
		// Stored shapes (rows×cols) of A, B.
		ra, ca := m, k
		if transA == cblasTrans {
			ra, ca = k, m
		}
		rb, cb := k, n
		if transB == cblasTrans {
			rb, cb = n, k
		}
		if lda < ca || ldb < cb || ldc < n {
			t.Fatalf("cblas_sgemm: lda %d < %d or ldb %d < %d or ldc %d < %d", lda, ca, ldb, cb, ldc, n)
		}
		A := inside(a, int((ra-1)*lda+ca))
		B := inside(b, int((rb-1)*ldb+cb))
		C := inside(c, int((m-1)*ldc+n))
		at := func(i, p int32) float64 {
			if transA == cblasTrans {
				return float64(A[p*lda+i])
			}
			return float64(A[i*lda+p])
		}
		bt := func(p, j int32) float64 {
			if transB == cblasTrans {
				return float64(B[j*ldb+p])
			}
			return float64(B[p*ldb+j])
		}
		for i := int32(0); i < m; i++ {
			for j := int32(0); j < n; j++ {
				var s float64
				for p := int32(0); p < k; p++ {
					s += at(i, p) * bt(p, j)
				}
				C[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(C[i*ldc+j]))
			}
		}
	}
}

// TestCblasPlan checks the mapping of Batched onto cblas_sgemm on every
// layout and precision: fp32 views with a unit stride must map (C
// column-major by swapping A and B), the others must not; mapped calls,
// run through modelSgemm, must match the float64 reference and leave the
// storage outside C alone.
func TestCblasPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	uni := func() float32 { return float32(r.Float64()*2 - 1) }
	for _, la := range []layout{rowMajor, colMajor, strided} {
		for _, lb := range []layout{rowMajor, colMajor, strided} {
			for _, lc := range []layout{rowMajor, colMajor, strided} {
				for _, half := range []int{0, 1, 2, 4} {
					for _, dims := range [][3]int{{1 + r.IntN(30), 1 + r.IntN(30), 1 + r.IntN(30)}, {1, 9, 5}, {7, 1, 5}, {7, 9, 1}, {1, 1, 3}} {
						c := gemmCase{batch: 1 + r.IntN(3), m: dims[0], n: dims[1], k: dims[2],
							la: la, lb: lb, lc: lc, ha: half&1 != 0, hb: half&2 != 0, hc: half&4 != 0,
							alpha: []float32{1, -0.5}[r.IntN(2)], beta: []float32{0, 1, -1.5, float32(math.Copysign(0, -1))}[r.IntN(4)]}
						c.nanC = c.beta == 0
						t.Run(c.String(), func(t *testing.T) {
							a := newOperand(r, c.batch, c.m, c.k, c.la, c.ha, uni)
							b := newOperand(r, c.batch, c.k, c.n, c.lb, c.hb, uni)
							fill := uni
							if c.nanC {
								fill = func() float32 { return float32(math.NaN()) }
							}
							cc := newOperand(r, c.batch, c.m, c.n, c.lc, c.hc, fill)
							before := cc.clone()
							p, ok := planCblas(c.batch, c.m, c.n, c.k, a.m, b.m, cc.m)
							// A strided view maps only where its strided
							// dimension has size one.
							maps := func(l layout, rows, cols int, h bool) bool {
								return !h && (l != strided || rows == 1 || cols == 1)
							}
							if want := maps(c.la, c.m, c.k, c.ha) && maps(c.lb, c.k, c.n, c.hb) && maps(c.lc, c.m, c.n, c.hc); ok != want {
								if want || c.m > 1 && c.n > 1 && c.k > 1 {
									t.Fatalf("planCblas ok = %v, want %v", ok, want)
								}
							}
							if !ok {
								return
							}
							calls := 0
							runCblas(modelSgemm(t, [][]float32{a.m.F32, b.m.F32, cc.m.F32}, &calls), &p, c.batch, c.alpha, c.beta)
							if calls != c.batch {
								t.Fatalf("%d calls for a batch of %d", calls, c.batch)
							}
							check(t, c.batch, c.m, c.n, c.k, float64(c.alpha), a, b, float64(c.beta), before, cc)
						})
					}
				}
			}
		}
	}
}

// TestCblasPlanRejects checks views cblas cannot take: overlapping rows,
// negative strides, out-of-range storage.
func TestCblasPlanRejects(t *testing.T) {
	buf := make([]float32, 1000)
	good := Mat{F32: buf, RowStride: 10, ColStride: 1, BatchStride: 100}
	for name, v := range map[string]Mat{
		"rows overlap":    {F32: buf, RowStride: 5, ColStride: 1},
		"broadcast rows":  {F32: buf, RowStride: 0, ColStride: 1},
		"negative stride": {F32: buf, Off: 500, RowStride: -10, ColStride: 1},
		"negative offset": {F32: buf, Off: -1, RowStride: 10, ColStride: 1},
		"past the end":    {F32: buf, Off: 950, RowStride: 10, ColStride: 1},
		"batch past end":  {F32: buf, RowStride: 10, ColStride: 1, BatchStride: 950},
		"no unit stride":  {F32: buf, RowStride: 20, ColStride: 2},
		"fp16":            {F16: make([]uint16, 1000), RowStride: 10, ColStride: 1},
	} {
		for i, ops := range [][3]Mat{{v, good, good}, {good, v, good}, {good, good, v}} {
			if _, ok := planCblas(2, 8, 8, 8, ops[0], ops[1], ops[2]); ok {
				t.Errorf("%s as operand %d: planned", name, i)
			}
		}
	}
	if _, ok := planCblas(2, 8, 8, 8, good, good, good); !ok {
		t.Error("a plain row-major batch was not planned")
	}
}

// TestCblasPlanVectors checks single-row and single-column views whose
// unused stride is zero: the leading dimension passed must still satisfy
// BLAS (modelSgemm checks it) and the result must be right.
func TestCblasPlanVectors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	k, n := 6, 5
	x := operand{Mat{F32: fill(k), ColStride: 1}, 1, k}                   // 1×k row, RowStride 0
	w := operand{Mat{F32: fill(k * n), RowStride: n, ColStride: 1}, k, n} // k×n
	y := operand{Mat{F32: fill(n), ColStride: 1}, 1, n}                   // 1×n row, RowStride 0
	for _, tc := range []struct {
		name    string
		a, b, c operand
		m, n, k int
	}{
		{"row", x, w, y, 1, n, k},
		{"column", operand{w.m.T(), n, k}, operand{Mat{F32: x.m.F32, RowStride: 1}, k, 1}, operand{Mat{F32: y.m.F32, RowStride: 1}, n, 1}, n, 1, k},
	} {
		p, ok := planCblas(1, tc.m, tc.n, tc.k, tc.a.m, tc.b.m, tc.c.m)
		if !ok {
			t.Fatalf("%s: not planned", tc.name)
		}
		before := tc.c.clone()
		calls := 0
		runCblas(modelSgemm(t, [][]float32{tc.a.m.F32, tc.b.m.F32, tc.c.m.F32}, &calls), &p, 1, 1, 0.5)
		check(t, 1, tc.m, tc.n, tc.k, 1, tc.a, tc.b, 0.5, before, tc.c)
	}
}
