package mil

import (
	"fmt"
	"slices"
	"strings"
)

// An argSpec describes one argument an op takes.
type argSpec struct {
	name     string
	required bool
	tuple    bool // values=(a,b,...)
}

type opSpec struct {
	args  []argSpec
	infer func(c *ictx) Type
}

var opSpecs map[string]*opSpec

func req(n string) argSpec { return argSpec{name: n, required: true} }
func opt(n string) argSpec { return argSpec{name: n} }

func init() {
	opSpecs = map[string]*opSpec{
		"const":         {nil, inferConst},
		"slice_by_size": {[]argSpec{req("x"), req("begin"), req("size")}, inferSlice},
		"reshape":       {[]argSpec{req("x"), req("shape")}, inferReshape},
		"transpose":     {[]argSpec{req("x"), req("perm")}, inferTranspose},
		"matmul":        {[]argSpec{req("x"), req("y"), opt("transpose_x"), opt("transpose_y")}, inferMatMul},
		"conv": {[]argSpec{req("x"), req("weight"), opt("bias"), opt("strides"), opt("pad_type"),
			opt("pad"), opt("dilations"), opt("groups")}, inferConv},
		"concat":  {[]argSpec{{name: "values", required: true, tuple: true}, req("axis"), opt("interleave")}, inferConcat},
		"softmax": {[]argSpec{req("x"), opt("axis")}, inferSoftmax},
		"cast":    {[]argSpec{req("x"), req("dtype")}, inferCast},
		"rsqrt":   {[]argSpec{req("x"), opt("epsilon")}, inferUnary},
	}
	for _, k := range []string{"add", "sub", "mul", "real_div", "maximum", "minimum", "pow"} {
		opSpecs[k] = &opSpec{[]argSpec{req("x"), req("y")}, inferBinary}
	}
	for _, k := range []string{"exp", "sqrt", "square", "tanh", "sigmoid", "silu", "relu"} {
		opSpecs[k] = &opSpec{[]argSpec{req("x")}, inferUnary}
	}
	for _, k := range []string{"reduce_sum", "reduce_mean", "reduce_max"} {
		opSpecs[k] = &opSpec{[]argSpec{req("x"), opt("axes"), opt("keep_dims")}, inferReduce}
	}
}

// ictx is the state of inferring one op.
type ictx struct {
	sc *Scope
	op *Op
	p  *Params
}

func (c *ictx) fail(format string, args ...any) {
	msg := fmt.Sprintf("%s %q: ", c.op.Kind, c.op.Result) + fmt.Sprintf(format, args...)
	panic(bailout{&Error{Line: c.op.Line, Col: c.op.Col, Msg: msg}})
}

// infer checks the op's arguments against its spec and returns its type.
func (c *ictx) infer() Type {
	op := c.op
	if op.Kind == "" {
		c.fail("missing op kind")
	}
	for _, a := range op.Args {
		if len(a.Refs) == 0 {
			c.fail("argument %q names no value", a.Name)
		}
		for _, r := range a.Refs {
			if _, ok := c.sc.types[r]; !ok {
				c.fail("argument %s=%s: %q is not defined", a.Name, r, r)
			}
		}
	}
	spec, known := opSpecs[op.Kind]
	if !known {
		return op.Type
	}
	for _, a := range op.Args {
		i := slices.IndexFunc(spec.args, func(s argSpec) bool { return s.name == a.Name })
		if i < 0 {
			c.fail("unknown argument %q (takes %s)", a.Name, argNames(spec.args))
		}
		if spec.args[i].tuple != a.Tuple || (!a.Tuple && len(a.Refs) != 1) {
			if a.Tuple {
				c.fail("argument %q takes one value, not a tuple", a.Name)
			}
			c.fail("argument %q takes a tuple (a,b,...)", a.Name)
		}
	}
	for _, s := range spec.args {
		if s.required && op.Arg(s.name) == nil {
			c.fail("missing argument %q", s.name)
		}
	}
	if len(op.Attrs) > 0 {
		c.fail("unexpected attribute %q", op.Attrs[0].Name)
	}
	if op.Kind != "const" && op.Val != nil {
		c.fail("only const takes a val")
	}
	t := spec.infer(c)
	c.sc.params[op] = c.p
	return t
}

