package cpu

import (
	"fmt"
	"slices"
	"sort"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
)

type bufKind uint8

const (
	bufIn bufKind = iota
	bufOut
	bufArena
	bufConst
)

type bufInfo struct {
	kind        bufKind
	size        int       // elements
	data        []float32 // bufConst
	off         int       // bufArena: offset in the arena
	first, last int       // bufArena: steps that touch it first and last
}

// plan is a compiled program: buffers, and steps in execution order.
type plan struct {
	bufs    []bufInfo
	steps   []stepDesc
	arena   int // floats
	scratch int // floats per worker
	in, out [4]int
}

type value struct {
	typ      mil.Type
	v        view // tensors: where the elements live
	tensor   bool // v is valid
	isScalar bool // an fp scalar constant
	scalar   float32
}

type compiler struct {
	p      *plan
	f      *mil.Function
	sc     *mil.Scope
	blobs  anert.BlobSource
	strict bool

	vals      map[string]*value
	uses      map[string]int
	needed    map[*mil.Op]bool
	inline    map[*mil.Op]*mil.Op // elementwise op -> the consumer it is fused into
	alphaMul  map[*mil.Op]*mil.Op // mul -> the matmul it absorbs
	absorbed  map[*mil.Op]bool    // matmuls computed by their mul
	rowPre    map[*mil.Op]*mil.Op // softmax or row reduction -> the elementwise op computed inside it
	mmFused   map[*mil.Op]bool    // matmul (or its scaling mul) whose result a fused group rounds
	dest      map[string]view     // where a value must end up
	preStore  map[string]view     // concat results allocated ahead of their inputs
	stepBufs  [][]int
	blobCache map[string][]byte
}

func (c *compiler) errf(op *mil.Op, format string, a ...any) error {
	where := ""
	if op.Line > 0 {
		where = fmt.Sprintf("line %d: ", op.Line)
	}
	return fmt.Errorf("cpu: %s%s %q: %s", where, op.Kind, op.Result, fmt.Sprintf(format, a...))
}

func surfaceShape(t mil.Type) ([4]int, bool) {
	if !t.Tensor || t.DType != mil.FP16 || len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[2] != 1 {
		return [4]int{}, false
	}
	return [4]int{1, t.Shape[1], 1, t.Shape[3]}, true
}

func compile(p *mil.Program, blobs anert.BlobSource, strict bool) (*plan, error) {
	if p == nil {
		return nil, fmt.Errorf("cpu: nil program")
	}
	f := p.Main()
	if f == nil {
		return nil, fmt.Errorf("cpu: program has no function main")
	}
	sc, err := mil.NewScope(f)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	if len(f.Inputs) != 1 || len(f.Outputs) != 1 {
		return nil, fmt.Errorf("cpu: main has %d inputs and %d outputs; a kernel has one of each", len(f.Inputs), len(f.Outputs))
	}
	pl := &plan{}
	var ok bool
	if pl.in, ok = surfaceShape(f.Inputs[0].Type); !ok {
		return nil, fmt.Errorf("cpu: input %s is %s; want fp16 [1, C, 1, S]", f.Inputs[0].Name, f.Inputs[0].Type)
	}
	ot, _ := sc.Type(f.Outputs[0])
	if pl.out, ok = surfaceShape(ot); !ok {
		return nil, fmt.Errorf("cpu: output %s is %s; want fp16 [1, C, 1, S]", f.Outputs[0], ot)
	}
	c := &compiler{p: pl, f: f, sc: sc, blobs: blobs, strict: strict,
		vals: map[string]*value{}, uses: map[string]int{}, needed: map[*mil.Op]bool{},
		inline: map[*mil.Op]*mil.Op{}, rowPre: map[*mil.Op]*mil.Op{}, mmFused: map[*mil.Op]bool{}, alphaMul: map[*mil.Op]*mil.Op{}, absorbed: map[*mil.Op]bool{},
		dest: map[string]view{}, preStore: map[string]view{}, blobCache: map[string][]byte{}}
	pl.bufs = append(pl.bufs, bufInfo{kind: bufIn, size: pl.in[1] * pl.in[3]}, bufInfo{kind: bufOut, size: pl.out[1] * pl.out[3]})
	in := f.Inputs[0]
	c.vals[in.Name] = &value{typ: in.Type, tensor: true, v: denseView(0, in.Type.Shape)}

	c.analyse()
	c.planDestinations()
	for _, op := range f.Ops {
		if !c.needed[op] || c.inline[op] != nil || c.absorbed[op] {
			continue
		}
		if err := c.op(op); err != nil {
			return nil, err
		}
	}
	o := c.vals[f.Outputs[0]]
	if target := denseView(1, ot.Shape); !sameView(o.v, target) {
		c.copy(o.v, target)
	}
	c.allocate()
	return pl, nil
}

