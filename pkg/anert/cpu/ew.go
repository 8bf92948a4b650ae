package cpu

import (
	"math"

	"github.com/anekit/anekit/internal/f16"
)

// The elementwise engine runs a fused group of elementwise ops (one op, or
// a chain such as sigmoid -> mul -> mul) over a strided output, chunk by
// chunk: operands are loaded (in place when they are contiguous fp32,
// gathered or converted from fp16 otherwise) into chunk-sized registers, a
// short instruction list runs over them, and the result is stored.

const chunk = 1024

type opcode uint8

const (
	opAdd opcode = iota
	opSub
	opMul
	opDiv
	opPow
	opMax
	opMin
	// unary from here on
	opExp
	opSqrt
	opRsqrt // p1 = epsilon
	opSquare
	opTanh
	opSigmoid
	opSilu
	opRelu
	opRoundHalf
	opCopy
)

func (o opcode) unary() bool { return o >= opExp }

// instr computes reg[dst] = op(reg[a], reg[b]) with parameters p1, p2.
type instr struct {
	op     opcode
	a, b   int
	p1, p2 float32
}

// ewLeaf is an operand of a group: a tensor view broadcast to the output
// shape, or a scalar constant.
type ewLeaf struct {
	v      view
	scalar bool
	c      float32
}

// ewDesc is a compiled elementwise group. Registers 0..len(leaves)-1 hold
// the leaves, register len(leaves)+i the result of code[i]; the last
// register is the result.
type ewDesc struct {
	shape  []int // output shape
	out    view
	leaves []ewLeaf
	code   []instr
	round  bool // round the result to fp16 (when out is fp32 storage)
}

func (d *ewDesc) nregs() int { return len(d.leaves) + len(d.code) }

// operand is a view resolved to memory in one binding.
type operand struct {
	f32   []float32
	f16   []uint16
	konst []float32 // scalar leaf: chunk copies of the value
	off   int
	st    []int
}

func (o *operand) base(outer []int, row int) int {
	b := o.off
	for k := len(outer) - 1; k >= 0; k-- {
		b += (row % outer[k]) * o.st[k]
		row /= outer[k]
	}
	return b
}

// load returns elements pos, pos+s, ... (n of them) of o as fp32, using
// buf when they must be copied or converted.
func (o *operand) load(buf []float32, h []uint16, pos, s, n int) []float32 {
	if o.konst != nil {
		return o.konst[:n]
	}
	buf = buf[:n]
	if o.f32 != nil {
		switch s {
		case 1:
			return o.f32[pos : pos+n]
		case 0:
			v := o.f32[pos]
			for i := range buf {
				buf[i] = v
			}
		default:
			for i := range buf {
				buf[i] = o.f32[pos+i*s]
			}
		}
		return buf
	}
	switch s {
	case 1:
		f16.Decode(buf, o.f16[pos:pos+n])
	case 0:
		v := f16.ToFloat32(o.f16[pos])
		for i := range buf {
			buf[i] = v
		}
	default: // gather the halves, then convert them together
		for n0 := 0; n0 < n; n0 += len(h) {
			m := min(len(h), n-n0)
			for i := range h[:m] {
				h[i] = o.f16[pos+(n0+i)*s]
			}
			f16.Decode(buf[n0:n0+m], h[:m])
		}
	}
	return buf
}

// store writes src to elements pos, pos+s, ... of o; h is scratch of any
// non-zero length for a strided fp16 store (converted in bulk, then
// scattered).
func (o *operand) store(src []float32, pos, s int, h []uint16) {
	n := len(src)
	if o.f32 != nil {
		if s == 1 {
			dst := o.f32[pos : pos+n]
			if &dst[0] != &src[0] {
				copy(dst, src)
			}
			return
		}
		for i, v := range src {
			o.f32[pos+i*s] = v
		}
		return
	}
	if s == 1 {
		f16.Encode(o.f16[pos:pos+n], src)
		return
	}
	for n0 := 0; n0 < n; n0 += len(h) {
		m := min(len(h), n-n0)
		f16.Encode(h[:m], src[n0:n0+m])
		p := pos + n0*s
		for _, v := range h[:m] {
			o.f16[p] = v
			p += s
		}
	}
}

// fill copies elements pos, pos+s, ... of o into dst as fp32 (len(dst)
// of them), converting fp16 through h.
func (o *operand) fill(dst []float32, h []uint16, pos, s int) {
	if src := o.load(dst, h, pos, s, len(dst)); len(src) > 0 && &src[0] != &dst[0] {
		copy(dst, src)
	}
}

// ewRun is an ewDesc bound to one binding's memory. Its rows are the
// coalesced outer index; a unit of work is one chunk of one row, or, when
// rows are short, several whole rows gathered into one chunk.
type ewRun struct {
	d       *ewDesc
	outer   []int // coalesced shape without its last axis
	inner   int
	rows    int
	chunks  int // per row (rowsPer == 1)
	rowsPer int // rows per unit: > 1 when a row is shorter than half a chunk
	units   int
	out     operand
	leaves  []operand
	regs    [][][]float32 // per worker, nregs slices
	scratch [][]float32   // per worker, at least scrOff + nregs*chunk floats
	scrOff  int           // where this run's registers start in scratch
	hs      [][]uint16    // per worker, chunk halves
	pool    *pool
}

func (r *ewRun) parts(threads int) int {
	return partsFor(r.rows*r.inner*(1+len(r.d.code)), r.units, threads)
}

