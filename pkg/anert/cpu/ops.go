package cpu

import (
	"math"

	"github.com/anekit/anekit/internal/gemm"
	"github.com/anekit/anekit/pkg/mil"
)

// ---- matmul (and 1x1 conv) ----

// mmDesc is C = alpha * A·B over broadcast batch axes: a is [..., M, K],
// b [..., K, N], c [..., M, N] (transposes already folded into the views),
// all with the batch shape of c (stride 0 where an operand broadcasts).
type mmDesc struct {
	a, b, c view
	m, n, k int
	alpha   float32
	round   bool // round c to fp16 afterwards (c is a dense fp32 buffer)
}

type mmRun struct {
	d             *mmDesc
	a, b, c       gemm.Mat
	outer         []int // batch axes looped here; the last batch axis goes to gemm
	aSt, bSt, cSt []int
	batch, outerN int
	rnd           roundTask
	pool          *pool
}

func matOf(o operand, rs, cs, bs int) gemm.Mat {
	return gemm.Mat{F32: o.f32, F16: o.f16, Off: o.off, RowStride: rs, ColStride: cs, BatchStride: bs}
}

func (d *mmDesc) bind(b *binding) runner {
	r := &mmRun{d: d, pool: b.pool}
	nb := len(d.c.shape) - 2
	bshape := d.c.shape[:nb]
	as, bs, cs := d.a.st[:nb], d.b.st[:nb], d.c.st[:nb]
	shape, sts := coalesce(bshape, as, bs, cs)
	last := len(shape) - 1
	r.batch = shape[last]
	r.outer = shape[:last]
	r.aSt, r.bSt, r.cSt = sts[0][:last], sts[1][:last], sts[2][:last]
	r.outerN = elems(r.outer)
	oa, ob, oc := b.operand(d.a), b.operand(d.b), b.operand(d.c)
	r.a = matOf(oa, d.a.st[nb], d.a.st[nb+1], sts[0][last])
	r.b = matOf(ob, d.b.st[nb], d.b.st[nb+1], sts[1][last])
	r.c = matOf(oc, d.c.st[nb], d.c.st[nb+1], sts[2][last])
	if d.round && oc.f32 != nil {
		r.rnd.buf = oc.f32[d.c.off : d.c.off+extent(d.c)] // with any row padding
		r.rnd.hs = b.hs
	}
	return r
}

func (r *mmRun) run() {
	d := r.d
	for o := 0; o < r.outerN; o++ {
		A, B, C := r.a, r.b, r.c
		rem := o
		for k := len(r.outer) - 1; k >= 0; k-- {
			i := rem % r.outer[k]
			rem /= r.outer[k]
			A.Off += i * r.aSt[k]
			B.Off += i * r.bSt[k]
			C.Off += i * r.cSt[k]
		}
		gemm.Batched(r.batch, d.m, d.n, d.k, d.alpha, A, B, 0, C)
	}
	if r.rnd.buf != nil {
		r.pool.run(&r.rnd, partsFor(len(r.rnd.buf), len(r.rnd.buf)/chunk+1, r.pool.threads()))
	}
}

// roundTask rounds a buffer to fp16 in parallel pieces.
type roundTask struct {
	buf []float32
	hs  [][]uint16
}

func (t *roundTask) work(w, part, parts int) {
	n := len(t.buf)
	roundHalves(t.buf[part*n/parts:(part+1)*n/parts], t.hs[w])
}

// ---- softmax ----

// smDesc is a softmax along the last axis of pre's shape (the softmax axis
// moved last); pre computes the input row by row and pre.out is the
// softmax's output.
type smDesc struct {
	pre      *ewDesc
	l        int  // row length
	round    bool // round the result to fp16
	roundPre bool // round the input to fp16 first (strict mode)
}

type smRun struct {
	d    *smDesc
	pre  *ewRun
	pool *pool
}

func (d *smDesc) bind(b *binding) runner {
	return &smRun{d: d, pre: bindEW(d.pre, b, true, rowScratch(d.l)), pool: b.pool}
}

func (r *smRun) run() {
	p := r.pre
	r.pool.run(r, partsFor(p.rows*r.d.l*(5+len(p.d.code)), p.rows, r.pool.threads()))
}