// analyse counts uses, marks the ops the output needs, and (unless
// strict) picks the fusions.
func (c *compiler) analyse() {
	for _, op := range c.f.Ops {
		for _, a := range op.Args {
			for _, r := range a.Refs {
				c.uses[r]++
			}
		}
	}
	for _, o := range c.f.Outputs {
		c.uses[o]++
	}
	live := map[string]bool{c.f.Outputs[0]: true}
	for i := len(c.f.Ops) - 1; i >= 0; i-- {
		op := c.f.Ops[i]
		if !live[op.Result] {
			continue
		}
		c.needed[op] = true
		for _, a := range op.Args {
			for _, r := range a.Refs {
				live[r] = true
			}
		}
	}
	if !c.strict {
		c.fuseElementwise()
	}
	if noFusion {
		return
	}
	// A softmax, or a reduction along the last axis, computes its
	// single-use elementwise producer row by row (in strict mode that
	// producer is one op, rounded before the softmax or reduction).
	for _, op := range c.f.Ops {
		if !c.needed[op] || (op.Kind != "softmax" && !c.rowReduce(op)) {
			continue
		}
		r := op.Arg("x").Refs[0]
		p := c.sc.Def(r)
		if p == nil || !isElementwise(p.Kind) || c.alphaMul[p] != nil || c.inline[p] != nil || c.uses[r] != 1 ||
			!p.Type.Tensor {
			continue
		}
		c.inline[p] = op
		c.rowPre[op] = p
	}
	if c.strict {
		return
	}
	// A matmul whose result goes (through single-use reshapes and
	// transposes) only into an elementwise group or a softmax is not
	// rounded: it is an fp32 intermediate of that group.
	for _, op := range c.f.Ops {
		if !c.needed[op] || (op.Kind != "matmul" && c.alphaMul[op] == nil) || c.absorbed[op] {
			continue
		}
		name := op.Result
		for {
			u := c.soleUse(name)
			if u == nil {
				break
			}
			if u.Kind == "reshape" || u.Kind == "transpose" {
				name = u.Result
				continue
			}
			if (isElementwise(u.Kind) && u.Type.Tensor) || u.Kind == "softmax" {
				c.mmFused[op] = true
			}
			break
		}
	}
}

// noFusion turns off the row fusions (softmax and reduction producers,
// unrounded matmuls into fused groups), for tests that compare the fused
// plan with the plain one.
var noFusion bool

// rowReduce reports whether op reduces along the last axis only.
func (c *compiler) rowReduce(op *mil.Op) bool {
	if op.Kind != "reduce_sum" && op.Kind != "reduce_mean" && op.Kind != "reduce_max" {
		return false
	}
	t, ok := c.sc.ArgType(op, "x")
	axes := c.sc.Params(op).Axes
	return ok && len(axes) == 1 && axes[0] == len(t.Shape)-1
}

// soleUse returns the op that reads name when it is read by exactly one
// needed op, once, and is not a function output.
func (c *compiler) soleUse(name string) *mil.Op {
	if c.uses[name] != 1 || slices.Contains(c.f.Outputs, name) {
		return nil
	}
	for _, op := range c.f.Ops {
		if !c.needed[op] {
			continue
		}
		for _, a := range op.Args {
			if slices.Contains(a.Refs, name) {
				return op
			}
		}
	}
	return nil
}

// fuseElementwise picks the default mode's fusions: scaled matmuls and
// elementwise chains.
func (c *compiler) fuseElementwise() {
	for _, op := range c.f.Ops {
		if !c.needed[op] || !isElementwise(op.Kind) {
			continue
		}
		if op.Kind == "mul" {
			if mm, ok := c.scaledMatmul(op); ok {
				c.alphaMul[op] = mm
				c.absorbed[mm] = true
				continue
			}
		}
		for _, a := range op.Args {
			for _, r := range a.Refs {
				p := c.sc.Def(r)
				if p == nil || !isElementwise(p.Kind) || c.alphaMul[p] != nil || c.uses[r] != 1 ||
					!p.Type.Tensor || !slices.Equal(p.Type.Shape, op.Type.Shape) {
					continue
				}
				c.inline[p] = op
			}
		}
	}
}