// eval computes the group on rows [r0, r1), elements [start, start+n) of
// each (several rows only with start 0 and n = inner) on worker w and
// returns the (r1-r0)*n results: in dst if dst is non-nil and the group
// has code, else in scratch or, for a group without code, possibly in the
// leaf's own memory.
func (r *ewRun) eval(w, r0, r1, start, n int, dst []float32) []float32 {
	regs := r.regs[w]
	scr := r.scratch[w][r.scrOff:]
	nl := len(r.leaves)
	last := len(r.outer)
	tot := (r1 - r0) * n
	for i := range r.leaves {
		l := &r.leaves[i]
		if l.konst != nil {
			regs[i] = l.konst[:tot]
			continue
		}
		s := l.st[last]
		if r1-r0 == 1 {
			regs[i] = l.load(scr[i*chunk:], r.hs[w], l.base(r.outer, r0)+start*s, s, n)
			continue
		}
		buf := scr[i*chunk : i*chunk+tot]
		for rr := r0; rr < r1; rr++ {
			l.fill(buf[(rr-r0)*n:(rr-r0+1)*n], r.hs[w], l.base(r.outer, rr)+start*s, s)
		}
		regs[i] = buf
	}
	if len(r.d.code) == 0 {
		return regs[0]
	}
	for k := range r.d.code {
		var d []float32
		if k == len(r.d.code)-1 && dst != nil {
			d = dst[:tot]
		} else {
			d = scr[(nl+k)*chunk : (nl+k)*chunk+tot]
		}
		in := &r.d.code[k]
		var b []float32
		if !in.op.unary() {
			b = regs[in.b]
		}
		exec(in, d, regs[in.a], b)
		regs[nl+k] = d
	}
	return regs[nl+len(r.d.code)-1]
}

func (r *ewRun) work(w, part, parts int) {
	last := len(r.outer)
	os := r.out.st[last]
	round := r.d.round && r.out.f32 != nil && len(r.d.code) > 0
	u0, u1 := part*r.units/parts, (part+1)*r.units/parts
	for u := u0; u < u1; u++ {
		if r.rowsPer > 1 {
			r0 := u * r.rowsPer
			r1 := min(r0+r.rowsPer, r.rows)
			res := r.eval(w, r0, r1, 0, r.inner, nil)
			if round {
				roundHalves(res, r.hs[w])
			}
			for rr := r0; rr < r1; rr++ {
				r.out.store(res[(rr-r0)*r.inner:(rr-r0+1)*r.inner], r.out.base(r.outer, rr), os, r.hs[w])
			}
			continue
		}
		row, c := u/r.chunks, u%r.chunks
		start := c * chunk
		n := min(chunk, r.inner-start)
		ob := r.out.base(r.outer, row) + start*os
		var dst []float32
		if r.out.f32 != nil && os == 1 {
			dst = r.out.f32[ob : ob+n] // the last op writes in place
		}
		res := r.eval(w, row, row+1, start, n, dst)
		if round {
			roundHalves(res, r.hs[w])
		}
		r.out.store(res, ob, os, r.hs[w])
	}
}

func exec(in *instr, d, a, b []float32) {
	a = a[:len(d)]
	switch in.op {
	case opAdd:
		binaryRow(opAdd, d, a, b)
	case opSub:
		binaryRow(opSub, d, a, b)
	case opMul:
		binaryRow(opMul, d, a, b)
	case opDiv:
		binaryRow(opDiv, d, a, b)
	case opPow:
		b = b[:len(d)]
		for i := range d {
			d[i] = powf(a[i], b[i])
		}
	case opMax:
		b = b[:len(d)]
		for i := range d {
			d[i] = max(a[i], b[i])
		}
	case opMin:
		b = b[:len(d)]
		for i := range d {
			d[i] = min(a[i], b[i])
		}
	case opExp:
		expAffine(d, a, 1, 0)
	case opSqrt:
		for i := range d {
			d[i] = float32(math.Sqrt(float64(a[i])))
		}
	case opRsqrt:
		for i := range d {
			d[i] = float32(1 / math.Sqrt(float64(a[i])+float64(in.p1)))
		}
	case opSigmoid:
		expAffine(d, a, -1, 0)
		for i := range d {
			d[i] = 1 / (1 + d[i])
		}
	case opTanh:
		for i := range d {
			d[i] = tanhf(a[i])
		}
	case opRelu:
		for i := range d {
			d[i] = max(a[i], 0)
		}
	case opSilu:
		if len(d) > 0 && &d[0] == &a[0] {
			for i := range d {
				d[i] = a[i] * sigmoidf(a[i])
			}
			break
		}
		expAffine(d, a, -1, 0)
		for i := range d {
			d[i] = a[i] / (1 + d[i])
		}
	case opSquare:
		for i := range d {
			d[i] = a[i] * a[i]
		}
	case opRoundHalf:
		for i := range d {
			d[i] = roundHalf(a[i])
		}
	case opCopy:
		copy(d, a)
	}
}

func powf(x, y float32) float32 {
	switch y {
	case 1:
		return x
	case 2:
		return x * x
	case 0.5:
		return float32(math.Sqrt(float64(x)))
	case -0.5:
		return float32(1 / math.Sqrt(float64(x)))
	case -1:
		return 1 / x
	}
	return float32(math.Pow(float64(x), float64(y)))
}

// partsFor splits work of cost n (about one unit per element-op) over at
// most units pieces and threads goroutines; small work stays on one.
func partsFor(n, units, threads int) int {
	const grain = 1 << 15
	p := min(threads, units, max(1, n/grain))
	return max(p, 1)
}
