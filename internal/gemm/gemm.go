// Package gemm is anekit's single-precision matrix multiply.
//
// Every operand is a strided view (Mat) of float32 or fp16 storage, so
// transposes, slices and batches of a surface are read in place; fp16
// operands are converted while packing. Results accumulate in float32.
//
// The API is fixed; the implementation behind it may change. Today: B is
// packed into panels of NR columns (fp16 decoded on the way; on amd64 the
// kernel of the first A panel of a block packs fp32 B as it reads it), A is
// read in place, copied by rows to a stride that spreads them over the L1
// sets, or packed into panels of MR rows, and a register-blocked
// micro-kernel computes MR×NR tiles of C, blocked for the caches (K in the
// L1-resident A panel, N in the L2-resident B block). The kernels:
//
//   - amd64: avo-generated assembly (see _asm), AVX-512 14×32 or AVX2+FMA
//     6×16, chosen at run time from internal/cpu;
//   - arm64: a hand-written NEON 8×12 kernel (kernel_arm64.s: 24 of the 32
//     vector registers accumulate, FMLA by element);
//   - elsewhere, or with the purego build tag: a 4×4 kernel in Go.
//
// All run behind the same packing, blocking and threading. Large
// multiplies are shared among Threads() goroutines from a persistent pool;
// batches of small ones are shared by batch entry. Steady-state calls do
// not allocate.
//
// On darwin/arm64, multiplies of at least accelMinFlops (2·m·n·k, about
// 128³/2) whose operands are all fp32 with a unit stride in one dimension
// go to cblas_sgemm in Apple's Accelerate framework, loaded at first use
// with dlopen through github.com/ebitengine/purego (no cgo); Accelerate
// picks its own threads, ignoring SetThreads. Everything else, and
// everything when Accelerate fails to load, runs the NEON kernel. The
// Accelerate path is compiled and vetted but UNTESTED ON HARDWARE: no Mac
// has run it yet. Its argument mapping is tested on every platform against
// a Go model of cblas_sgemm.
//
// The environment variable ANEKIT_GEMM, read at start-up, selects a path:
// "go" (the Go kernel everywhere), "neon" (arm64: never Accelerate) or
// "accelerate" (the darwin/arm64 default). Impl names the path in use.
package gemm

import "github.com/anekit/anekit/internal/f16"

// Mat is a strided view of a batch of matrices. Element (b, i, j) lives at
// index Off + b*BatchStride + i*RowStride + j*ColStride of exactly one of
// F32 or F16 (fp16 bit patterns). A transposed view swaps RowStride and
// ColStride.
type Mat struct {
	F32         []float32
	F16         []uint16
	Off         int
	RowStride   int
	ColStride   int
	BatchStride int
}

// RowMajor returns the view of a dense row-major float32 matrix with leading
// dimension ld.
func RowMajor(a []float32, ld int) Mat { return Mat{F32: a, RowStride: ld, ColStride: 1} }

// T returns the transposed view of m.
func (m Mat) T() Mat { m.RowStride, m.ColStride = m.ColStride, m.RowStride; return m }

func (m Mat) at(b, i, j int) float32 {
	k := m.Off + b*m.BatchStride + i*m.RowStride + j*m.ColStride
	if m.F16 != nil {
		return f16.ToFloat32(m.F16[k])
	}
	return m.F32[k]
}

func (m Mat) set(b, i, j int, v float32) {
	k := m.Off + b*m.BatchStride + i*m.RowStride + j*m.ColStride
	if m.F16 != nil {
		m.F16[k] = f16.FromFloat32(v)
		return
	}
	m.F32[k] = v
}

// Batched computes, for every b in [0, batch),
//
//	C[b] = alpha * A[b] * B[b] + beta * C[b]
//
// where A[b] is m×k, B[b] is k×n and C[b] is m×n. When beta == 0, C is not
// read (NaNs in C do not propagate). C may be fp16, in which case the result
// is rounded to fp16 once, at the store. C must not overlap A or B.
//
// Batched panics if a view indexes outside its storage. It does not
// allocate in steady state and may use up to Threads() goroutines.
func Batched(batch, m, n, k int, alpha float32, a, b Mat, beta float32, c Mat) {
	if accelerate(batch, m, n, k, alpha, a, b, beta, c) {
		return
	}
	batched(currentKernel(), Threads(), batch, m, n, k, alpha, a, b, beta, c)
}

// Sgemm is the BLAS-style row-major entry point:
// C = alpha*op(A)*op(B) + beta*C with op(X) = X or Xᵀ.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	A, B := RowMajor(a, lda), RowMajor(b, ldb)
	if transA {
		A = A.T()
	}
	if transB {
		B = B.T()
	}
	Batched(1, m, n, k, alpha, A, B, beta, RowMajor(c, ldc))
}

// batchedRef is the plain triple loop, the reference every fast path is
// tested against.
func batchedRef(batch, m, n, k int, alpha float32, a, b Mat, beta float32, c Mat) {
	for bb := 0; bb < batch; bb++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float32
				for p := 0; p < k; p++ {
					s += a.at(bb, i, p) * b.at(bb, p, j)
				}
				s *= alpha
				if beta != 0 {
					s += beta * c.at(bb, i, j)
				}
				c.set(bb, i, j, s)
			}
		}
	}
}

// threads is the number of goroutines a large multiply may use.
var threads = defaultThreads()

// SetThreads limits the goroutines one multiply may use (n < 1 means all
// cores) and returns the previous limit.
func SetThreads(n int) int {
	old := threads
	if n < 1 {
		n = defaultThreads()
	}
	threads = n
	return old
}

// Threads returns the current limit.
func Threads() int { return threads }

// Impl names the path Batched takes now: "accelerate" (darwin/arm64, when
// the framework loaded: large fp32 calls go there, the rest to NEON), or
// the micro-kernel, "avx512", "avx2", "neon" or "go".
func Impl() string {
	if accelSgemm() != nil {
		return "accelerate"
	}
	return currentKernel().name
}