// scaledMatmul reports whether mul op multiplies the single-use result of a
// matmul by a scalar constant (fused into the GEMM's alpha).
func (c *compiler) scaledMatmul(op *mil.Op) (*mil.Op, bool) {
	x, y := op.Arg("x"), op.Arg("y")
	if x == nil || y == nil {
		return nil, false
	}
	for _, pair := range [][2]string{{x.Refs[0], y.Refs[0]}, {y.Refs[0], x.Refs[0]}} {
		mm := c.sc.Def(pair[0])
		k := c.sc.Const(pair[1])
		if mm != nil && mm.Kind == "matmul" && c.uses[pair[0]] == 1 && k != nil && !k.Type.Tensor &&
			(k.Type.DType == mil.FP16 || k.Type.DType == mil.FP32) && len(k.Floats) == 1 {
			return mm, true
		}
	}
	return nil, false
}

// planDestinations walks back from the output: a value used only by a
// reshape, transpose or concat whose result has a place is computed
// straight into its part of that place (the output surface, or a concat's
// buffer), so no copy is needed.
func (c *compiler) planDestinations() {
	if out := c.f.Outputs[0]; out != c.f.Inputs[0].Name {
		c.dest[out] = denseView(1, c.p.shapeOut())
	}
	canDest := func(x string) bool {
		d := c.sc.Def(x)
		return d != nil && d.Kind != "const" && c.uses[x] == 1
	}
	for i := len(c.f.Ops) - 1; i >= 0; i-- {
		op := c.f.Ops[i]
		if !c.needed[op] {
			continue
		}
		D, has := c.dest[op.Result]
		switch op.Kind {
		case "reshape", "transpose":
			x := op.Arg("x").Refs[0]
			if !has || !canDest(x) {
				continue
			}
			if op.Kind == "transpose" {
				c.dest[x] = D.untranspose(c.sc.Params(op).Perm)
			} else if xt, _ := c.sc.Type(x); true {
				if v, ok := D.reshape(xt.Shape); ok {
					c.dest[x] = v
				}
			}
		case "concat":
			refs := op.Arg("values").Refs
			pr := c.sc.Params(op)
			if len(refs) == 1 {
				if has && canDest(refs[0]) {
					c.dest[refs[0]] = D
				}
				continue
			}
			if pr.Interleave {
				continue
			}
			if !has {
				D = c.newArena(op.Type.Shape)
				c.preStore[op.Result] = D
			}
			count := map[string]int{}
			for _, r := range refs {
				count[r]++
			}
			at := 0
			for _, r := range refs {
				t, _ := c.sc.Type(r)
				if count[r] == 1 && canDest(r) {
					c.dest[r] = D.slice(axisBegin(len(t.Shape), pr.Axis, at), t.Shape)
				}
				at += t.Shape[pr.Axis]
			}
		}
	}
}

func (p *plan) shapeOut() []int { return []int{1, p.out[1], 1, p.out[3]} }

func axisBegin(rank, axis, at int) []int {
	b := make([]int, rank)
	b[axis] = at
	return b
}

// outRows is out for the results of matmuls, softmaxes and elementwise
// groups: a new arena buffer whose rows (last axis) are a multiple of 512
// floats gets 16 floats of padding after each row, so that a GEMM reading
// it as an operand steps through memory by a stride that is not a multiple
// of 2 KiB (such strides pile a micro-panel's rows into a few L1 sets, and
// internal/gemm then copies the operand rather than reading it in place).
// Views of such a buffer are strided like any other; a reshape that would
// merge its last axis copies.
func (c *compiler) outRows(op *mil.Op) view {
	if d, ok := c.dest[op.Result]; ok {
		return d
	}
	shape := op.Type.Shape
	r := len(shape)
	if !padRows || r < 2 || shape[r-1]%512 != 0 || elems(shape[:r-1]) < 64 {
		return c.newArena(shape)
	}
	const pad = 16
	rows := elems(shape[:r-1])
	c.p.bufs = append(c.p.bufs, bufInfo{kind: bufArena, size: rows * (shape[r-1] + pad), first: -1})
	v := denseView(len(c.p.bufs)-1, shape)
	st := shape[r-1] + pad
	for i := r - 2; i >= 0; i-- {
		v.st[i] = st
		st *= shape[i]
	}
	return v
}

// padRows enables outRows' padding (tests and benchmarks turn it off).
var padRows = true

// extent is the number of elements from v's first to its last, inclusive.
func extent(v view) int {
	n := 1
	for i, d := range v.shape {
		if d == 0 {
			return 0
		}
		n += (d - 1) * v.st[i]
	}
	return n
}

