package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/anekit/anekit/internal/f16"
)

// A kernel is one register-blocked micro-kernel with the cache blocking that
// suits it. run computes the mr×nr block (mr <= MR, nr == NR)
//
//	C = alpha * A * B + beta * C      (C not read when beta == 0)
//
// from a packed A panel (k steps of MR floats, rows >= mr ignored) and a
// packed B panel (k steps of NR floats) into row-major c with leading
// dimension ldc; len(c) >= (mr-1)*ldc + NR.
type kernel struct {
	name   string
	mr, nr int
	kc     int // K block: an A micro-panel (kc×MR) stays in L1
	nb     int // N block: the packed B block (kc×nb) stays in L2
	mb     int // M block: the packed A block (mb×kc) stays in L3
	run    func(mr, k int, a, b, c []float32, ldc int, alpha, beta float32)
	// runU, if set, is run reading A in place: row r of the block at
	// a[r*lda:], k contiguous elements. len(a) >= (mr-1)*lda + k.
	runU func(mr, k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32)
	// runF, if set, is runU reading B from its row-major fp32 source, step
	// p at bsrc[p*ldb:], instead of from b, and storing the packed panel
	// to b on the way: the first A panel of a block packs B for the rest.
	// len(bsrc) >= (k-1)*ldb + NR.
	runF func(mr, k int, a []float32, lda int, b, bsrc []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// runPF, if set, is run reading B as runF does.
	runPF func(mr, k int, a, b, bsrc []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// packB32, if set, packs nq whole panels of NR columns of kc rows of
	// row-major fp32 B (leading dimension ldb, starting at src[0]) into
	// dst, panel q at dst[q*kc*NR:].
	packB32 func(dst, src []float32, ldb, kc, nq int)
	// packBT, if set, packs one whole panel of NR columns of kc steps of
	// fp32 B stored transposed (column x at bt[x*ld:], steps contiguous)
	// into dst.
	packBT func(dst, bt []float32, ld, kc int)
	// packAT, if set, packs kc steps of mr rows of fp32 A stored
	// transposed (step p at at[p*ld:], rows contiguous) into a kc×MR
	// panel, zeroing rows mr..MR-1.
	packAT func(dst, at []float32, ld, kc, mr int)
}

// direct reports whether the kernel reads a in place rather than packed:
// fp32, unit column stride, and a row stride that does not pile the rows of
// a micro-panel into a few L1 sets (a stride of 8 KiB puts all 14 in one
// 8-way set and costs ~20%; measured on Zen 4).
func (kn *kernel) direct(a Mat) bool {
	if noDirect || kn.runU == nil || a.F16 != nil || a.ColStride != 1 || a.RowStride < 0 {
		return false
	}
	// Rows i and i+period start in the same L1 set (4 KiB per way).
	g, b := 4096, (4*a.RowStride)%4096
	for b != 0 {
		g, b = b, g%b
	}
	return 4096/g >= 4
}

// rowCopy reports whether A, not read in place, is better copied row by
// row into a buffer whose row stride spreads the rows over the L1 sets
// (see rowStride) and then read in place from there, rather than packed
// into panels: a row-contiguous A (fp32 whose row stride aliases in L1, or
// fp16, decoded on the way) copies in long runs, where panels would gather
// it one element at a time.
func (kn *kernel) rowCopy(a Mat) bool {
	return !noDirect && kn.runU != nil && a.ColStride == 1 && a.RowStride >= 0
}

// rowStride is the row stride (in floats) of a row copy of k columns:
// at least k, and 16 more than a multiple of 32, so that 4*stride is an
// odd multiple of 64 bytes and consecutive rows start in different L1 sets.
func rowStride(k int) int { return ceilDiv(k, 32)*32 + 16 }

// Tuning of the work split.
const (
	// serialFlops: below this many flops a multiply runs on one goroutine.
	serialFlops = 1 << 21
	// batchFlops: a batch of multiplies each below this many flops is split
	// across goroutines by batch entry rather than within each matrix.
	batchFlops = 1 << 24
	// tempElems bounds the fp32 scratch for an fp16 or strided C.
	tempElems = 1 << 20
)

// buffers are one goroutine's packing space, reused across calls.
type buffers struct {
	a, b, tile, row, temp []float32
}

var bufPool freeList[buffers]

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// job is one call of Batched, split into parts run by the worker pool.
type job struct {
	kn             *kernel
	batch, m, n, k int
	alpha, beta    float32
	a, b, c        Mat
	byBatch        bool // parts are ranges of batch entries
	bb             int  // the entry being split (when !byBatch)
	pm, pn         int  // grid of parts over M and N (when !byBatch)
	parts          int
	dynamic        bool           // parts claim column chunks (see dynamicEntry)
	rowChunk       int            // > 0: parts claim chunks of this many rows instead
	w              int            // dynamic: chunk width
	claim          atomic.Int64   // dynamic: next chunk
	pclaim         atomic.Int64   // dynamic: next A panel to pack
	packed         atomic.Int64   // dynamic: A panels packed
	apack          []float32      // dynamic: all of A, packed (when not read in place)
	astate         []atomic.Int32 // dynamic, rows: per A panel, copyIdle/copyBusy/copyDone
	wg             sync.WaitGroup
}

var jobPool freeList[job]

func batched(kn *kernel, threads, batch, m, n, k int, alpha float32, a, b Mat, beta float32, c Mat) {
	if batch <= 0 || m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		for bb := 0; bb < batch; bb++ {
			scaleC(bb, m, n, beta, c)
		}
		return
	}
	flops := 2 * m * n * k
	j := jobPool.get()
	apack, astate := j.apack, j.astate // keep the packing space
	*j = job{kn: kn, batch: batch, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, b: b, c: c,
		apack: apack, astate: astate}
	switch {
	case threads <= 1 || flops*batch < serialFlops:
		j.byBatch, j.parts = true, 1
		j.runPart(0)
	case batch >= threads && flops < batchFlops:
		j.byBatch, j.parts = true, threads
		parallel(j)
	default:
		j.pm, j.pn = split(kn, threads, m, n, k, a, b, flops < serialFlops)
		j.parts = j.pm * j.pn
		// Prefer sharing column chunks out as they are claimed where it
		// applies (fp32 C, enough column panels, A in place or small
		// enough to pack whole): it tolerates a busy machine and packs
		// nothing twice.
		panels := ceilDiv(n, kn.nr)
		// Tall multiplies share out row chunks instead, each run as a
		// blocked multiply of its own (A's block stays in cache across
		// the columns; B is packed once per chunk).
		if h := rowChunk(kn, threads, m); !noDynamic && j.parts > 1 && h > 0 {
			j.parts, j.rowChunk = threads, h
			for j.bb = 0; j.bb < batch; j.bb++ {
				j.claim.Store(0)
				parallel(j)
			}
			break
		}
		j.dynamic = !noDynamic && j.parts > 1 && panels >= 2*threads &&
			(kn.direct(a) || m*k <= 1<<22) &&
			c.F16 == nil && c.ColStride == 1 && c.RowStride >= n
		if j.dynamic {
			j.parts = threads
			// About 8 chunks per goroutine: fine enough to even out a
			// core that other work shares (measured on 2 busy Zen 5 cores:
			// 256x768x768 and 768x768x256 ~25% faster than 4 per goroutine).
			j.w = kn.nr * max(1, min(kn.nb/kn.nr, panels/(8*threads)))
			switch {
			case kn.direct(a):
			case kn.rowCopy(a):
				j.apack = grow(j.apack, ceilDiv(m, kn.mr)*kn.mr*rowStride(k))
				if npan := ceilDiv(m, kn.mr); cap(j.astate) < npan {
					j.astate = make([]atomic.Int32, npan)
				} else {
					j.astate = j.astate[:npan]
				}
			default:
				j.apack = grow(j.apack, ceilDiv(k, kn.kc)*ceilDiv(m, kn.mr)*kn.mr*kn.kc)
			}
		}
		for j.bb = 0; j.bb < batch; j.bb++ {
			if j.parts == 1 {
				j.runPart(0)
				continue
			}
			j.claim.Store(0)
			j.pclaim.Store(0)
			j.packed.Store(0)
			for i := range j.astate {
				j.astate[i].Store(copyIdle)
			}
			parallel(j)
		}
	}
	apack, astate = j.apack, j.astate
	*j = job{apack: apack[:0], astate: astate[:0]}
	jobPool.put(j)
}

// rowChunk returns the height of the row chunks a tall multiply of m rows
// is shared out in, or 0 below 1024 rows (there column chunks, whose
// parts stream all of A's K block, win while that block is small): two
// chunks per goroutine, each at least 256 rows (a whole multiple of MR) so
// that packing B once per chunk stays cheap. On 2 Zen 5 cores, 1024³ and
// 2048³ run ~15% faster than in column chunks.
func rowChunk(kn *kernel, threads, m int) int {
	if m < 1024 {
		return 0
	}
	h := ceilDiv(max(256, ceilDiv(m, 2*threads)), kn.mr) * kn.mr
	if ceilDiv(m, h) < 2 {
		return 0
	}
	return min(h, kn.mb)
}

// split picks a grid pm×pn (pm*pn <= threads) of parts for one m×n×k
// multiply, minimising an estimate of the slowest part's time: its share of
// the flops (rounded up to whole micro-tiles) plus the packing it repeats.
func split(kn *kernel, threads, m, n, k int, a, b Mat, small bool) (pm, pn int) {
	if small {
		return 1, 1
	}
	// Packing costs in flop-equivalents per element, measured on Zen 4:
	// a contiguous copy is cheap, a transposing gather is not.
	costA, costB := 40, 10
	switch {
	case kn.direct(a):
		costA = 0
	case a.ColStride == 1 || a.F16 != nil:
		costA = 60
	}
	if b.ColStride != 1 || b.F16 != nil {
		costB = 60
	}
	best := -1
	for tm := 1; tm <= threads; tm++ {
		tn := threads / tm
		if tm*tn != threads {
			continue
		}
		rows := ceilDiv(ceilDiv(m, kn.mr), tm) * kn.mr
		cols := ceilDiv(ceilDiv(n, kn.nr), tn) * kn.nr
		if rows > m {
			rows = m
		}
		cost := 2*rows*cols*k + costA*rows*k + costB*cols*k
		if best < 0 || cost < best {
			best, pm, pn = cost, tm, tn
		}
	}
	return pm, pn
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// rangeOf returns part i of n units split into parts pieces of whole
// multiples of unit (the last piece takes the remainder).
func rangeOf(i, parts, n, unit int) (lo, hi int) {
	units := ceilDiv(n, unit)
	lo = i * units / parts * unit
	hi = (i + 1) * units / parts * unit
	return min(lo, n), min(hi, n)
}

// runPart runs part i of the job on the calling goroutine.
func (j *job) runPart(i int) {
	buf := bufPool.get()
	if j.rowChunk > 0 {
		for {
			i0 := int(j.claim.Add(1)-1) * j.rowChunk
			if i0 >= j.m {
				break
			}
			j.entry(buf, j.bb, i0, min(i0+j.rowChunk, j.m), 0, j.n)
		}
	} else if j.dynamic {
		j.dynamicEntry(buf, i)
	} else if j.byBatch {
		lo, hi := rangeOf(i, j.parts, j.batch, 1)
		for bb := lo; bb < hi; bb++ {
			j.entry(buf, bb, 0, j.m, 0, j.n)
		}
	} else {
		i0, i1 := rangeOf(i/j.pn, j.pm, j.m, j.kn.mr)
		j0, j1 := rangeOf(i%j.pn, j.pn, j.n, j.kn.nr)
		if i0 < i1 && j0 < j1 {
			j.entry(buf, j.bb, i0, i1, j0, j1)
		}
	}
	bufPool.put(buf)
}

// entry computes rows [i0,i1) and columns [j0,j1) of batch entry bb.
func (j *job) entry(buf *buffers, bb, i0, i1, j0, j1 int) {
	a, b, c := j.a, j.b, j.c
	a.Off += bb * a.BatchStride
	b.Off += bb * b.BatchStride
	c.Off += bb * c.BatchStride
	if c.F16 == nil && c.ColStride == 1 && c.RowStride >= j.n {
		off := c.Off + i0*c.RowStride + j0
		j.kn.block(buf, i1-i0, j1-j0, j.k, j.alpha, a, i0, b, j0, j.beta, c.F32[off:], c.RowStride)
		return
	}
	// fp16 or strided C: compute into fp32 scratch, then merge, rounding
	// to fp16 once.
	rows := i1 - i0
	w := max(j.kn.nr, tempElems/rows/j.kn.nr*j.kn.nr)
	for jc := j0; jc < j1; jc += w {
		cw := min(w, j1-jc)
		buf.temp = grow(buf.temp, rows*cw)
		t := buf.temp
		j.kn.block(buf, rows, cw, j.k, j.alpha, a, i0, b, jc, 0, t, cw)
		mergeC(t, cw, rows, cw, j.beta, c, i0, jc)
	}
}

// block computes the m×n block of C whose top-left element is c[0]
// (row-major, leading dimension ldc) from rows i0.. of a and columns j0..
// of b, blocked for the kernel's caches.
func (kn *kernel) block(buf *buffers, m, n, k int, alpha float32, a Mat, i0 int, b Mat, j0 int, beta float32, c []float32, ldc int) {
	MR := kn.mr
	kn.reserve(buf, m, n, k)
	direct := kn.direct(a)
	rows := !direct && kn.rowCopy(a)
	fuse := kn.fuseB(direct || rows, b)
	mb, kb := kn.mBlock(m), kn.kBlock(k)
	for ic := 0; ic < m; ic += mb {
		mc := min(mb, m-ic)
		for pc := 0; pc < k; pc += kb {
			kc := min(kb, k-pc)
			be := beta
			if pc > 0 {
				be = 1
			}
			lda := a.RowStride
			switch {
			case rows:
				lda = rowStride(kc)
				copyRows(buf.a, lda, a, i0+ic, mc, pc, kc)
			case !direct:
				kn.packA(buf, buf.a, a, i0+ic, mc, pc, kc)
			}
			for jc := 0; jc < n; jc += kn.nb {
				nb := min(kn.nb, n-jc)
				kn.packB(buf, b, pc, kc, j0+jc, nb, fuse)
				for ir := 0; ir < mc; ir += MR {
					var ap []float32
					switch {
					case direct:
						ap = a.F32[a.Off+(i0+ic+ir)*a.RowStride+pc:]
					case rows:
						ap = buf.a[ir*lda:]
					default:
						ap = buf.a[ir*kc : (ir+MR)*kc]
					}
					if fuse && ir == 0 {
						kn.panelF(buf, direct || rows, ap, lda, min(MR, mc-ir), kc, nb, alpha, be, c[(ic+ir)*ldc+jc:], ldc, b, pc, j0+jc)
						continue
					}
					kn.panel(buf, direct || rows, ap, lda, min(MR, mc-ir), kc, 0, nb, alpha, be, c[(ic+ir)*ldc+jc:], ldc)
				}
			}
		}
	}
}

// kBlock is the K block for a depth of k: the fewest blocks of at most
// kn.kc, made equal (a short last block costs a whole extra pass over C).
func (kn *kernel) kBlock(k int) int { return ceilDiv(k, ceilDiv(k, kn.kc)) }

// mBlock is the M block for m rows: the fewest blocks of at most kn.mb (a
// multiple of MR), made equal in whole micro-panels.
func (kn *kernel) mBlock(m int) int {
	return ceilDiv(ceilDiv(m, ceilDiv(m, kn.mb)), kn.mr) * kn.mr
}

// reserve sizes buf for blocks of up to m×n×k.
func (kn *kernel) reserve(buf *buffers, m, n, k int) {
	kcMax := min(kn.kc, k)
	buf.a = grow(buf.a, ceilDiv(min(kn.mb, m), kn.mr)*kn.mr*rowStride(kcMax))
	buf.b = grow(buf.b, ceilDiv(min(kn.nb, n), kn.nr)*kn.nr*kcMax)
	buf.tile = grow(buf.tile, kn.mr*kn.nr)
}

// fuseB reports whether the first A panel of each block packs B on the
// way (runF, or runPF for packed A) rather than B being packed before: B
// is fp32 with unit column stride.
func (kn *kernel) fuseB(inPlace bool, b Mat) bool {
	if noFuse || b.F16 != nil || b.ColStride != 1 {
		return false
	}
	if inPlace {
		return kn.runF != nil
	}
	return kn.runPF != nil
}

// panelF is panel for the first A panel of a block when B is fused: the
// whole NR-column panels are read from b (steps p0.., columns j0..) and
// packed into buf.b by runF; the partial last panel, packed before, runs
// as in panel.
func (kn *kernel) panelF(buf *buffers, direct bool, ap []float32, lda, mr, kc, nb int, alpha, be float32, c []float32, ldc int, b Mat, p0, j0 int) {
	NR := kn.nr
	full := nb / NR * NR
	src := b.F32[b.Off+p0*b.RowStride+j0:]
	for jr := 0; jr < full; jr += NR {
		if direct {
			kn.runF(mr, kc, ap, lda, buf.b[jr*kc:(jr+NR)*kc], src[jr:], b.RowStride, c[jr:], ldc, alpha, be)
		} else {
			kn.runPF(mr, kc, ap, buf.b[jr*kc:(jr+NR)*kc], src[jr:], b.RowStride, c[jr:], ldc, alpha, be)
		}
	}
	kn.panel(buf, direct, ap, lda, mr, kc, full, nb, alpha, be, c, ldc)
}

// panel multiplies one A micro-panel of mr rows, ap (rows in place with
// leading dimension lda when direct, else a packed kc×MR panel), by
// columns from..nb of the packed columns in buf.b (from a multiple of NR),
// into c (row-major, leading dimension ldc): C = alpha*A*B + be*C.
func (kn *kernel) panel(buf *buffers, direct bool, ap []float32, lda, mr, kc, from, nb int, alpha, be float32, c []float32, ldc int) {
	NR := kn.nr
	tile := buf.tile
	for jr := from; jr < nb; jr += NR {
		nr := min(NR, nb-jr)
		bp := buf.b[jr*kc : (jr+NR)*kc]
		if nr == NR {
			if direct {
				kn.runU(mr, kc, ap, lda, bp, c[jr:], ldc, alpha, be)
			} else {
				kn.run(mr, kc, ap, bp, c[jr:], ldc, alpha, be)
			}
			continue
		}
		if direct {
			kn.runU(mr, kc, ap, lda, bp, tile, NR, alpha, 0)
		} else {
			kn.run(mr, kc, ap, bp, tile, NR, alpha, 0)
		}
		for r := 0; r < mr; r++ {
			dst := c[jr+r*ldc : jr+r*ldc+nr]
			src := tile[r*NR : r*NR+nr]
			if be == 0 {
				copy(dst, src)
				continue
			}
			for x, v := range src {
				dst[x] = v + be*dst[x]
			}
		}
	}
}

// dynamicEntry is part i of the multiply of batch entry j.bb when the
// parts share the columns out as they go rather than fixed in advance: a
// slow or descheduled goroutine then costs one chunk's time, not half the
// work. A is read in place, copied by rows panel by panel as the parts
// first need them (rowPanel), or packed once, all of it, by the parts
// together (claiming panels too); then each part claims chunks of j.w columns from j.claim and,
// for each K block, packs that chunk of B and runs every A micro-panel
// over it. Chunks are independent (a chunk owns its columns of C across
// all K blocks), so the parts never wait for each other after packing.
func (j *job) dynamicEntry(buf *buffers, part int) {
	kn := j.kn
	MR := kn.mr
	a, b, c := j.a, j.b, j.c
	a.Off += j.bb * a.BatchStride
	b.Off += j.bb * b.BatchStride
	c.Off += j.bb * c.BatchStride
	m, n, k := j.m, j.n, j.k
	direct := kn.direct(a)
	rows := !direct && kn.rowCopy(a)
	fuse := kn.fuseB(direct || rows, b)
	ldr := rowStride(k) // the row stride of A's copy when rows
	npan := ceilDiv(m, MR)
	kb := kn.kBlock(k)
	if !direct && !rows {
		// Pack A, panel by claimed panel: K block pi, panel q at
		// pi*npan*MR*kn.kc + q*MR*kc. Then wait for the panels others
		// claimed; a goroutine waits only on work in progress, never on a
		// part that has not started, so parts queued behind other jobs
		// cannot deadlock.
		for {
			q := int(j.pclaim.Add(1) - 1)
			if q >= npan {
				break
			}
			for pi, pc := 0, 0; pc < k; pi, pc = pi+1, pc+kb {
				kc := min(kb, k-pc)
				kn.packA(buf, j.apack[pi*npan*MR*kn.kc+q*MR*kc:], a, q*MR, min(MR, m-q*MR), pc, kc)
			}
			j.packed.Add(1)
		}
		for j.packed.Load() < int64(npan) {
			runtime.Gosched()
		}
	}
	kn.reserve(buf, MR, j.w, k)
	ldc := c.RowStride
	for {
		jc := int(j.claim.Add(1)-1) * j.w
		if jc >= n {
			return
		}
		cw := min(j.w, n-jc)
		for pi, pc := 0, 0; pc < k; pi, pc = pi+1, pc+kb {
			kc := min(kb, k-pc)
			be := j.beta
			if pc > 0 {
				be = 1
			}
			kn.packB(buf, b, pc, kc, jc, cw, fuse)
			for q := 0; q < npan; q++ {
				i := q * MR
				var ap []float32
				lda := a.RowStride
				switch {
				case direct:
					ap = a.F32[a.Off+i*a.RowStride+pc:]
				case rows:
					ap, lda = j.rowPanel(a, q, ldr)
					ap = ap[pc:]
				default:
					base := pi*npan*MR*kn.kc + q*MR*kc
					ap = j.apack[base : base+MR*kc]
				}
				if fuse && q == 0 {
					kn.panelF(buf, direct || rows, ap, lda, min(MR, m-i), kc, cw, j.alpha, be, c.F32[c.Off+i*ldc+jc:], ldc, b, pc, jc)
					continue
				}
				kn.panel(buf, direct || rows, ap, lda, min(MR, m-i), kc, 0, cw, j.alpha, be, c.F32[c.Off+i*ldc+jc:], ldc)
			}
		}
	}
}

// States of an A panel's row copy in a dynamic split.
const (
	copyIdle = iota
	copyBusy
	copyDone
)

// rowPanel returns A panel q of batch entry j.bb (a, already offset) for a
// dynamic split that copies A by rows (stride ldr): the copy, made now by
// the first part to need it; or, while another part is making it, fp32 A
// in place (fp16 A waits for the copy). No part waits on a part that has
// not started, and fp32 parts never wait at all.
func (j *job) rowPanel(a Mat, q, ldr int) ([]float32, int) {
	MR := j.kn.mr
	i := q * MR
	st := &j.astate[q]
	if st.Load() == copyIdle && st.CompareAndSwap(copyIdle, copyBusy) {
		copyRows(j.apack[i*ldr:], ldr, a, i, min(MR, j.m-i), 0, j.k)
		st.Store(copyDone)
	}
	if st.Load() != copyDone {
		if a.F16 == nil {
			return a.F32[a.Off+i*a.RowStride:], a.RowStride
		}
		for st.Load() != copyDone {
			runtime.Gosched()
		}
	}
	return j.apack[i*ldr:], ldr
}

// packA packs rows i0..i0+mc, steps p0..p0+kc of a into dst as
// ceil(mc/MR) panels of kc×MR, zero-padding missing rows.
func (kn *kernel) packA(buf *buffers, dst []float32, a Mat, i0, mc, p0, kc int) {
	MR := kn.mr
	for q := 0; q*MR < mc; q++ {
		panel := dst[q*MR*kc : (q+1)*MR*kc]
		mr := min(MR, mc-q*MR)
		base := a.Off + (i0+q*MR)*a.RowStride + p0*a.ColStride
		switch {
		case a.RowStride == 1 && a.F16 == nil && kn.packAT != nil:
			kn.packAT(panel, a.F32[base:], a.ColStride, kc, mr)
			continue // rows mr.. zeroed too
		case a.RowStride == 1 && a.F16 == nil: // Aᵀ stored: each step is a run
			for p := 0; p < kc; p++ {
				s := base + p*a.ColStride
				copy(panel[p*MR:p*MR+mr], a.F32[s:s+mr])
			}
		case a.RowStride == 1:
			for p := 0; p < kc; p++ {
				s := base + p*a.ColStride
				f16.Decode(panel[p*MR:p*MR+mr], a.F16[s:s+mr])
			}
		default: // gather each row, then scatter it down the panel
			for r := 0; r < mr; r++ {
				row := gatherRow(buf, a, base+r*a.RowStride, kc)
				scatter(panel[r:], row, MR)
			}
		}
		if mr < MR {
			for p := 0; p < kc; p++ {
				clear(panel[p*MR+mr : (p+1)*MR])
			}
		}
	}
}

// copyRows copies rows i0..i0+mc, steps p0..p0+kc of a (unit column
// stride) into dst, row r at dst[r*ld:], decoding fp16.
func copyRows(dst []float32, ld int, a Mat, i0, mc, p0, kc int) {
	for r := 0; r < mc; r++ {
		s := a.Off + (i0+r)*a.RowStride + p0
		d := dst[r*ld : r*ld+kc]
		if a.F16 != nil {
			f16.Decode(d, a.F16[s:s+kc])
		} else {
			copy(d, a.F32[s:s+kc])
		}
	}
}

// packB packs steps p0..p0+kc, columns j0..j0+nb of b into buf.b as
// ceil(nb/NR) panels of kc×NR, zero-padding missing columns. With fused,
// only the partial last panel is packed (runF packs the others).
func (kn *kernel) packB(buf *buffers, b Mat, p0, kc, j0, nb int, fused bool) {
	NR := kn.nr
	dst := buf.b
	q0 := 0
	if fused {
		q0 = nb / NR
	} else if kn.packB32 != nil && b.ColStride == 1 && b.F16 == nil && nb >= NR && kc > 0 {
		q0 = nb / NR
		s := b.Off + p0*b.RowStride + j0
		kn.packB32(dst, b.F32[s:s+(kc-1)*b.RowStride+q0*NR], b.RowStride, kc, q0)
	}
	for q := q0; q*NR < nb; q++ {
		panel := dst[q*NR*kc : (q+1)*NR*kc]
		nr := min(NR, nb-q*NR)
		base := b.Off + p0*b.RowStride + (j0+q*NR)*b.ColStride
		switch {
		case b.ColStride == 1 && b.F16 == nil: // row-major: each step is a run
			for p := 0; p < kc; p++ {
				s := base + p*b.RowStride
				copy(panel[p*NR:p*NR+nr], b.F32[s:s+nr])
			}
		case b.ColStride == 1:
			for p := 0; p < kc; p++ {
				s := base + p*b.RowStride
				f16.Decode(panel[p*NR:p*NR+nr], b.F16[s:s+nr])
			}
		case b.RowStride == 1 && b.F16 == nil && nr == NR && kn.packBT != nil:
			kn.packBT(panel, b.F32[base:], b.ColStride, kc)
		default: // gather each column, then scatter it down the panel
			// Swap roles: column x of b is a "row" with stride RowStride.
			bt := b.T()
			for x := 0; x < nr; x++ {
				col := gatherRow(buf, bt, base+x*b.ColStride, kc)
				scatter(panel[x:], col, NR)
			}
		}
		if nr < NR {
			for p := 0; p < kc; p++ {
				clear(panel[p*NR+nr : (p+1)*NR])
			}
		}
	}
}

// gatherRow returns the n elements of m starting at index s with step
// m.ColStride, as float32: a subslice of m.F32 when contiguous, else
// buf.row.
func gatherRow(buf *buffers, m Mat, s, n int) []float32 {
	if m.ColStride == 1 && m.F16 == nil {
		return m.F32[s : s+n]
	}
	buf.row = grow(buf.row, n)
	row := buf.row
	switch {
	case m.ColStride == 1:
		f16.Decode(row, m.F16[s:s+n])
	case m.F16 != nil:
		for p := range row {
			row[p] = f16.ToFloat32(m.F16[s+p*m.ColStride])
		}
	default:
		for p := range row {
			row[p] = m.F32[s+p*m.ColStride]
		}
	}
	return row
}

// scatter writes src[p] to dst[p*stride].
func scatter(dst, src []float32, stride int) {
	if len(src) == 0 {
		return
	}
	_ = dst[(len(src)-1)*stride]
	for p, v := range src {
		dst[p*stride] = v
	}
}

// mergeC stores rows×cols of t (leading dimension ldt) into C at (i0, j0)
// of the (already batch-offset) view c: C = t + beta*C, C not read when
// beta == 0, fp16 rounded once.
func mergeC(t []float32, ldt, rows, cols int, beta float32, c Mat, i0, j0 int) {
	for i := 0; i < rows; i++ {
		src := t[i*ldt : i*ldt+cols]
		base := c.Off + (i0+i)*c.RowStride + j0*c.ColStride
		if c.F16 != nil {
			if beta == 0 && c.ColStride == 1 {
				f16.Encode(c.F16[base:base+cols], src)
				continue
			}
			for x, v := range src {
				s := base + x*c.ColStride
				if beta != 0 {
					v += beta * f16.ToFloat32(c.F16[s])
				}
				c.F16[s] = f16.FromFloat32(v)
			}
			continue
		}
		for x, v := range src {
			s := base + x*c.ColStride
			if beta != 0 {
				v += beta * c.F32[s]
			}
			c.F32[s] = v
		}
	}
}

// scaleC sets C[bb] = beta*C[bb] (zero when beta == 0), for k == 0.
func scaleC(bb, m, n int, beta float32, c Mat) {
	for i := 0; i < m; i++ {
		for x := 0; x < n; x++ {
			v := float32(0)
			if beta != 0 {
				v = beta * c.at(bb, i, x)
			}
			c.set(bb, i, x, v)
		}
	}
}

// noDirect forces A packing even where a kernel could read A in place (for
// tests and benchmarks).
var noDirect bool

// noDynamic forces the static split of a multiply across goroutines (for
// tests and benchmarks).
var noDynamic bool

// noFuse forces B to be packed before the kernels run (for tests and
// benchmarks).
var noFuse bool
