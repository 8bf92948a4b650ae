package mil

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/anekit/anekit/internal/f16"
)

// Parse reads a program in the MIL text dialect (docs/formats/mil.md) and
// checks it with Check. Errors are *Error values carrying the line and
// column of the offending token or statement ("mil: 12:34: ...").
func Parse(src []byte) (*Program, error) {
	p, err := parseSyntax(src)
	if err != nil {
		return nil, err
	}
	if err := Check(p); err != nil {
		return nil, err
	}
	return p, nil
}

// parseSyntax parses src without checking types or references.
func parseSyntax(src []byte) (prog *Program, err error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			prog, err = nil, b.err
		}
	}()
	return ps.program(), nil
}

type bailout struct{ err error }

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) fail(t token, format string, args ...any) {
	panic(bailout{&Error{t.line, t.col, fmt.Sprintf(format, args...)}})
}

// is reports whether the next token is the punctuation or keyword s.
func (p *parser) is(s string) bool {
	t := p.peek()
	return (t.kind == tPunct || t.kind == tIdent) && t.text == s
}

// expect consumes the punctuation or keyword s.
func (p *parser) expect(s string) token {
	t := p.next()
	if (t.kind != tPunct && t.kind != tIdent) || t.text != s {
		p.fail(t, "expected %q, found %s", s, t)
	}
	return t
}

func (p *parser) ident(what string) token {
	t := p.next()
	if t.kind != tIdent {
		p.fail(t, "expected %s, found %s", what, t)
	}
	return t
}

func (p *parser) str() token {
	t := p.next()
	if t.kind != tString {
		p.fail(t, "expected a quoted string, found %s", t)
	}
	return t
}

func (p *parser) program() *Program {
	prog := &Program{}
	p.expect("program")
	p.expect("(")
	v := p.next()
	if v.kind != tNumber {
		p.fail(v, "expected a program version number, found %s", v)
	}
	prog.Version = v.text
	p.expect(")")
	if p.is("[") {
		p.next()
		for {
			k := p.ident("a program attribute name")
			if k.text != "buildInfo" {
				p.fail(k, "unknown program attribute %q (only buildInfo is supported)", k.text)
			}
			p.expect("=")
			prog.BuildInfo = p.dict()
			if !p.is(",") {
				break
			}
			p.next()
		}
		p.expect("]")
	}
	p.expect("{")
	for p.is("func") {
		f := p.function()
		for _, g := range prog.Funcs {
			if g.Name == f.Name {
				p.fail(p.peek(), "duplicate function %q", f.Name)
			}
		}
		prog.Funcs = append(prog.Funcs, f)
	}
	p.expect("}")
	if t := p.peek(); t.kind != tEOF {
		p.fail(t, "expected end of input after the program, found %s", t)
	}
	return prog
}