func (c *compiler) newArena(shape []int) view {
	c.p.bufs = append(c.p.bufs, bufInfo{kind: bufArena, size: max(elems(shape), 1), first: -1})
	return denseView(len(c.p.bufs)-1, shape)
}

// out returns where the result of op goes: its destination, or a new
// arena buffer.
func (c *compiler) out(op *mil.Op) view {
	if d, ok := c.dest[op.Result]; ok {
		return d
	}
	return c.newArena(op.Type.Shape)
}

func (c *compiler) emit(s stepDesc, vs ...view) {
	c.p.steps = append(c.p.steps, s)
	var bufs []int
	for _, v := range vs {
		bufs = append(bufs, v.buf)
	}
	c.stepBufs = append(c.stepBufs, bufs)
}

// copy emits dst = src (same shapes).
func (c *compiler) copy(src, dst view) {
	d := &ewDesc{shape: dst.shape, out: dst, leaves: []ewLeaf{{v: src.broadcastTo(dst.shape)}}}
	c.emit(d, src, dst)
	c.p.scratch = max(c.p.scratch, chunk)
}

// set defines op's result as the tensor at v, copying it to its
// destination if it has one elsewhere.
func (c *compiler) set(op *mil.Op, v view) {
	if d, ok := c.dest[op.Result]; ok && !sameView(v, d) {
		c.copy(v, d)
		v = d
	}
	c.vals[op.Result] = &value{typ: op.Type, tensor: true, v: v}
}

func (c *compiler) tensorArg(op *mil.Op, arg string) (*value, error) {
	a := op.Arg(arg)
	if a == nil || len(a.Refs) != 1 {
		return nil, c.errf(op, "missing argument %s", arg)
	}
	return c.tensorVal(op, a.Refs[0])
}

func (c *compiler) tensorVal(op *mil.Op, name string) (*value, error) {
	v := c.vals[name]
	if v == nil {
		return nil, c.errf(op, "%s is not an fp16/fp32 value the cpu backend holds", name)
	}
	if !v.tensor {
		if !v.isScalar {
			return nil, c.errf(op, "%s is not an fp16/fp32 value the cpu backend holds", name)
		}
		// a scalar constant used as a tensor: a one-element buffer
		c.p.bufs = append(c.p.bufs, bufInfo{kind: bufConst, size: 1, data: []float32{v.scalar}})
		v.v = view{buf: len(c.p.bufs) - 1}
		v.tensor = true
	}
	return v, nil
}

func (c *compiler) op(op *mil.Op) error {
	switch k := op.Kind; {
	case k == "const":
		return c.constOp(op)
	case k == "reshape":
		x, err := c.tensorArg(op, "x")
		if err != nil {
			return err
		}
		v, ok := x.v.reshape(op.Type.Shape)
		if !ok {
			m := c.newArena(x.v.shape)
			c.copy(x.v, m)
			v, _ = m.reshape(op.Type.Shape)
		}
		c.set(op, v)
	case k == "transpose":
		x, err := c.tensorArg(op, "x")
		if err != nil {
			return err
		}
		c.set(op, x.v.transpose(c.sc.Params(op).Perm))
	case k == "slice_by_size":
		x, err := c.tensorArg(op, "x")
		if err != nil {
			return err
		}
		c.set(op, x.v.slice(c.sc.Params(op).Begin, op.Type.Shape))
	case k == "concat":
		return c.concat(op)
	case k == "matmul":
		return c.matmul(op, op, 1)
	case k == "conv":
		return c.conv(op)
	case k == "softmax":
		return c.softmax(op)
	case k == "reduce_sum" || k == "reduce_mean" || k == "reduce_max":
		return c.reduce(op)
	case c.alphaMul[op] != nil:
		k := c.sc.Const(op.Arg("y").Refs[0])
		if k == nil {
			k = c.sc.Const(op.Arg("x").Refs[0])
		}
		return c.matmul(c.alphaMul[op], op, k.Floats[0])
	case isElementwise(k):
		return c.elementwise(op)
	default:
		return c.errf(op, "op not supported by the cpu backend")
	}
	return nil
}

