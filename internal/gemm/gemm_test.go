package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anekit/anekit/internal/cpu"
	"github.com/anekit/anekit/internal/f16"
)

// forEachKernel runs f once per path this machine can run, turning the
// faster ones off in turn (AVX-512, then AVX2, then pure Go; on arm64
// NEON, then pure Go; on darwin/arm64 Accelerate first, when it loads).
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	seen := map[string]bool{}
	var restore []func()
	defer func() {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i]()
		}
	}()
	for _, disable := range []func() func(){disableAccelerate, cpu.DisableAVX512, cpu.DisableAVX2, cpu.DisableNEON, nil} {
		if name := Impl(); !seen[name] {
			seen[name] = true
			t.Run(name, f)
			if currentKernel().runU != nil {
				// The same kernel with A always packed.
				noDirect = true
				t.Run(name+"-packedA", f)
				noDirect = false
			}
		}
		if disable != nil {
			restore = append(restore, disable())
		}
	}
}

// layout is how a test operand is stored.
type layout int

const (
	rowMajor layout = iota
	colMajor        // the transposed view of a row-major matrix
	strided         // both strides > 1, with gaps
)

func (l layout) String() string { return [...]string{"N", "T", "S"}[l] }

// operand is a random batch of rows×cols matrices in one layout and
// precision, with the exact float64 value of each element for the
// reference.
type operand struct {
	m          Mat
	rows, cols int
}

func newOperand(r *rand.Rand, batch, rows, cols int, l layout, half bool, fill func() float32) operand {
	var rs, cs int
	switch l {
	case rowMajor:
		rs, cs = cols, 1
	case colMajor:
		rs, cs = 1, rows
	case strided:
		rs, cs = 2*cols+3, 2
	}
	size := max(rows*rs, cols*cs) + rows + cols + 5
	m := Mat{Off: 3, RowStride: rs, ColStride: cs, BatchStride: size}
	n := m.Off + batch*size
	if half {
		m.F16 = make([]uint16, n)
		for i := range m.F16 {
			m.F16[i] = f16.FromFloat32(fill())
		}
	} else {
		m.F32 = make([]float32, n)
		for i := range m.F32 {
			m.F32[i] = fill()
		}
	}
	return operand{m, rows, cols}
}

func (o operand) at(b, i, j int) float64 { return float64(o.m.at(b, i, j)) }

// clone copies the storage so the reference sees C before the call.
func (o operand) clone() operand {
	c := o
	if o.m.F16 != nil {
		c.m.F16 = append([]uint16(nil), o.m.F16...)
	} else {
		c.m.F32 = append([]float32(nil), o.m.F32...)
	}
	return c
}

// check compares C after Batched with a float64 reference computed from
// the operands and C before, within a bound from k and the magnitudes: the
// float32 accumulation error is at most about k*eps*sum|a*b|, and an fp16
// C adds half an fp16 ulp. Elements of C outside the views must not change.
func check(t *testing.T, batch, m, n, k int, alpha float64, a, b operand, beta float64, before, after operand) {
	t.Helper()
	const eps = 1.0 / (1 << 23)
	// A and Bᵀ of one entry as dense float64 rows, so the inner loop runs
	// over contiguous memory (it dominates the tests' time under emulation).
	ad, bt := make([]float64, m*k), make([]float64, n*k)
	for bb := 0; bb < batch; bb++ {
		for i := 0; i < m; i++ {
			for p := 0; p < k; p++ {
				ad[i*k+p] = a.at(bb, i, p)
			}
		}
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				bt[j*k+p] = b.at(bb, p, j)
			}
		}
		for i := 0; i < m; i++ {
			ar := ad[i*k : i*k+k]
			for j := 0; j < n; j++ {
				var s, mag float64
				for p, x := range bt[j*k : j*k+k] {
					x *= ar[p]
					s += x
					mag += math.Abs(x)
				}
				want := alpha * s
				mag *= math.Abs(alpha)
				if beta != 0 {
					cv := before.at(bb, i, j)
					want += beta * cv
					mag += math.Abs(beta * cv)
				}
				tol := float64(k+4)*eps*mag + 1e-30
				if after.m.F16 != nil {
					tol += math.Abs(want)/(1<<11) + 1.0/(1<<24)
				}
				got := after.at(bb, i, j)
				if !(math.Abs(got-want) <= tol) {
					t.Fatalf("C[%d][%d][%d] = %g, want %g (tol %g)", bb, i, j, got, want, tol)
				}
			}
		}
	}
	// Outside the views: untouched.
	touched := map[int]bool{}
	for bb := 0; bb < batch; bb++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				touched[after.m.Off+bb*after.m.BatchStride+i*after.m.RowStride+j*after.m.ColStride] = true
			}
		}
	}
	for x := range max(len(after.m.F32), len(after.m.F16)) {
		if touched[x] {
			continue
		}
		if after.m.F16 != nil && after.m.F16[x] != before.m.F16[x] ||
			after.m.F32 != nil && math.Float32bits(after.m.F32[x]) != math.Float32bits(before.m.F32[x]) {
			t.Fatalf("element %d outside C changed", x)
		}
	}
}