func (r *smRun) work(w, part, parts int) {
	p := r.pre
	l := r.d.l
	x := p.scratch[w][:l]
	hs := p.hs[w]
	out := &p.out
	os := out.st[len(p.outer)]
	for row := part * p.rows / parts; row < (part+1)*p.rows/parts; row++ {
		for c0 := 0; c0 < l; c0 += chunk {
			n := min(chunk, l-c0)
			if res := p.eval(w, row, row+1, c0, n, x[c0:c0+n]); &res[0] != &x[c0] {
				copy(x[c0:c0+n], res)
			}
		}
		if r.d.roundPre {
			roundHalves(x, hs)
		}
		ob := out.base(p.outer, row)
		y := x
		if out.f32 != nil && os == 1 {
			y = out.f32[ob : ob+l]
		}
		softmaxRow(y, x)
		if r.d.round && out.f32 != nil { // an fp16 store rounds anyway
			roundHalves(y, hs)
		}
		out.store(y, ob, os, hs)
	}
}

// softmaxRow sets y = softmax(x); y may be x.
func softmaxRow(y, x []float32) {
	y = y[:len(x)]
	s := expAffine(y, x, 1, -softmaxMax(x))
	scaleRow(y, 1/s)
}

// ---- reductions ----

type redKind uint8

const (
	redSum redKind = iota
	redMean
	redMax
)

// redDesc reduces in over the axes where out (a dense fp32 buffer seen
// broadcast to in's shape) has stride 0.
type redDesc struct {
	in, out view // same shape (in's); out has stride 0 on reduced axes
	kind    redKind
	count   int // elements reduced into each output
	size    int // output elements
	round   bool
}

type redRun struct {
	d       *redDesc
	outer   []int
	l, rows int
	in, out operand
	all     []float32 // the whole output buffer
	indep   bool      // every row feeds a different output element
	cols    redCols
	scratch [][]float32
	hs      [][]uint16
	pool    *pool
}

func (d *redDesc) bind(b *binding) runner {
	r := &redRun{d: d, pool: b.pool, scratch: b.scratch, hs: b.hs}
	r.cols.r = r
	shape, sts := coalesce(d.in.shape, d.in.st, d.out.st)
	last := len(shape) - 1
	r.l = shape[last]
	r.outer = shape[:last]
	r.rows = elems(r.outer)
	r.in, r.out = b.operand(d.in), b.operand(d.out)
	r.in.st, r.out.st = sts[0], sts[1]
	r.all = r.out.f32[d.out.off : d.out.off+d.size]
	r.indep = sts[1][last] == 0
	for _, s := range sts[1][:last] {
		if s == 0 {
			r.indep = false
		}
	}
	return r
}

func (r *redRun) run() {
	init := float32(0)
	if r.d.kind == redMax {
		init = float32(math.Inf(-1))
	}
	for i := range r.all {
		r.all[i] = init
	}
	switch {
	case r.indep: // parts take rows
		r.pool.run(r, partsFor(r.rows*r.l, r.rows, r.pool.threads()))
	case r.out.st[len(r.outer)] != 0: // parts take columns, each its own outputs
		r.pool.run(&r.cols, partsFor(r.rows*r.l, r.l/16+1, r.pool.threads()))
	default:
		r.work(0, 0, 1)
	}
	if r.d.kind == redMean {
		inv := 1 / float32(r.d.count)
		for i := range r.all {
			r.all[i] *= inv
		}
	}
	if r.d.round {
		roundHalves(r.all, r.hs[0])
	}
}

// redCols is a redRun split by columns (the kept inner axis).
type redCols struct{ r *redRun }

func (t *redCols) work(w, part, parts int) {
	c0, c1 := part*t.r.l/parts&^15, (part+1)*t.r.l/parts&^15
	if part == parts-1 {
		c1 = t.r.l
	}
	t.r.reduce(w, 0, t.r.rows, c0, c1)
}

func (r *redRun) work(w, part, parts int) {
	r.reduce(w, part*r.rows/parts, (part+1)*r.rows/parts, 0, r.l)
}

// reduce accumulates rows [r0, r1), columns [k0, k1) of the input.
func (r *redRun) reduce(w, r0, r1, k0, k1 int) {
	scr := r.scratch[w]
	li := len(r.outer)
	is, os := r.in.st[li], r.out.st[li]
	for row := r0; row < r1; row++ {
		ob := r.out.base(r.outer, row)
		for c0 := k0; c0 < k1; c0 += chunk {
			n := min(chunk, k1-c0)
			x := r.in.load(scr[:n], r.hs[w], r.in.base(r.outer, row)+c0*is, is, n)
			if os == 0 {
				acc := r.out.f32[ob]
				if r.d.kind == redMax {
					for _, v := range x {
						acc = max(acc, v)
					}
				} else {
					for _, v := range x {
						acc += v
					}
				}
				r.out.f32[ob] = acc
				continue
			}
			o := ob + c0*os
			if r.d.kind == redMax {
				for i, v := range x {
					r.out.f32[o+i*os] = max(r.out.f32[o+i*os], v)
				}
			} else {
				for i, v := range x {
					r.out.f32[o+i*os] += v
				}
			}
		}
	}
}