func (c *compiler) constOp(op *mil.Op) error {
	val := op.Val
	if val == nil {
		return c.errf(op, "const without a val")
	}
	t := op.Type
	if t.DType != mil.FP16 && t.DType != mil.FP32 {
		return nil // int, bool, string: read through the scope's Params
	}
	data := val.Floats
	if val.Blob != nil {
		if c.blobs == nil {
			return c.errf(op, "names blob %s but no BlobSource was given", val.Blob.Path)
		}
		file, ok := c.blobCache[val.Blob.Path]
		if !ok {
			var err error
			if file, err = c.blobs(val.Blob.Path); err != nil {
				return c.errf(op, "%v", err)
			}
			c.blobCache[val.Blob.Path] = file
		}
		var err error
		if data, err = readBlob(file, val.Blob.Path, val.Blob.Offset, t); err != nil {
			return c.errf(op, "%v", err)
		}
	}
	if len(data) != t.Elems() {
		return c.errf(op, "val holds %d values, %s needs %d", len(data), t, t.Elems())
	}
	if !t.Tensor {
		c.vals[op.Result] = &value{typ: t, isScalar: true, scalar: data[0]}
		return nil
	}
	c.p.bufs = append(c.p.bufs, bufInfo{kind: bufConst, size: len(data), data: data})
	c.set(op, denseView(len(c.p.bufs)-1, t.Shape))
	return nil
}

func (c *compiler) concat(op *mil.Op) error {
	refs := op.Arg("values").Refs
	pr := c.sc.Params(op)
	if len(refs) == 1 {
		x, err := c.tensorVal(op, refs[0])
		if err != nil {
			return err
		}
		c.set(op, x.v)
		return nil
	}
	D, ok := c.preStore[op.Result]
	if !ok {
		D = c.out(op)
	}
	at := 0
	for i, r := range refs {
		x, err := c.tensorVal(op, r)
		if err != nil {
			return err
		}
		shape := x.v.shape
		var target view
		if pr.Interleave {
			// value i takes every len(refs)-th slot along the axis
			target = D.slice(axisBegin(len(shape), pr.Axis, i), op.Type.Shape)
			target.shape = slices.Clone(shape)
			target.st = slices.Clone(D.st)
			target.st[pr.Axis] *= len(refs)
		} else {
			target = D.slice(axisBegin(len(shape), pr.Axis, at), shape)
		}
		at += shape[pr.Axis]
		if !sameView(x.v, target) {
			c.copy(x.v, target)
		}
	}
	c.set(op, D)
	return nil
}

// matmul emits the product of mm's operands, times alpha, as the result
// of op (mm itself, or the mul that scales it).
func (c *compiler) matmul(mm, op *mil.Op, alpha float32) error {
	x, err := c.tensorArg(mm, "x")
	if err != nil {
		return err
	}
	y, err := c.tensorArg(mm, "y")
	if err != nil {
		return err
	}
	pr := c.sc.Params(mm)
	a, b := x.v, y.v
	if pr.TransposeX {
		a = a.transpose(swapLast(len(a.shape)))
	}
	if pr.TransposeY {
		b = b.transpose(swapLast(len(b.shape)))
	}
	shape := op.Type.Shape
	r := len(shape)
	m, n, k := shape[r-2], shape[r-1], a.shape[len(a.shape)-1]
	batch := shape[:r-2]
	a = a.broadcastTo(append(slices.Clone(batch), m, k))
	b = b.broadcastTo(append(slices.Clone(batch), k, n))
	out := c.outRows(op)
	d := &mmDesc{a: a, b: b, c: out, m: m, n: n, k: k, alpha: alpha,
		round: op.Type.DType == mil.FP16 && c.p.bufs[out.buf].kind == bufArena && !c.mmFused[op]}
	c.emit(d, a, b, out)
	c.set(op, out)
	return nil
}

func swapLast(r int) []int {
	p := make([]int, r)
	for i := range p {
		p[i] = i
	}
	p[r-1], p[r-2] = p[r-2], p[r-1]
	return p
}