type gemmCase struct {
	batch, m, n, k int
	la, lb, lc     layout
	ha, hb, hc     bool // fp16 storage
	alpha, beta    float32
	nanC           bool // fill C with NaN (only with beta == 0)
}

func (c gemmCase) String() string {
	h := func(b bool) string {
		if b {
			return "h"
		}
		return "f"
	}
	return fmt.Sprintf("b%d_%dx%dx%d_%v%s%v%s%v%s_a%g_b%g", c.batch, c.m, c.n, c.k,
		c.la, h(c.ha), c.lb, h(c.hb), c.lc, h(c.hc), c.alpha, c.beta)
}

func runCase(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	uni := func() float32 { return float32(r.Float64()*2 - 1) }
	a := newOperand(r, c.batch, c.m, c.k, c.la, c.ha, uni)
	b := newOperand(r, c.batch, c.k, c.n, c.lb, c.hb, uni)
	fillC := uni
	if c.nanC {
		fillC = func() float32 { return float32(math.NaN()) }
	}
	cc := newOperand(r, c.batch, c.m, c.n, c.lc, c.hc, fillC)
	before := cc.clone()
	Batched(c.batch, c.m, c.n, c.k, c.alpha, a.m, b.m, c.beta, cc.m)
	check(t, c.batch, c.m, c.n, c.k, float64(c.alpha), a, b, float64(c.beta), before, cc)
}

// TestEdgeShapes covers every size class the blocking distinguishes, with
// all transpose combinations, on every kernel.
func TestEdgeShapes(t *testing.T) {
	sizes := []int{0, 1, 7, 17, 33, 71}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 1))
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range sizes {
					la, lb := layout(r.IntN(2)), layout(r.IntN(2))
					runCase(t, r, gemmCase{batch: 1, m: m, n: n, k: k, la: la, lb: lb, alpha: 1, beta: 0})
				}
			}
		}
	})
}

// TestLayouts covers every combination of layout, precision and
// alpha/beta on a few shapes, including batches and NaN in C with beta 0.
func TestLayouts(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(2, 2))
		for _, la := range []layout{rowMajor, colMajor, strided} {
			for _, lb := range []layout{rowMajor, colMajor, strided} {
				for _, lc := range []layout{rowMajor, colMajor, strided} {
					for _, half := range []int{0, 1, 2, 4, 7} {
						c := gemmCase{
							batch: 1 + r.IntN(3), m: 1 + r.IntN(40), n: 1 + r.IntN(70), k: 1 + r.IntN(50),
							la: la, lb: lb, lc: lc,
							ha: half&1 != 0, hb: half&2 != 0, hc: half&4 != 0,
							alpha: []float32{1, -0.5, 2.25}[r.IntN(3)],
							beta:  []float32{0, 1, -1.5}[r.IntN(3)],
						}
						c.nanC = c.beta == 0 && r.IntN(2) == 0
						t.Run(c.String(), func(t *testing.T) { runCase(t, r, c) })
					}
				}
			}
		}
	})
}

