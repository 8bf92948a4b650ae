package cpu

import "github.com/anekit/anekit/pkg/anert"

// runner is one step of a plan bound to one binding's memory.
type runner interface{ run() }

// stepDesc is one step of a plan, independent of any binding.
type stepDesc interface {
	bind(b *binding) runner
}

type binding struct {
	k       *kernel
	in, out *anert.Surface
	arena   []float32
	pool    *pool
	scratch [][]float32 // per worker
	hs      [][]uint16  // per worker, chunk halves for conversions
	steps   []runner
	closed  bool
}

// operand resolves v to this binding's memory.
func (b *binding) operand(v view) operand {
	o := operand{off: v.off, st: v.st}
	bi := &b.k.plan.bufs[v.buf]
	switch bi.kind {
	case bufIn:
		o.f16 = b.in.Halves()
	case bufOut:
		o.f16 = b.out.Halves()
	case bufArena:
		o.f32 = b.arena[bi.off : bi.off+bi.size]
	case bufConst:
		o.f32 = bi.data
	}
	return o
}

func (d *ewDesc) bind(b *binding) runner { return bindEW(d, b, false, 0) }

// bindEW binds d. keepLast keeps the last axis as the rows' axis (a
// softmax's producer computes whole rows of the softmax axis); otherwise
// rows are whatever coalescing leaves. scrOff is where its registers start
// in each worker's scratch.
func bindEW(d *ewDesc, b *binding, keepLast bool, scrOff int) *ewRun {
	r := &ewRun{d: d, scratch: b.scratch, hs: b.hs, pool: b.pool, scrOff: scrOff}
	sts := [][]int{d.out.st}
	for _, l := range d.leaves {
		if !l.scalar {
			sts = append(sts, l.v.st)
		}
	}
	var shape []int
	var cs [][]int
	if keepLast {
		last := len(d.shape) - 1
		outer := make([][]int, len(sts))
		for k, st := range sts {
			outer[k] = st[:last]
		}
		shape, cs = coalesce(d.shape[:last], outer...)
		shape = append(shape, d.shape[last])
		for k, st := range sts {
			cs[k] = append(cs[k], st[last])
		}
	} else {
		shape, cs = coalesce(d.shape, sts...)
	}
	last := len(shape) - 1
	r.inner = shape[last]
	r.outer = shape[:last]
	r.rows = elems(r.outer)
	r.chunks = (r.inner + chunk - 1) / chunk
	r.rowsPer = 1
	if !keepLast && r.inner < chunk/2 && r.rows > 1 {
		r.rowsPer = chunk / max(r.inner, 1)
		r.units = (r.rows + r.rowsPer - 1) / r.rowsPer
	} else {
		r.units = r.rows * r.chunks
	}
	r.out = b.operand(d.out)
	r.out.st = cs[0]
	k := 1
	for _, l := range d.leaves {
		if l.scalar {
			c := make([]float32, chunk)
			for i := range c {
				c[i] = l.c
			}
			r.leaves = append(r.leaves, operand{konst: c})
			continue
		}
		o := b.operand(l.v)
		o.st = cs[k]
		k++
		r.leaves = append(r.leaves, o)
	}
	r.regs = make([][][]float32, b.pool.threads())
	for w := range r.regs {
		r.regs[w] = make([][]float32, d.nregs())
	}
	return r
}

func (r *ewRun) run() { r.pool.run(r, r.parts(r.pool.threads())) }
