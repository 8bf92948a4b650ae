package mil

import (
	"fmt"
	"strconv"
)

// Var is a value made by a Builder: its name in the program and its type.
type Var struct {
	Name string
	Type Type
}

// DefaultBuildInfo is the buildInfo attribute the research code writes and
// the ANE compiler is known to take.
var DefaultBuildInfo = [][2]string{
	{"coremlc-component-MIL", "3510.2.1"},
	{"coremlc-version", "3505.4.1"},
	{"coremltools-component-milinternal", ""},
	{"coremltools-version", "9.0"},
}

// Builder makes a one-function program op by op, inferring each result's
// type as it goes. The first error (naming the op) is kept and returned by
// Program; calls after an error do nothing and return the zero Var.
//
//	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, C, 1, W))
//	x := b.Input()
//	w := b.SliceBySize(x, []int{0, 0, 0, S}, []int{1, C, 1, OC})
//	b.Output(y)
//	p, err := b.Program()
//
// Results are named after their op kind ("matmul_3") unless Named sets the
// next name; consts with equal values are shared.
type Builder struct {
	prog   *Program
	f      *Function
	sc     *Scope
	err    error
	next   string
	seq    int
	consts map[string]Var
	input  Var
}

// NewBuilder starts a program whose function name takes one input called
// "x" of type input, in opset ios18, program version 1.3.
func NewBuilder(name string, input Type) *Builder {
	f := &Function{Name: name, Opset: "ios18", Inputs: []Param{{Name: "x", Type: input}}}
	b := &Builder{
		prog:   &Program{Version: "1.3", BuildInfo: append([][2]string(nil), DefaultBuildInfo...), Funcs: []*Function{f}},
		f:      f,
		sc:     newScope(f),
		consts: map[string]Var{},
		input:  Var{"x", input},
	}
	if msg := checkType(input); msg != "" {
		b.err = &Error{Msg: fmt.Sprintf("input type %s: %s", input, msg)}
	}
	b.sc.types["x"] = input
	return b
}

// Input returns the function's input.
func (b *Builder) Input() Var { return b.input }

// Err returns the first error so far.
func (b *Builder) Err() error { return b.err }

// Named sets the result name (and name attribute) of the next non-const op.
func (b *Builder) Named(name string) *Builder {
	b.next = name
	return b
}

func (b *Builder) name(kind string) string {
	if b.next != "" {
		n := b.next
		b.next = ""
		return n
	}
	return b.autoName(kind)
}

func (b *Builder) autoName(kind string) string {
	for {
		b.seq++
		n := kind + "_" + strconv.Itoa(b.seq)
		if _, used := b.sc.types[n]; !used {
			return n
		}
	}
}

func (b *Builder) add(op *Op) Var {
	if b.err != nil {
		return Var{}
	}
	if err := b.sc.tryAdd(op, true); err != nil {
		b.err = err
		return Var{}
	}
	b.f.Ops = append(b.f.Ops, op)
	return Var{op.Result, op.Type}
}

// Const adds a const holding v, named automatically ("c_7"). Consts with
// the same value are shared. Named does not apply to it (see ConstNamed).
func (b *Builder) Const(v Value) Var {
	key := FormatValue(&v)
	if c, ok := b.consts[key]; ok {
		return c
	}
	n := b.autoName("c")
	r := b.add(&Op{Result: n, Name: n, Kind: "const", Val: &v, Type: v.Type})
	if r.Name != "" {
		b.consts[key] = r
	}
	return r
}

// ConstNamed adds a const called name holding v.
func (b *Builder) ConstNamed(name string, v Value) Var {
	return b.add(&Op{Result: name, Name: name, Kind: "const", Val: &v, Type: v.Type})
}

// Ints adds a const tensor<int32, [len(v)]>.
func (b *Builder) Ints(v ...int) Var {
	iv := make([]int64, len(v))
	for i, x := range v {
		iv[i] = int64(x)
	}
	return b.Const(Value{Type: Tensor(Int32, len(v)), Ints: iv})
}