func argNames(s []argSpec) string {
	var n []string
	for _, a := range s {
		n = append(n, a.name)
	}
	if len(n) == 0 {
		return "no arguments"
	}
	return strings.Join(n, ", ")
}

// typ returns the type of the single-value argument arg (which must be present).
func (c *ictx) typ(arg string) Type {
	a := c.op.Arg(arg)
	return c.sc.types[a.Refs[0]]
}

func isFloat(d DType) bool { return d == FP16 || d == FP32 }

// value returns the type of argument arg, checking its element type is one of dts.
func (c *ictx) value(arg string, dts ...DType) Type {
	t := c.typ(arg)
	if !slices.Contains(dts, t.DType) {
		c.fail("argument %q is %s; want element type %s", arg, t, dtList(dts))
	}
	return t
}

// tensor is value for an argument that must be a tensor of rank >= minRank.
func (c *ictx) tensor(arg string, minRank int, dts ...DType) Type {
	t := c.value(arg, dts...)
	if !t.Tensor {
		c.fail("argument %q is the scalar %s; want a tensor", arg, t)
	}
	if len(t.Shape) < minRank {
		c.fail("argument %q is %s; want rank >= %d", arg, t, minRank)
	}
	return t
}

func dtList(d []DType) string {
	var s []string
	for _, x := range d {
		s = append(s, x.String())
	}
	return strings.Join(s, " or ")
}

// konst returns the const value of argument arg, or nil when it is absent.
func (c *ictx) konst(arg string) *Value {
	a := c.op.Arg(arg)
	if a == nil {
		return nil
	}
	v := c.sc.consts[a.Refs[0]]
	if v == nil {
		c.fail("argument %q (%s) must be a const", arg, a.Refs[0])
	}
	if v.Blob != nil {
		c.fail("argument %q (%s) must be a literal, not a blob", arg, a.Refs[0])
	}
	return v
}

// ints reads a const int32 vector argument; ok is false when it is absent.
func (c *ictx) ints(arg string) (vals []int, ok bool) {
	v := c.konst(arg)
	if v == nil {
		return nil, false
	}
	if v.Type.DType != Int32 || !v.Type.Tensor || len(v.Type.Shape) != 1 {
		c.fail("argument %q is %s; want tensor<int32, [n]>", arg, v.Type)
	}
	out := make([]int, len(v.Ints))
	for i, x := range v.Ints {
		out[i] = int(x)
	}
	return out, true
}

// scalarConst reads a const scalar (or one-element tensor) argument of type dt.
func (c *ictx) scalarConst(arg string, dt DType) *Value {
	v := c.konst(arg)
	if v == nil {
		return nil
	}
	if v.Type.DType != dt || v.Type.Elems() != 1 || len(v.Type.Shape) > 1 {
		c.fail("argument %q is %s; want %s", arg, v.Type, dt)
	}
	return v
}

func (c *ictx) intArg(arg string, def int) int {
	if v := c.scalarConst(arg, Int32); v != nil {
		return int(v.Ints[0])
	}
	return def
}

func (c *ictx) boolArg(arg string, def bool) bool {
	if v := c.scalarConst(arg, Bool); v != nil {
		return v.Bools[0]
	}
	return def
}

func (c *ictx) strArg(arg string, def string) string {
	if v := c.scalarConst(arg, String); v != nil {
		return v.Str
	}
	return def
}

// axis normalises a (possibly negative) axis of a rank-r tensor.
func (c *ictx) axis(what string, a, r int) int {
	if a < -r || a >= r {
		c.fail("%s %d out of range for rank %d", what, a, r)
	}
	if a < 0 {
		a += r
	}
	return a
}

func inferConst(c *ictx) Type {
	v := c.op.Val
	if v == nil {
		c.fail("const has no val")
	}
	if msg := checkValue(v); msg != "" {
		c.fail("val: %s", msg)
	}
	return v.Type
}

