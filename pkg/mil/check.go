package mil

import (
	"fmt"
	"sort"
)

// Params holds an operation's attributes, read from its const arguments,
// with the MIL defaults applied and axes normalised to [0, rank). Backends
// use them so that every backend reads an op the same way.
type Params struct {
	Begin      []int   // slice_by_size: first index per axis (negative begins resolved)
	Perm       []int   // transpose
	TransposeX bool    // matmul
	TransposeY bool    // matmul
	Axis       int     // softmax, concat
	Interleave bool    // concat
	Axes       []int   // reduce_*: ascending; every axis when the op names none
	KeepDims   bool    // reduce_*
	Epsilon    float64 // rsqrt: y = 1/sqrt(x + Epsilon) (default 1e-12)
	DType      DType   // cast: the target element type
	Conv       *ConvParams
}

// ConvParams are the attributes of a 2-D conv.
type ConvParams struct {
	Groups              int
	Strides, Dilations  [2]int // per spatial axis (height, width)
	PadBefore, PadAfter [2]int // resolved from pad_type and pad
	Bias                string // name of the bias value; "" when absent
}

// Scope is a checked function: the type of every name and the value of
// every const, and the Params of every op. NewScope makes one.
type Scope struct {
	Func   *Function
	types  map[string]Type
	consts map[string]*Value
	defs   map[string]*Op
	params map[*Op]*Params
}

// Type returns the type of the input or op result called name.
func (s *Scope) Type(name string) (Type, bool) {
	t, ok := s.types[name]
	return t, ok
}

// Const returns the value of the const op whose result is name, or nil
// when name is not a const.
func (s *Scope) Const(name string) *Value { return s.consts[name] }

// Def returns the op whose result is name, or nil (for inputs and unknown names).
func (s *Scope) Def(name string) *Op { return s.defs[name] }

// Params returns the resolved attributes of op (nil for ops that are not
// in the function or whose kind Check does not know).
func (s *Scope) Params(op *Op) *Params { return s.params[op] }

// ArgType returns the type of op's single-value argument arg.
func (s *Scope) ArgType(op *Op, arg string) (Type, bool) {
	a := op.Arg(arg)
	if a == nil || len(a.Refs) != 1 {
		return Type{}, false
	}
	return s.Type(a.Refs[0])
}

// Check checks every function of p: names are defined before use and
// defined once, arguments are of the kinds and types each op takes, and
// each statement's declared type equals the type inferred from its
// operands (the rules of the coremltools op definitions). The error names
// the statement by line:column when p was parsed.
func Check(p *Program) error {
	if len(p.Funcs) == 0 {
		return &Error{Msg: "program has no function"}
	}
	for _, f := range p.Funcs {
		if _, err := NewScope(f); err != nil {
			return err
		}
	}
	return nil
}

// NewScope checks f (see Check) and returns its Scope.
func NewScope(f *Function) (sc *Scope, err error) {
	sc = &Scope{
		Func:   f,
		types:  map[string]Type{},
		consts: map[string]*Value{},
		defs:   map[string]*Op{},
		params: map[*Op]*Params{},
	}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			sc, err = nil, b.err
		}
	}()
	for _, in := range f.Inputs {
		if _, dup := sc.types[in.Name]; dup {
			panic(bailout{&Error{Msg: fmt.Sprintf("function %s: duplicate input %q", f.Name, in.Name)}})
		}
		if err := checkType(in.Type); err != "" {
			panic(bailout{&Error{Msg: fmt.Sprintf("function %s: input %q: %s", f.Name, in.Name, err)}})
		}
		sc.types[in.Name] = in.Type
	}
	for _, op := range f.Ops {
		sc.addOp(op, false)
	}
	if len(f.Outputs) == 0 {
		panic(bailout{&Error{Msg: fmt.Sprintf("function %s has no output", f.Name)}})
	}
	for _, o := range f.Outputs {
		if _, ok := sc.types[o]; !ok {
			panic(bailout{&Error{Msg: fmt.Sprintf("function %s: output %q is not defined", f.Name, o)}})
		}
	}
	return sc, nil
}

// addOp checks op against the names defined so far and defines its result.
// It panics with a bailout on error.
// With setType, op.Type is set to the inferred type instead of checked.
func (sc *Scope) addOp(op *Op, setType bool) {
	c := &ictx{sc: sc, op: op, p: &Params{}}
	if _, dup := sc.types[op.Result]; dup {
		c.fail("%q is already defined", op.Result)
	}
	if msg := checkType(op.Type); msg != "" && !setType {
		c.fail("declared type %s: %s", op.Type, msg)
	}
	t := c.infer()
	if setType {
		op.Type = t
	}
	if msg := checkType(t); msg != "" {
		c.fail("result %s: %s", t, msg)
	}
	if !t.Equal(op.Type) {
		c.fail("declared type %s, inferred %s", op.Type, t)
	}
	sc.types[op.Result] = op.Type
	sc.defs[op.Result] = op
	if op.Kind == "const" {
		sc.consts[op.Result] = op.Val
	}
}

// tryAdd is addOp returning the error instead of panicking.
func (sc *Scope) tryAdd(op *Op, setType bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			delete(sc.params, op)
			err = b.err
		}
	}()
	sc.addOp(op, setType)
	return nil
}

func newScope(f *Function) *Scope {
	return &Scope{Func: f, types: map[string]Type{}, consts: map[string]*Value{}, defs: map[string]*Op{}, params: map[*Op]*Params{}}
}

func checkType(t Type) string {
	if t.DType == InvalidDType || t.DType > String {
		return "invalid element type"
	}
	if !t.Tensor && t.Shape != nil && len(t.Shape) != 0 {
		return "scalar with a shape"
	}
	n := 1
	for _, d := range t.Shape {
		if d <= 0 {
			return fmt.Sprintf("dimension %d is not positive", d)
		}
		if n > maxElems/d {
			return fmt.Sprintf("more than %d elements", maxElems)
		}
		n *= d
	}
	return ""
}

// maxElems bounds the elements of one tensor (2^40), far above any real
// program, so that element counts never overflow.
const maxElems = 1 << 40

// KnownOps returns the op kinds that Check infers, sorted.
func KnownOps() []string {
	var k []string
	for n := range opSpecs {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// Known reports whether Check infers ops of the given kind. Ops of other
// kinds are accepted as declared (their references are still checked),
// and backends refuse them.
func Known(kind string) bool { _, ok := opSpecs[kind]; return ok }

// Broadcast returns the numpy broadcast of shapes a and b (aligned at the
// last axis; each pair of dimensions equal or one of them 1).
func Broadcast(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}