// conv runs a convolution as GEMMs. The 1x1, stride-1, unpadded,
// ungrouped convolution of the research kernels reads x in place:
// y[o, hw] = Σ_i W[o, i] x[i, hw] (+ bias[o]). Any other 2-D convolution
// first gathers x's patches (im2col) into a buffer, then multiplies each
// group's weights by them.
func (c *compiler) conv(op *mil.Op) error {
	cp := c.sc.Params(op).Conv
	x, err := c.tensorArg(op, "x")
	if err != nil {
		return err
	}
	w, err := c.tensorArg(op, "weight")
	if err != nil {
		return err
	}
	xs, ws, ys := x.v.shape, w.v.shape, op.Type.Shape
	g := cp.Groups
	cout, cin, kh, kw := ws[0], ws[1], ws[2], ws[3]
	og, ohw := cout/g, ys[2]*ys[3]
	kk := cin * kh * kw
	out := c.out(op)
	cv, ok := out.reshape([]int{ys[0], g, og, ohw})
	if !ok {
		out = c.newArena(ys)
		cv, _ = out.reshape([]int{ys[0], g, og, ohw})
	}
	a, ok := w.v.reshape([]int{1, g, og, kk})
	if !ok {
		m := c.newArena(ws)
		c.copy(w.v, m)
		a, _ = m.reshape([]int{1, g, og, kk})
	}
	simple := g == 1 && kh == 1 && kw == 1 && cp.Strides == [2]int{1, 1} &&
		cp.PadBefore == [2]int{} && cp.PadAfter == [2]int{}
	var b view
	if simple {
		if b, ok = x.v.reshape([]int{xs[0], 1, cin, ohw}); !ok {
			m := c.newArena(xs)
			c.copy(x.v, m)
			b, _ = m.reshape([]int{xs[0], 1, cin, ohw})
		}
	} else {
		col := c.newArena([]int{xs[0], g, kk, ohw})
		c.p.scratch = max(c.p.scratch, 1)
		c.emit(&im2colDesc{x: x.v, col: col, cp: *cp, k: [2]int{kh, kw}, out: [2]int{ys[2], ys[3]}, groups: g}, x.v, col)
		b = col
	}
	arena := c.p.bufs[out.buf].kind == bufArena
	a = a.broadcastTo([]int{ys[0], g, og, kk})
	c.emit(&mmDesc{a: a, b: b, c: cv, m: og, n: ohw, k: kk, alpha: 1,
		round: op.Type.DType == mil.FP16 && arena && cp.Bias == ""}, a, b, out)
	if cp.Bias != "" {
		bias, err := c.tensorVal(op, cp.Bias)
		if err != nil {
			return err
		}
		bv, _ := bias.v.reshape([]int{cout, 1, 1})
		d := &ewDesc{shape: out.shape, out: out, round: op.Type.DType == mil.FP16,
			leaves: []ewLeaf{{v: out}, {v: bv.broadcastTo(out.shape)}},
			code:   []instr{{op: opAdd, a: 0, b: 1}}}
		c.emit(d, out, bv)
		c.p.scratch = max(c.p.scratch, 3*chunk)
	}
	c.set(op, out)
	return nil
}

func moveLast(v view, axis int) view {
	perm := make([]int, 0, len(v.shape))
	for i := range v.shape {
		if i != axis {
			perm = append(perm, i)
		}
	}
	return v.transpose(append(perm, axis))
}

// softmax emits a row-wise softmax along its axis. Its input is computed
// row by row by an elementwise group: the fused producer (smPre), or a
// plain load of x.
func (c *compiler) softmax(op *mil.Op) error {
	axis := c.sc.Params(op).Axis
	out := c.outRows(op)
	pre, roundPre, err := c.rowProducer(op, op.Type.Shape)
	if err != nil {
		return err
	}
	vs := []view{out}
	for i, l := range pre.leaves {
		if !l.scalar {
			pre.leaves[i].v = moveLast(l.v, axis)
			vs = append(vs, l.v)
		}
	}
	pre.out = moveLast(out, axis)
	pre.shape = pre.out.shape
	l := op.Type.Shape[axis]
	d := &smDesc{pre: pre, round: op.Type.DType == mil.FP16, roundPre: roundPre, l: l}
	c.emit(d, vs...)
	c.p.scratch = max(c.p.scratch, rowScratch(l)+pre.nregs()*chunk)
	c.set(op, out)
	return nil
}

// rowProducer returns what a row op (softmax, a last-axis reduction) reads
// per row: the single-use elementwise producer fused into it (c.rowPre), or
// a plain load of its x of the given shape; roundPre says whether the fused
// producer's result must be rounded to fp16 first (strict mode).
func (c *compiler) rowProducer(op *mil.Op, shape []int) (pre *ewDesc, roundPre bool, err error) {
	if p := c.rowPre[op]; p != nil {
		pre, err = c.buildEW(p)
		return pre, c.strict && p.Type.DType == mil.FP16, err
	}
	x, err := c.tensorArg(op, "x")
	if err != nil {
		return nil, false, err
	}
	return &ewDesc{shape: shape, leaves: []ewLeaf{{v: x.v}}}, false, nil
}

// rowScratch is the scratch a row of l floats takes, rounded up to 64 bytes.
func rowScratch(l int) int { return (l + 15) &^ 15 }

