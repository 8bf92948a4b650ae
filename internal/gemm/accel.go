package gemm

import (
	"math"
	"runtime"
	"unsafe"
)

// This file maps Batched onto a BLAS cblas_sgemm, which darwin/arm64 takes
// from Apple's Accelerate framework (accel_darwin.go). The mapping is
// portable so that it is tested everywhere, against a Go model of
// cblas_sgemm; only loading and calling Accelerate is darwin-only.

// cblasSgemm is the C signature
//
//	void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA,
//	                 enum CBLAS_TRANSPOSE transB, int m, int n, int k,
//	                 float alpha, const float *a, int lda,
//	                 const float *b, int ldb, float beta, float *c, int ldc)
type cblasSgemm func(order, transA, transB, m, n, k int32, alpha float32,
	a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)

// CBLAS enumeration values.
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// accelMinFlops is the size, in flops (2·m·n·k per batch entry), from which
// a multiply goes to Accelerate rather than the NEON kernel: about 128³/2.
// Smaller ones stay on NEON, whose call costs nothing to set up and whose
// packing is shared with the fp16 path. The value is a guess from published
// figures (Accelerate's sgemm runs on the AMX units, several times NEON's
// peak, for a few microseconds of overhead), not a measurement: no Mac was
// at hand. Measure with ane-bench gemm under ANEKIT_GEMM=neon and
// ANEKIT_GEMM=accelerate and move it.
const accelMinFlops = 1 << 21

// cblasCall is a Batched call as row-major cblas_sgemm arguments, for batch
// entry 0; entry b adds b times the views' BatchStride to each offset.
type cblasCall struct {
	transA, transB int32
	m, n, k        int32
	lda, ldb, ldc  int32
	a, b, c        Mat // the views the call reads: a and b swapped when C is column-major
}

// planCblas maps C = alpha·A·B + beta·C over batch entries onto row-major
// cblas_sgemm calls. It reports false (the packed path must run) unless
// every view is fp32, has a unit stride in one dimension with a leading
// dimension that keeps its rows (or columns) apart, has non-negative
// strides and offset, fits int32 and lies inside its storage. A C stored
// column-major (unit row stride) is handled as Cᵀ = Bᵀ·Aᵀ.
func planCblas(batch, m, n, k int, a, b, c Mat) (p cblasCall, ok bool) {
	if batch <= 0 || m <= 0 || n <= 0 || k <= 0 || max(m, n, k) > math.MaxInt32 {
		return p, false
	}
	if !cblasView(batch, m, k, a) || !cblasView(batch, k, n, b) || !cblasView(batch, m, n, c) {
		return p, false
	}
	if tc, _, okc := leading(c, m, n); !okc {
		return p, false
	} else if tc {
		m, n, a, b, c = n, m, b.T(), a.T(), c.T()
	}
	ta, lda, oka := leading(a, m, k)
	tb, ldb, okb := leading(b, k, n)
	tc, ldc, _ := leading(c, m, n)
	if !oka || !okb || tc {
		return p, false
	}
	p = cblasCall{transA: cblasNoTrans, transB: cblasNoTrans, m: int32(m), n: int32(n), k: int32(k),
		lda: int32(lda), ldb: int32(ldb), ldc: int32(ldc), a: a, b: b, c: c}
	if ta {
		p.transA = cblasTrans
	}
	if tb {
		p.transB = cblasTrans
	}
	return p, true
}

// leading returns how cblas sees the rows×cols view x: stored row-major
// (trans false) or as the transpose of a row-major cols×rows matrix (trans
// true), with its leading dimension. A stride of a dimension of size one
// never matters, and the leading dimension must be at least the stored row
// length, as BLAS requires.
func leading(x Mat, rows, cols int) (trans bool, ld int, ok bool) {
	if x.ColStride == 1 || cols == 1 {
		ld = x.RowStride
		if rows == 1 {
			ld = max(ld, cols)
		}
		if ld >= cols && ld <= math.MaxInt32 {
			return false, ld, true
		}
	}
	if x.RowStride == 1 || rows == 1 {
		ld = x.ColStride
		if cols == 1 {
			ld = max(ld, rows)
		}
		if ld >= rows && ld <= math.MaxInt32 {
			return true, ld, true
		}
	}
	return false, 0, false
}

// cblasView reports whether the batch of rows×cols views x is fp32 with
// non-negative offset and strides and inside its storage.
func cblasView(batch, rows, cols int, x Mat) bool {
	if x.F16 != nil || x.F32 == nil || x.Off < 0 || x.RowStride < 0 || x.ColStride < 0 || x.BatchStride < 0 {
		return false
	}
	last := x.Off + (batch-1)*x.BatchStride + (rows-1)*x.RowStride + (cols-1)*x.ColStride
	return last < len(x.F32)
}

// runCblas runs the planned call on every batch entry through sgemm. With
// beta == 0 it zeroes C first, so that C is not read (NaN in C does not
// propagate) whatever the library does with beta·C.
func runCblas(sgemm cblasSgemm, p *cblasCall, batch int, alpha, beta float32) {
	a, b, c := p.a, p.b, p.c
	for bb := 0; bb < batch; bb++ {
		oc := c.Off + bb*c.BatchStride
		if beta == 0 {
			for i := 0; i < int(p.m); i++ {
				clear(c.F32[oc+i*int(p.ldc) : oc+i*int(p.ldc)+int(p.n)])
			}
			beta = 0 // -0 too
		}
		sgemm(cblasRowMajor, p.transA, p.transB, p.m, p.n, p.k, alpha,
			elem(a.F32, a.Off+bb*a.BatchStride), p.lda,
			elem(b.F32, b.Off+bb*b.BatchStride), p.ldb, beta,
			elem(c.F32, oc), p.ldc)
	}
	runtime.KeepAlive(a.F32)
	runtime.KeepAlive(b.F32)
	runtime.KeepAlive(c.F32)
}

// elem is the address of s[i] (i in range: planCblas checked the views).
func elem(s []float32, i int) *float32 {
	return (*float32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), 4*i))
}

// accelerate runs the multiply through the Accelerate framework when that
// path is on, the multiply is large enough and its views map onto
// cblas_sgemm, and reports whether it did.
func accelerate(batch, m, n, k int, alpha float32, a, b Mat, beta float32, c Mat) bool {
	sgemm := accelSgemm()
	if sgemm == nil || k <= 0 || 2*float64(m)*float64(n)*float64(k) < accelMinFlops {
		return false
	}
	p, ok := planCblas(batch, m, n, k, a, b, c)
	if !ok {
		return false
	}
	runCblas(sgemm, &p, batch, alpha, beta)
	return true
}