// rowRedDesc reduces along the last axis: pre computes the input row by
// row (a fused elementwise producer, or a plain load) and pre.out is the
// dense fp32 result seen with stride 0 along that axis.
type rowRedDesc struct {
	pre      *ewDesc
	kind     redKind
	round    bool // round the result to fp16
	roundPre bool // round the input to fp16 first (strict mode)
}

type rowRedRun struct {
	d    *rowRedDesc
	pre  *ewRun
	pool *pool
}

func (d *rowRedDesc) bind(b *binding) runner {
	return &rowRedRun{d: d, pre: bindEW(d.pre, b, true, chunk), pool: b.pool}
}

func (r *rowRedRun) run() {
	p := r.pre
	r.pool.run(r, partsFor(p.rows*p.inner*(1+len(p.d.code)), p.rows, r.pool.threads()))
}

func (r *rowRedRun) work(w, part, parts int) {
	p := r.pre
	l := p.inner
	x := p.scratch[w][:chunk]
	out := &p.out
	for row := part * p.rows / parts; row < (part+1)*p.rows/parts; row++ {
		acc := float32(0)
		if r.d.kind == redMax {
			acc = float32(negInf)
		}
		for c0 := 0; c0 < l; c0 += chunk {
			n := min(chunk, l-c0)
			v := p.eval(w, row, row+1, c0, n, x[:n])
			if r.d.roundPre {
				roundHalves(v, p.hs[w]) // v is x: the group has code
			}
			if r.d.kind == redMax {
				acc = max(acc, softmaxMax(v))
			} else {
				acc += sumRow(v)
			}
		}
		if r.d.kind == redMean {
			acc *= 1 / float32(l)
		}
		if r.d.round {
			acc = roundHalf(acc)
		}
		out.f32[out.base(p.outer, row)] = acc
	}
}

// sumRow returns the sum of x, accumulated in float32 in four interleaved
// partial sums.
func sumRow(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// ---- im2col for general convolutions ----

// im2colDesc gathers the patches of x [N, G*Cin, H, W] into col
// [N, G, Cin*KH*KW, OH*OW], zero where the window overhangs the padding.
type im2colDesc struct {
	x, col view
	cp     mil.ConvParams
	k, out [2]int
	groups int
}

type im2colRun struct {
	d   *im2colDesc
	x   operand
	col []float32
	scr []float32
	hs  []uint16
}

func (d *im2colDesc) bind(b *binding) runner {
	o := b.operand(d.col)
	return &im2colRun{d: d, x: b.operand(d.x), col: o.f32[d.col.off : d.col.off+elems(d.col.shape)], scr: b.scratch[0], hs: b.hs[0]}
}

func (r *im2colRun) run() {
	d := r.d
	xs, st := d.x.shape, r.x.st
	sw, dw, pw := d.cp.Strides[1], d.cp.Dilations[1], d.cp.PadBefore[1]
	ow := d.out[1]
	i := 0
	for n := 0; n < xs[0]; n++ {
		for ch := 0; ch < xs[1]; ch++ {
			for a := 0; a < d.k[0]; a++ {
				for b := 0; b < d.k[1]; b++ {
					// the output columns whose input column iw = o*sw + b*dw - pw is inside the row
					off := b*dw - pw
					o0 := 0
					if off < 0 {
						o0 = min((-off+sw-1)/sw, ow)
					}
					o1 := 0
					if last := xs[3] - 1 - off; last >= 0 {
						o1 = min(last/sw+1, ow)
					}
					o1 = max(o1, o0)
					for oh := 0; oh < d.out[0]; oh++ {
						ih := oh*d.cp.Strides[0] + a*d.cp.Dilations[0] - d.cp.PadBefore[0]
						row := r.col[i : i+ow]
						i += ow
						if ih < 0 || ih >= xs[2] || o0 == o1 {
							clear(row)
							continue
						}
						clear(row[:o0])
						clear(row[o1:])
						base := r.x.off + n*st[0] + ch*st[1] + ih*st[2] + (o0*sw+off)*st[3]
						r.x.fill(row[o0:o1], r.hs, base, sw*st[3])
					}
				}
			}
		}
	}
}