func (c *compiler) reduce(op *mil.Op) error {
	pr := c.sc.Params(op)
	xt, ok := c.sc.ArgType(op, "x")
	if !ok {
		return c.errf(op, "missing argument x")
	}
	buf := c.newArena(op.Type.Shape)
	kshape := slices.Clone(xt.Shape)
	count := 1
	for _, a := range pr.Axes {
		count *= kshape[a]
		kshape[a] = 1
	}
	ov := denseView(buf.buf, kshape)
	for _, a := range pr.Axes {
		ov.st[a] = 0
	}
	ov.shape = slices.Clone(xt.Shape)
	kind := map[string]redKind{"reduce_sum": redSum, "reduce_mean": redMean, "reduce_max": redMax}[op.Kind]
	round := op.Type.DType == mil.FP16
	if c.rowReduce(op) {
		pre, roundPre, err := c.rowProducer(op, xt.Shape)
		if err != nil {
			return err
		}
		pre.out = ov
		vs := []view{buf}
		for _, l := range pre.leaves {
			if !l.scalar {
				vs = append(vs, l.v)
			}
		}
		c.emit(&rowRedDesc{pre: pre, kind: kind, round: round, roundPre: roundPre}, vs...)
		c.p.scratch = max(c.p.scratch, chunk+pre.nregs()*chunk)
		c.set(op, buf)
		return nil
	}
	x, err := c.tensorArg(op, "x")
	if err != nil {
		return err
	}
	c.emit(&redDesc{in: x.v, out: ov, kind: kind, count: count, size: elems(op.Type.Shape),
		round: round}, x.v, buf)
	c.p.scratch = max(c.p.scratch, chunk)
	c.set(op, buf)
	return nil
}

func isElementwise(kind string) bool {
	_, ok := ewOps[kind]
	return ok || kind == "cast"
}

var ewOps = map[string]opcode{
	"add": opAdd, "sub": opSub, "mul": opMul, "real_div": opDiv, "pow": opPow,
	"maximum": opMax, "minimum": opMin,
	"exp": opExp, "sqrt": opSqrt, "rsqrt": opRsqrt, "square": opSquare, "tanh": opTanh,
	"sigmoid": opSigmoid, "silu": opSilu, "relu": opRelu,
}

// elementwise emits op and the elementwise ops fused into it as one group.
func (c *compiler) elementwise(op *mil.Op) error {
	if !op.Type.Tensor {
		return c.foldScalar(op)
	}
	d, err := c.buildEW(op)
	if err != nil {
		return err
	}
	d.out = c.outRows(op)
	vs := []view{d.out}
	for _, l := range d.leaves {
		if !l.scalar {
			vs = append(vs, l.v)
		}
	}
	c.emit(d, vs...)
	c.p.scratch = max(c.p.scratch, d.nregs()*chunk)
	c.set(op, d.out)
	return nil
}

// buildEW compiles op and the elementwise ops fused into it into a group
// over op's shape (without its output view).
func (c *compiler) buildEW(op *mil.Op) (*ewDesc, error) {
	d := &ewDesc{shape: op.Type.Shape, round: op.Type.DType == mil.FP16}
	leafOf := map[string]int{}
	var code []instr
	var gen func(o *mil.Op) (int, error)
	ref := func(o *mil.Op, name string) (int, error) {
		if p := c.sc.Def(name); p != nil && c.inline[p] == o {
			return gen(p)
		}
		if i, ok := leafOf[name]; ok {
			return -i - 1, nil
		}
		v := c.vals[name]
		if v == nil {
			return 0, c.errf(o, "%s is not an fp16/fp32 value the cpu backend holds", name)
		}
		l := ewLeaf{scalar: v.isScalar && !v.tensor, c: v.scalar}
		if !l.scalar {
			l.v = v.v.broadcastTo(d.shape)
		}
		d.leaves = append(d.leaves, l)
		leafOf[name] = len(d.leaves) - 1
		return -len(d.leaves), nil
	}
	gen = func(o *mil.Op) (int, error) {
		in := instr{}
		if o.Kind == "cast" {
			switch c.sc.Params(o).DType {
			case mil.FP16:
				in.op = opRoundHalf
			case mil.FP32:
				in.op = opCopy
			default:
				return 0, c.errf(o, "the cpu backend casts only to fp16 or fp32")
			}
			if t, _ := c.sc.ArgType(o, "x"); t.DType != mil.FP16 && t.DType != mil.FP32 {
				return 0, c.errf(o, "the cpu backend casts only from fp16 or fp32")
			}
		} else {
			in.op = ewOps[o.Kind]
			if o.Kind == "rsqrt" {
				in.p1 = float32(c.sc.Params(o).Epsilon)
			}
		}
		if o.Type.DType != mil.FP16 && o.Type.DType != mil.FP32 {
			return 0, c.errf(o, "the cpu backend computes on fp16 and fp32 only, not %s", o.Type.DType)
		}
		var err error
		if in.a, err = ref(o, o.Arg("x").Refs[0]); err != nil {
			return 0, err
		}
		if !in.op.unary() {
			if in.b, err = ref(o, o.Arg("y").Refs[0]); err != nil {
				return 0, err
			}
		}
		code = append(code, in)
		r := len(code) - 1
		if c.strict && o != op && o.Type.DType == mil.FP16 {
			code = append(code, instr{op: opRoundHalf, a: r})
			r++
		}
		return r, nil
	}
	if _, err := gen(op); err != nil {
		return nil, err
	}
	nl := len(d.leaves)
	fix := func(r int) int {
		if r < 0 {
			return -r - 1
		}
		return nl + r
	}
	for i := range code {
		code[i].a = fix(code[i].a)
		if !code[i].op.unary() {
			code[i].b = fix(code[i].b)
		}
	}
	d.code = code
	return d, nil
}