// checkValue reports what is inconsistent in v, or "".
func checkValue(v *Value) string {
	if msg := checkType(v.Type); msg != "" {
		return msg
	}
	n := v.Type.Elems()
	if v.Blob != nil {
		if !v.Type.Tensor {
			return "a blob value must be a tensor"
		}
		switch v.Type.DType {
		case FP16, FP32, Int8, UInt8, Int32:
		default:
			return fmt.Sprintf("%s data cannot live in a blob", v.Type.DType)
		}
		return ""
	}
	var got int
	switch v.Type.DType {
	case FP16, FP32:
		got = len(v.Floats)
	case Int32, Int8, UInt8, UInt64:
		got = len(v.Ints)
		for _, x := range v.Ints {
			if !fitsInt(v.Type.DType, x) {
				return fmt.Sprintf("%d does not fit in %s", x, v.Type.DType)
			}
		}
	case Bool:
		got = len(v.Bools)
	case String:
		if v.Type.Tensor {
			return "string tensors are not supported"
		}
		got = 1
	}
	if got != n {
		return fmt.Sprintf("%s holds %d values, want %d", v.Type, got, n)
	}
	return ""
}

var dataTypes = []DType{FP16, FP32, Int32, Bool}

func inferSlice(c *ictx) Type {
	x := c.tensor("x", 1, dataTypes...)
	begin, _ := c.ints("begin")
	size, _ := c.ints("size")
	r := len(x.Shape)
	if len(begin) != r || len(size) != r {
		c.fail("begin has %d and size %d entries; x %s has rank %d", len(begin), len(size), x, r)
	}
	out := make([]int, r)
	c.p.Begin = make([]int, r)
	for i := range r {
		b := begin[i]
		if b < 0 {
			b += x.Shape[i]
		}
		s := size[i]
		if s == -1 {
			s = x.Shape[i] - b
		}
		if b < 0 || s <= 0 || b+s > x.Shape[i] {
			c.fail("axis %d: begin %d size %d outside dimension %d of x %s", i, begin[i], size[i], x.Shape[i], x)
		}
		c.p.Begin[i] = b
		out[i] = s
	}
	return Type{DType: x.DType, Tensor: true, Shape: out}
}

func inferReshape(c *ictx) Type {
	x := c.tensor("x", 0, dataTypes...)
	shape, _ := c.ints("shape")
	out := make([]int, len(shape))
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1:
			if infer >= 0 {
				c.fail("shape %v has more than one -1", shape)
			}
			infer = i
			continue
		case d == 0: // iOS17+: copy the input dimension aligned from the right, else 1
			j := i - len(shape) + len(x.Shape)
			d = 1
			if j >= 0 {
				d = x.Shape[j]
			}
		case d < 0:
			c.fail("shape %v has the negative dimension %d", shape, d)
		}
		out[i] = d
		known *= d
	}
	n := x.Elems()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			c.fail("cannot reshape %s (%d elements) to %v", x, n, shape)
		}
		out[infer] = n / known
		known *= out[infer]
	}
	if known != n {
		c.fail("cannot reshape %s (%d elements) to %v (%d elements)", x, n, out, known)
	}
	return Type{DType: x.DType, Tensor: true, Shape: out}
}

func inferTranspose(c *ictx) Type {
	x := c.tensor("x", 1, dataTypes...)
	perm, _ := c.ints("perm")
	r := len(x.Shape)
	if len(perm) != r {
		c.fail("perm %v has %d entries; x %s has rank %d", perm, len(perm), x, r)
	}
	seen := make([]bool, r)
	out := make([]int, r)
	c.p.Perm = make([]int, r)
	for i, a := range perm {
		a = c.axis("perm entry", a, r)
		if seen[a] {
			c.fail("perm %v is not a permutation", perm)
		}
		seen[a] = true
		c.p.Perm[i] = a
		out[i] = x.Shape[a]
	}
	return Type{DType: x.DType, Tensor: true, Shape: out}
}