// Int adds a const int32 scalar.
func (b *Builder) Int(v int) Var { return b.Const(Value{Type: Scalar(Int32), Ints: []int64{int64(v)}}) }

// Bool adds a const bool scalar.
func (b *Builder) Bool(v bool) Var { return b.Const(Value{Type: Scalar(Bool), Bools: []bool{v}}) }

// Str adds a const string scalar.
func (b *Builder) Str(s string) Var { return b.Const(Value{Type: Scalar(String), Str: s}) }

// FP16 adds a const fp16 scalar holding v rounded to half precision,
// spelled with %f as the research code does when that reads back as the
// same half, else with the shortest exact spelling.
func (b *Builder) FP16(v float64) Var {
	h := roundHalf(v)
	lit := strconv.FormatFloat(v, 'f', 6, 64)
	if f, err := strconv.ParseFloat(lit, 64); err != nil || roundHalf(f) != h {
		lit = ""
	}
	return b.Const(Value{Type: Scalar(FP16), Floats: []float32{float32(h)}, Literal: lit})
}

// Blob adds a const of type t whose data is in a weight blob file; offset
// is that of the blob's metadata record (64 for a single-blob file).
func (b *Builder) Blob(t Type, path string, offset uint64) Var {
	return b.Const(Value{Type: t, Blob: &BlobRef{Path: path, Offset: offset}})
}

// Apply adds an op of any kind with the given arguments (name=value pairs
// in order); Check's inference gives its type. Ops of kinds Check does not
// know cannot be built.
func (b *Builder) Apply(kind string, args ...NamedVar) Var {
	if b.err != nil {
		return Var{}
	}
	if !Known(kind) || kind == "const" {
		b.err = &Error{Msg: fmt.Sprintf("%s: not an op the builder can infer", kind)}
		return Var{}
	}
	op := &Op{Kind: kind}
	for _, a := range args {
		if a.Tuple == nil && a.Var.Name == "" || a.Tuple != nil && len(a.Tuple) == 0 {
			b.err = &Error{Msg: fmt.Sprintf("%s: argument %q has no value", kind, a.Name)}
			return Var{}
		}
		arg := Arg{Name: a.Name, Refs: []string{a.Var.Name}}
		if a.Tuple != nil {
			arg = Arg{Name: a.Name, Tuple: true}
			for _, v := range a.Tuple {
				arg.Refs = append(arg.Refs, v.Name)
			}
		}
		op.Args = append(op.Args, arg)
	}
	op.Result = b.name(kind)
	op.Name = op.Result
	return b.add(op)
}

// NamedVar is one argument of Apply: a value, or a tuple when Tuple is set.
type NamedVar struct {
	Name  string
	Var   Var
	Tuple []Var
}

// A is shorthand for a NamedVar of one value.
func A(name string, v Var) NamedVar { return NamedVar{Name: name, Var: v} }

// SliceBySize takes the box of the given size at begin (size -1: to the end).
func (b *Builder) SliceBySize(x Var, begin, size []int) Var {
	bv, sv := b.Ints(begin...), b.Ints(size...)
	return b.Apply("slice_by_size", A("x", x), A("begin", bv), A("size", sv))
}

// Reshape reinterprets x in row-major order with the given shape.
func (b *Builder) Reshape(x Var, shape ...int) Var {
	return b.Apply("reshape", A("shape", b.Ints(shape...)), A("x", x))
}

// Transpose permutes the axes of x.
func (b *Builder) Transpose(x Var, perm ...int) Var {
	return b.Apply("transpose", A("perm", b.Ints(perm...)), A("x", x))
}

// MatMul multiplies the last two axes of x and y (transposed if asked),
// broadcasting the leading axes.
func (b *Builder) MatMul(x, y Var, transposeX, transposeY bool) Var {
	tx, ty := b.Bool(transposeX), b.Bool(transposeY)
	return b.Apply("matmul", A("transpose_x", tx), A("transpose_y", ty), A("x", x), A("y", y))
}