// dict parses dict<string, string>({{"k", "v"}, ...}).
func (p *parser) dict() [][2]string {
	p.expect("dict")
	p.expect("<")
	p.expect("string")
	p.expect(",")
	p.expect("string")
	p.expect(">")
	p.expect("(")
	p.expect("{")
	kv := [][2]string{}
	if !p.is("}") {
		for {
			p.expect("{")
			k := p.str()
			p.expect(",")
			v := p.str()
			p.expect("}")
			kv = append(kv, [2]string{k.text, v.text})
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect("}")
	p.expect(")")
	return kv
}

func (p *parser) function() *Function {
	p.expect("func")
	f := &Function{Name: p.ident("a function name").text}
	if p.is("<") {
		p.next()
		f.Opset = p.ident("an opset name").text
		p.expect(">")
	}
	p.expect("(")
	if !p.is(")") {
		for {
			typ := p.typ()
			name := p.ident("a parameter name")
			f.Inputs = append(f.Inputs, Param{Name: name.text, Type: typ})
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect(")")
	p.expect("{")
	for !p.is("}") {
		if p.peek().kind == tEOF {
			p.fail(p.peek(), "unexpected end of input in function %q", f.Name)
		}
		f.Ops = append(f.Ops, p.statement())
	}
	p.expect("}")
	p.expect("->")
	p.expect("(")
	if !p.is(")") {
		for {
			f.Outputs = append(f.Outputs, p.ident("an output name").text)
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect(")")
	p.expect(";")
	return f
}

func (p *parser) statement() *Op {
	start := p.peek()
	op := &Op{Line: start.line, Col: start.col}
	op.Type = p.typ()
	op.Result = p.ident("a result name").text
	p.expect("=")
	op.Kind = p.ident("an operation name").text
	p.expect("(")
	if !p.is(")") {
		for {
			an := p.ident("an argument name")
			for _, a := range op.Args {
				if a.Name == an.text {
					p.fail(an, "duplicate argument %q", an.text)
				}
			}
			p.expect("=")
			a := Arg{Name: an.text}
			if p.is("(") {
				p.next()
				a.Tuple = true
				for {
					a.Refs = append(a.Refs, p.ident("a value name").text)
					if !p.is(",") {
						break
					}
					p.next()
				}
				p.expect(")")
			} else {
				t := p.peek()
				if t.kind != tIdent {
					p.fail(t, "argument %q: expected the name of a value, found %s (literals must be declared with const)", an.text, t)
				}
				p.next()
				a.Refs = []string{t.text}
			}
			op.Args = append(op.Args, a)
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect(")")
	p.expect("[")
	hasName := false
	if !p.is("]") {
		for {
			an := p.ident("an attribute name")
			p.expect("=")
			v := p.value()
			switch {
			case an.text == "name":
				if hasName {
					p.fail(an, "duplicate attribute \"name\"")
				}
				if v.Type.Tensor || v.Type.DType != String {
					p.fail(an, "attribute \"name\" must be a string")
				}
				hasName = true
				op.Name = v.Str
			case an.text == "val" && op.Kind == "const":
				if op.Val != nil {
					p.fail(an, "duplicate attribute \"val\"")
				}
				op.Val = v
			default:
				for _, a := range op.Attrs {
					if a.Name == an.text {
						p.fail(an, "duplicate attribute %q", an.text)
					}
				}
				op.Attrs = append(op.Attrs, Attr{Name: an.text, Value: *v})
			}
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect("]")
	p.expect(";")
	if op.Kind == "const" && op.Val == nil {
		p.fail(start, "const %q has no val attribute", op.Result)
	}
	return op
}

// typ parses a scalar type name or tensor<DT, [d0, d1, ...]>.
func (p *parser) typ() Type {
	t := p.ident("a type")
	if t.text == "tensor" {
		p.expect("<")
		dt := p.dtype()
		p.expect(",")
		p.expect("[")
		shape := []int{}
		if !p.is("]") {
			for {
				d := p.next()
				n, err := strconv.ParseInt(d.text, 10, 32)
				if d.kind != tNumber || err != nil || n < 0 {
					p.fail(d, "expected a dimension (a non-negative integer), found %s", d)
				}
				shape = append(shape, int(n))
				if !p.is(",") {
					break
				}
				p.next()
			}
		}
		p.expect("]")
		p.expect(">")
		return Type{DType: dt, Tensor: true, Shape: shape}
	}
	dt, ok := ParseDType(t.text)
	if !ok {
		p.fail(t, "unknown type %q", t.text)
	}
	return Scalar(dt)
}

func (p *parser) dtype() DType {
	t := p.ident("an element type")
	dt, ok := ParseDType(t.text)
	if !ok {
		p.fail(t, "unknown element type %q", t.text)
	}
	return dt
}

// value parses a literal: DT(x), tensor<...>([...]) or
// tensor<...>(BLOBFILE(path=string("..."), offset=uint64(N))).
func (p *parser) value() *Value {
	start := p.peek()
	typ := p.typ()
	v := &Value{Type: typ}
	p.expect("(")
	if !typ.Tensor {
		p.scalar(v, p.next())
		p.expect(")")
		return v
	}
	if p.is("BLOBFILE") {
		p.next()
		p.expect("(")
		k := p.ident("path")
		if k.text != "path" {
			p.fail(k, "expected \"path\", found %s", k)
		}
		p.expect("=")
		p.expect("string")
		p.expect("(")
		path := p.str().text
		p.expect(")")
		p.expect(",")
		k = p.ident("offset")
		if k.text != "offset" {
			p.fail(k, "expected \"offset\", found %s", k)
		}
		p.expect("=")
		p.expect("uint64")
		p.expect("(")
		o := p.next()
		off, err := strconv.ParseUint(o.text, 10, 64)
		if o.kind != tNumber || err != nil {
			p.fail(o, "expected a blob offset, found %s", o)
		}
		p.expect(")")
		p.expect(")")
		p.expect(")")
		if typ.DType == String || typ.DType == Bool {
			p.fail(start, "a %s tensor cannot live in a blob file", typ.DType)
		}
		v.Blob = &BlobRef{Path: path, Offset: off}
		return v
	}
	p.expect("[")
	n := 0
	if !p.is("]") {
		for {
			p.scalar(v, p.next())
			n++
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	p.expect("]")
	p.expect(")")
	if n != typ.Elems() {
		p.fail(start, "%s literal has %d values, want %d", typeString(typ, false), n, typ.Elems())
	}
	return v
}

// scalar appends the literal t, of v's element type, to v.
func (p *parser) scalar(v *Value, t token) {
	dt := v.Type.DType
	switch dt {
	case String:
		if t.kind != tString {
			p.fail(t, "expected a quoted string, found %s", t)
		}
		v.Str = t.text
	case Bool:
		switch {
		case t.kind == tIdent && t.text == "true":
			v.Bools = append(v.Bools, true)
		case t.kind == tIdent && t.text == "false":
			v.Bools = append(v.Bools, false)
		default:
			p.fail(t, "expected true or false, found %s", t)
		}
	case FP16, FP32:
		f, ok := parseFloat(t)
		if !ok {
			p.fail(t, "expected a %s number, found %s", dt, t)
		}
		if dt == FP16 {
			f = roundHalf(f)
		} else {
			f = float64(float32(f))
		}
		v.Floats = append(v.Floats, float32(f))
		if !v.Type.Tensor {
			v.Literal = t.text
		}
	case Int32, Int8, UInt8, UInt64:
		var n int64
		var err error
		if dt == UInt64 {
			var u uint64
			u, err = strconv.ParseUint(t.text, 0, 64)
			if u > math.MaxInt64 {
				err = strconv.ErrRange
			}
			n = int64(u)
		} else {
			n, err = strconv.ParseInt(t.text, 0, 64)
		}
		if t.kind != tNumber || err != nil || !fitsInt(dt, n) {
			p.fail(t, "expected a %s integer, found %s", dt, t)
		}
		v.Ints = append(v.Ints, n)
	default:
		p.fail(t, "literals of type %s are not supported", dt)
	}
}

func fitsInt(dt DType, n int64) bool {
	switch dt {
	case Int32:
		return n >= math.MinInt32 && n <= math.MaxInt32
	case Int8:
		return n >= -128 && n <= 127
	case UInt8:
		return n >= 0 && n <= 255
	case UInt64:
		return n >= 0
	}
	return false
}

// parseFloat reads a decimal or C hexadecimal float (0x1p-3), or inf/nan.
func parseFloat(t token) (float64, bool) {
	switch t.kind {
	case tNumber:
		s := strings.TrimPrefix(t.text, "+")
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		return f, true
	case tIdent:
		switch t.text {
		case "inf":
			return math.Inf(1), true
		case "nan":
			return math.NaN(), true
		}
	}
	return 0, false
}

// roundHalf rounds f to the nearest binary16 value, ties to even, without
// the double rounding of going through float32.
func roundHalf(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return float64(f16.Round(float32(f)))
	}
	h := f16.FromFloat32(float32(f))
	best := float64(f16.ToFloat32(h))
	if best == f || math.IsInf(best, 0) {
		return best
	}
	for _, c := range []uint16{h - 1, h + 1} {
		cv := float64(f16.ToFloat32(c))
		if math.IsNaN(cv) || math.IsInf(cv, 0) || (cv < 0) != (best < 0) && cv != 0 && best != 0 {
			continue
		}
		d, bd := math.Abs(cv-f), math.Abs(best-f)
		if d < bd || (d == bd && c&1 == 0) {
			best, h = cv, c
		}
	}
	return best
}