func inferMatMul(c *ictx) Type {
	x := c.tensor("x", 2, FP16, FP32)
	y := c.tensor("y", 2, FP16, FP32)
	if x.DType != y.DType {
		c.fail("x is %s but y is %s", x, y)
	}
	c.p.TransposeX = c.boolArg("transpose_x", false)
	c.p.TransposeY = c.boolArg("transpose_y", false)
	xr, yr := len(x.Shape), len(y.Shape)
	m, k := x.Shape[xr-2], x.Shape[xr-1]
	if c.p.TransposeX {
		m, k = k, m
	}
	k2, n := y.Shape[yr-2], y.Shape[yr-1]
	if c.p.TransposeY {
		k2, n = n, k2
	}
	if k != k2 {
		c.fail("inner dimensions differ: x %s (transpose_x=%v) has %d, y %s (transpose_y=%v) has %d",
			x, c.p.TransposeX, k, y, c.p.TransposeY, k2)
	}
	batch, ok := Broadcast(x.Shape[:xr-2], y.Shape[:yr-2])
	if !ok {
		c.fail("batch dimensions of x %s and y %s do not broadcast", x, y)
	}
	return Type{DType: x.DType, Tensor: true, Shape: append(batch, m, n)}
}

func inferConv(c *ictx) Type {
	x := c.tensor("x", 4, FP16, FP32)
	w := c.tensor("weight", 4, FP16, FP32)
	if len(x.Shape) != 4 || len(w.Shape) != 4 {
		c.fail("only 2-D convolution is supported: x %s and weight %s must have rank 4", x, w)
	}
	if x.DType != w.DType {
		c.fail("x is %s but weight is %s", x, w)
	}
	cp := &ConvParams{Groups: c.intArg("groups", 1)}
	c.p.Conv = cp
	cin, cout := x.Shape[1], w.Shape[0]
	if cp.Groups < 1 || cin%cp.Groups != 0 || cout%cp.Groups != 0 {
		c.fail("groups %d must divide the input channels %d and output channels %d", cp.Groups, cin, cout)
	}
	if w.Shape[1] != cin/cp.Groups {
		c.fail("weight %s: dimension 1 must be input channels / groups = %d", w, cin/cp.Groups)
	}
	if b := c.op.Arg("bias"); b != nil {
		bt := c.value("bias", x.DType)
		if !bt.Tensor || len(bt.Shape) != 1 || bt.Shape[0] != cout {
			c.fail("bias %s must be tensor<%s, [%d]>", bt, x.DType, cout)
		}
		cp.Bias = b.Refs[0]
	}
	pair := func(arg string) [2]int {
		v, ok := c.ints(arg)
		if !ok {
			return [2]int{1, 1}
		}
		if len(v) != 2 || v[0] < 1 || v[1] < 1 {
			c.fail("%s %v must be two positive integers", arg, v)
		}
		return [2]int{v[0], v[1]}
	}
	cp.Strides = pair("strides")
	cp.Dilations = pair("dilations")
	padType := c.strArg("pad_type", "valid")
	pad, hasPad := c.ints("pad")
	if hasPad && (len(pad) != 4 || slices.Min(pad) < 0) {
		c.fail("pad %v must be four non-negative integers", pad)
	}
	out := []int{x.Shape[0], cout, 0, 0}
	for i := range 2 {
		in, k := x.Shape[2+i], (w.Shape[2+i]-1)*cp.Dilations[i]+1
		s := cp.Strides[i]
		switch padType {
		case "valid":
		case "custom":
			if hasPad {
				cp.PadBefore[i], cp.PadAfter[i] = pad[2*i], pad[2*i+1]
			}
		case "same", "same_lower":
			o := (in + s - 1) / s
			total := max(0, (o-1)*s+k-in)
			small, big := total/2, total-total/2
			if padType == "same" {
				cp.PadBefore[i], cp.PadAfter[i] = small, big
			} else {
				cp.PadBefore[i], cp.PadAfter[i] = big, small
			}
		default:
			c.fail("pad_type %q is not valid, same, same_lower or custom", padType)
		}
		span := in + cp.PadBefore[i] + cp.PadAfter[i] - k
		if span < 0 {
			c.fail("kernel %d (dilated) larger than padded input %d on spatial axis %d", k, in+cp.PadBefore[i]+cp.PadAfter[i], i)
		}
		out[2+i] = span/s + 1
	}
	return Type{DType: x.DType, Tensor: true, Shape: out}
}