// ConvOptions are conv's optional attributes; zero values mean the MIL defaults.
type ConvOptions struct {
	Strides, Dilations []int // two entries each
	PadType            string
	Pad                []int // four entries, with PadType "custom"
	Groups             int
	Bias               *Var
}

// Conv is a 2-D convolution of x [N,Cin,H,W] with weight [Cout,Cin/groups,KH,KW].
func (b *Builder) Conv(x, weight Var, o ConvOptions) Var {
	pt := o.PadType
	if pt == "" {
		pt = "valid"
	}
	strides, dil, pad := o.Strides, o.Dilations, o.Pad
	if strides == nil {
		strides = []int{1, 1}
	}
	if dil == nil {
		dil = []int{1, 1}
	}
	if pad == nil {
		pad = []int{0, 0, 0, 0}
	}
	g := max(o.Groups, 1)
	args := []NamedVar{A("dilations", b.Ints(dil...)), A("groups", b.Int(g)), A("pad", b.Ints(pad...)),
		A("pad_type", b.Str(pt)), A("strides", b.Ints(strides...)), A("weight", weight), A("x", x)}
	if o.Bias != nil {
		args = append([]NamedVar{A("bias", *o.Bias)}, args...)
	}
	return b.Apply("conv", args...)
}

func (b *Builder) binary(kind string, x, y Var) Var { return b.Apply(kind, A("x", x), A("y", y)) }

// Add, Sub, Mul, RealDiv, Maximum, Minimum and Pow are elementwise with
// numpy broadcasting.
func (b *Builder) Add(x, y Var) Var     { return b.binary("add", x, y) }
func (b *Builder) Sub(x, y Var) Var     { return b.binary("sub", x, y) }
func (b *Builder) Mul(x, y Var) Var     { return b.binary("mul", x, y) }
func (b *Builder) RealDiv(x, y Var) Var { return b.binary("real_div", x, y) }
func (b *Builder) Maximum(x, y Var) Var { return b.binary("maximum", x, y) }
func (b *Builder) Minimum(x, y Var) Var { return b.binary("minimum", x, y) }
func (b *Builder) Pow(x, y Var) Var     { return b.binary("pow", x, y) }

// Unary applies the elementwise op kind (exp, sqrt, rsqrt, square, tanh,
// sigmoid, silu, relu) to x.
func (b *Builder) Unary(kind string, x Var) Var { return b.Apply(kind, A("x", x)) }

// Softmax normalises x along axis.
func (b *Builder) Softmax(x Var, axis int) Var {
	return b.Apply("softmax", A("axis", b.Int(axis)), A("x", x))
}

// Concat joins values along axis (interleaving them if asked).
func (b *Builder) Concat(axis int, interleave bool, values ...Var) Var {
	return b.Apply("concat", A("axis", b.Int(axis)), A("interleave", b.Bool(interleave)),
		NamedVar{Name: "values", Tuple: values})
}

// Reduce applies reduce_sum, reduce_mean or reduce_max over axes.
func (b *Builder) Reduce(kind string, x Var, axes []int, keepDims bool) Var {
	return b.Apply(kind, A("x", x), A("axes", b.Ints(axes...)), A("keep_dims", b.Bool(keepDims)))
}

// Cast converts x to the element type dt.
func (b *Builder) Cast(x Var, dt DType) Var {
	return b.Apply("cast", A("dtype", b.Str(dt.String())), A("x", x))
}

// Output makes v the function's (next) output.
func (b *Builder) Output(v Var) {
	if b.err != nil {
		return
	}
	if _, ok := b.sc.types[v.Name]; !ok || v.Name == "" {
		b.err = &Error{Msg: fmt.Sprintf("output %q is not defined", v.Name)}
		return
	}
	b.f.Outputs = append(b.f.Outputs, v.Name)
}

// Program returns the program built, or the first error.
func (b *Builder) Program() (*Program, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.f.Outputs) == 0 {
		return nil, &Error{Msg: "program has no output"}
	}
	return b.prog, nil
}