// TestBlocking crosses the K, N and M cache blocks and the thread split.
func TestBlocking(t *testing.T) {
	defer SetThreads(SetThreads(2))
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		for _, c := range []gemmCase{
			{batch: 1, m: 45, n: 700, k: 800, alpha: 1, beta: 0.5},
			{batch: 1, m: 31, n: 40, k: 1024, alpha: 1, beta: 0}, // lda 1024: A packed
			{batch: 1, m: 1100, n: 40, k: 30, la: colMajor, alpha: 1, beta: 1},
			{batch: 1, m: 130, n: 161, k: 400, lb: colMajor, alpha: -1, beta: 0, nanC: true},
			{batch: 1, m: 96, n: 200, k: 100, hb: true, hc: true, alpha: 1, beta: 0},
			{batch: 1, m: 256, n: 288, k: 288, alpha: 1, beta: 0},
			{batch: 6, m: 20, n: 33, k: 64, lb: colMajor, alpha: 0.125, beta: 2},
			{batch: 3, m: 100, n: 100, k: 120, lc: strided, alpha: 1, beta: 1},
			{batch: 2, m: 61, n: 350, k: 400, alpha: 0.5, beta: -1},
			{batch: 1, m: 50, n: 300, k: 500, la: colMajor, ha: true, alpha: 1, beta: 0.5},
			{batch: 1, m: 20, n: 1600, k: 40, alpha: 1, beta: 1}, // past every kernel's N block (NEON's is 768)
		} {
			t.Run(c.String(), func(t *testing.T) { runCase(t, r, c) })
			noDynamic = true
			t.Run(c.String()+"-static", func(t *testing.T) { runCase(t, r, c) })
			noDynamic = false
		}
	})
}

// TestBetaZero checks that beta == 0 and beta == -0 both leave C unread
// (NaN in C does not propagate), in every micro-kernel row count.
func TestBetaZero(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		for _, beta := range []float32{0, float32(math.Copysign(0, -1))} {
			for m := 1; m <= 16; m++ {
				c := gemmCase{batch: 1, m: m, n: 35, k: 9, alpha: 1.5, beta: beta, nanC: true}
				t.Run(c.String(), func(t *testing.T) { runCase(t, r, c) })
			}
		}
	})
}

// TestSgemm checks the BLAS-style entry point on every transpose pair.
func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	m, n, k := 23, 37, 41
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a := make([]float32, m*k+5)
			b := make([]float32, k*n+5)
			c := make([]float32, m*(n+2))
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			lda, ldb := k, n
			if ta {
				lda = m
			}
			if tb {
				ldb = k
			}
			Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n+2)
			want := make([]float32, len(c))
			A, B := RowMajor(a, lda), RowMajor(b, ldb)
			if ta {
				A = A.T()
			}
			if tb {
				B = B.T()
			}
			batchedRef(1, m, n, k, 1, A, B, 0, RowMajor(want, n+2))
			for i := range c {
				if d := math.Abs(float64(c[i] - want[i])); d > 1e-4 {
					t.Fatalf("ta=%v tb=%v: c[%d] = %g, want %g", ta, tb, i, c[i], want[i])
				}
			}
		}
	}
}

// TestNoAllocs checks that a warmed-up multiply allocates nothing, on one
// and on two goroutines.
func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are noisy under -short runs with -race")
	}
	m, n, k := 128, 256, 128
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, th := range []int{1, 2} {
		old := SetThreads(th)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		if got := testing.AllocsPerRun(20, func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }); got > 0 {
			t.Errorf("threads=%d: %v allocations per call", th, got)
		}
		SetThreads(old)
	}
}

// TestConcurrent runs multiplies from several goroutines at once with more
// parts than workers can take at a time: the parts of different calls
// queue behind each other and must neither deadlock nor mix.
func TestConcurrent(t *testing.T) {
	defer SetThreads(SetThreads(3))
	m, n, k := 40, 300, 450
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			want := make([]float32, m*n)
			batchedRef(1, m, n, k, 1, RowMajor(a, m).T(), RowMajor(b, n), 0, RowMajor(want, n))
			for it := 0; it < 10; it++ {
				c := make([]float32, m*n)
				Sgemm(true, false, m, n, k, 1, a, m, b, n, 0, c, n)
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); d > 1e-3 {
						done <- fmt.Errorf("goroutine %d: c[%d] = %g, want %g", g, i, c[i], want[i])
						return
					}
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