func inferConcat(c *ictx) Type {
	a := c.op.Arg("values")
	var first Type
	for i, r := range a.Refs {
		t := c.sc.types[r]
		if !t.Tensor || !slices.Contains(dataTypes, t.DType) || len(t.Shape) == 0 {
			c.fail("value %s is %s; want a tensor", r, t)
		}
		if i == 0 {
			first = t
		} else if t.DType != first.DType || len(t.Shape) != len(first.Shape) {
			c.fail("value %s is %s but %s is %s", r, t, a.Refs[0], first)
		}
	}
	rank := len(first.Shape)
	c.p.Axis = c.axis("axis", c.intArg("axis", 0), rank)
	c.p.Interleave = c.boolArg("interleave", false)
	out := slices.Clone(first.Shape)
	out[c.p.Axis] = 0
	for _, r := range a.Refs {
		t := c.sc.types[r]
		for d := range rank {
			if d != c.p.Axis && t.Shape[d] != first.Shape[d] ||
				c.p.Interleave && t.Shape[d] != first.Shape[d] {
				c.fail("value %s is %s, which does not match %s %s on axis %d", r, t, a.Refs[0], first, d)
			}
		}
		out[c.p.Axis] += t.Shape[c.p.Axis]
	}
	return Type{DType: first.DType, Tensor: true, Shape: out}
}

func inferSoftmax(c *ictx) Type {
	x := c.tensor("x", 1, FP16, FP32)
	c.p.Axis = c.axis("axis", c.intArg("axis", -1), len(x.Shape))
	return x
}

func inferCast(c *ictx) Type {
	x := c.value("x", FP16, FP32, Int32, Bool)
	s := c.strArg("dtype", "")
	dt, ok := ParseDType(s)
	if !ok || !slices.Contains([]DType{FP16, FP32, Int32, Bool}, dt) {
		c.fail("dtype %q is not int32, fp16, fp32 or bool", s)
	}
	c.p.DType = dt
	x.DType = dt
	return x
}

func inferUnary(c *ictx) Type {
	x := c.value("x", FP16, FP32)
	if c.op.Kind == "rsqrt" {
		c.p.Epsilon = 1e-12
		if v := c.scalarConst("epsilon", x.DType); v != nil {
			c.p.Epsilon = float64(v.Floats[0])
		}
	}
	return x
}

func inferBinary(c *ictx) Type {
	dts := []DType{FP16, FP32, Int32}
	if c.op.Kind == "real_div" || c.op.Kind == "pow" {
		dts = dts[:2]
	}
	x := c.value("x", dts...)
	y := c.value("y", dts...)
	if x.DType != y.DType {
		c.fail("x is %s but y is %s", x, y)
	}
	if !x.Tensor && !y.Tensor {
		return Scalar(x.DType)
	}
	s, ok := Broadcast(x.Shape, y.Shape)
	if !ok {
		c.fail("shapes of x %s and y %s do not broadcast", x, y)
	}
	return Type{DType: x.DType, Tensor: true, Shape: s}
}

func inferReduce(c *ictx) Type {
	dts := []DType{FP16, FP32, Int32}
	if c.op.Kind == "reduce_mean" {
		dts = dts[:2]
	}
	x := c.tensor("x", 1, dts...)
	r := len(x.Shape)
	axes, ok := c.ints("axes")
	if !ok {
		for i := range r {
			axes = append(axes, i)
		}
	}
	seen := make([]bool, r)
	for _, a := range axes {
		a = c.axis("axes entry", a, r)
		if seen[a] {
			c.fail("axes %v repeats axis %d", axes, a)
		}
		seen[a] = true
		c.p.Axes = append(c.p.Axes, a)
	}
	slices.Sort(c.p.Axes)
	c.p.KeepDims = c.boolArg("keep_dims", false)
	var out []int
	for i, d := range x.Shape {
		switch {
		case !seen[i]:
			out = append(out, d)
		case c.p.KeepDims:
			out = append(out, 1)
		}
	}
	if out == nil {
		return Scalar(x.DType)
	}
	return Type{DType: x.DType, Tensor: true, Shape: out}
}