// foldScalar evaluates an elementwise op on scalar constants at compile time.
func (c *compiler) foldScalar(op *mil.Op) error {
	get := func(arg string) (float32, error) {
		v := c.vals[op.Arg(arg).Refs[0]]
		if v == nil || !v.isScalar {
			return 0, c.errf(op, "scalar operand %s is not an fp16/fp32 constant", arg)
		}
		return v.scalar, nil
	}
	x, err := get("x")
	if err != nil {
		return err
	}
	in := instr{op: ewOps[op.Kind]}
	if op.Kind == "cast" {
		in.op = opCopy
		if c.sc.Params(op).DType == mil.FP16 {
			in.op = opRoundHalf
		}
	}
	if op.Kind == "rsqrt" {
		in.p1 = float32(c.sc.Params(op).Epsilon)
	}
	y := float32(0)
	if !in.op.unary() {
		if y, err = get("y"); err != nil {
			return err
		}
	}
	r := []float32{0}
	exec(&in, r, []float32{x}, []float32{y})
	if op.Type.DType == mil.FP16 {
		r[0] = roundHalf(r[0])
	}
	c.vals[op.Result] = &value{typ: op.Type, isScalar: true, scalar: r[0]}
	return nil
}

// allocate gives each arena buffer an offset: buffers whose lifetimes
// (first to last step touching them) do not overlap share memory.
func (c *compiler) allocate() {
	bufs := c.p.bufs
	for s, bs := range c.stepBufs {
		for _, b := range bs {
			if bufs[b].kind != bufArena {
				continue
			}
			if bufs[b].first < 0 {
				bufs[b].first = s
			}
			bufs[b].last = s
		}
	}
	type seg struct{ off, size int }
	var free []seg
	end := 0
	alloc := func(n int) int {
		n = (n + 15) &^ 15
		best := -1
		for i, f := range free {
			if f.size >= n && (best < 0 || f.size < free[best].size) {
				best = i
			}
		}
		if best < 0 {
			if k := len(free) - 1; k >= 0 && free[k].off+free[k].size == end {
				off := free[k].off
				free = free[:k]
				end = off + n
				return off
			}
			off := end
			end += n
			return off
		}
		off := free[best].off
		free[best].off += n
		free[best].size -= n
		if free[best].size == 0 {
			free = slices.Delete(free, best, best+1)
		}
		return off
	}
	release := func(off, n int) {
		n = (n + 15) &^ 15
		free = append(free, seg{off, n})
		sort.Slice(free, func(i, j int) bool { return free[i].off < free[j].off })
		merged := free[:1]
		for _, f := range free[1:] {
			l := &merged[len(merged)-1]
			if l.off+l.size == f.off {
				l.size += f.size
			} else {
				merged = append(merged, f)
			}
		}
		free = merged
	}
	byFirst := map[int][]int{}
	byLast := map[int][]int{}
	for i, b := range bufs {
		if b.kind == bufArena && b.first >= 0 {
			byFirst[b.first] = append(byFirst[b.first], i)
			byLast[b.last] = append(byLast[b.last], i)
		}
	}
	for s := range c.stepBufs {
		for _, i := range byFirst[s] {
			bufs[i].off = alloc(bufs[i].size)
		}
		for _, i := range byLast[s] {
			release(bufs[i].off, bufs[i].size)
		}
	}
	c.p.arena = end
}
