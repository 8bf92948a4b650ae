package mil

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// Print writes p in the canonical text dialect (docs/formats/mil.md): the
// form the Neural Engine research code generates and the ANE compiler
// takes. Print then Parse gives back an Equal program, and printing that
// gives the same bytes.
func Print(p *Program) []byte {
	var b bytes.Buffer
	b.WriteString("program(")
	b.WriteString(p.Version)
	b.WriteString(")\n")
	if p.BuildInfo != nil {
		b.WriteString("[buildInfo = dict<string, string>({")
		for i, kv := range p.BuildInfo {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("{" + quote(kv[0]) + ", " + quote(kv[1]) + "}")
		}
		b.WriteString("})]\n")
	}
	b.WriteString("{\n")
	for _, f := range p.Funcs {
		printFunc(&b, f)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func printFunc(b *bytes.Buffer, f *Function) {
	b.WriteString("    func ")
	b.WriteString(f.Name)
	if f.Opset != "" {
		b.WriteString("<" + f.Opset + ">")
	}
	b.WriteString("(")
	for i, in := range f.Inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(typeString(in.Type, true))
		b.WriteString(" ")
		b.WriteString(in.Name)
	}
	b.WriteString(") {\n")
	for _, op := range f.Ops {
		b.WriteString("        ")
		b.WriteString(FormatOp(op))
		b.WriteString("\n")
	}
	b.WriteString("    } -> (")
	b.WriteString(strings.Join(f.Outputs, ", "))
	b.WriteString(");\n")
}

// FormatOp returns the statement for op as Print writes it, without
// indentation or newline.
func FormatOp(op *Op) string {
	var b strings.Builder
	b.WriteString(typeString(op.Type, false))
	b.WriteString(" ")
	b.WriteString(op.Result)
	b.WriteString(" = ")
	b.WriteString(op.Kind)
	b.WriteString("(")
	for i, a := range op.Args {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(a.Name)
		b.WriteString("=")
		if a.Tuple {
			b.WriteString("(" + strings.Join(a.Refs, ",") + ")")
		} else if len(a.Refs) > 0 {
			b.WriteString(a.Refs[0])
		}
	}
	b.WriteString(")[")
	sep := ""
	if op.Name != "" {
		b.WriteString("name=string(" + quote(op.Name) + ")")
		sep = ", "
	}
	if op.Val != nil {
		b.WriteString(sep + "val=" + FormatValue(op.Val))
		sep = ", "
	}
	for _, a := range op.Attrs {
		b.WriteString(sep + a.Name + "=" + FormatValue(&a.Value))
		sep = ", "
	}
	b.WriteString("];")
	return b.String()
}

// FormatValue returns the literal spelling of v.
func FormatValue(v *Value) string {
	var b strings.Builder
	b.WriteString(typeString(v.Type, false))
	b.WriteString("(")
	switch {
	case !v.Type.Tensor:
		b.WriteString(scalarString(v, 0))
	case v.Blob != nil:
		b.WriteString("BLOBFILE(path=string(" + quote(v.Blob.Path) + "), offset=uint64(" +
			strconv.FormatUint(v.Blob.Offset, 10) + "))")
	default:
		b.WriteString("[")
		for i := 0; i < v.Type.Elems(); i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(scalarString(v, i))
		}
		b.WriteString("]")
	}
	b.WriteString(")")
	return b.String()
}

func scalarString(v *Value, i int) string {
	switch v.Type.DType {
	case String:
		return quote(v.Str)
	case Bool:
		if i < len(v.Bools) && v.Bools[i] {
			return "true"
		}
		return "false"
	case FP16, FP32:
		if !v.Type.Tensor && v.Literal != "" {
			return v.Literal
		}
		if i >= len(v.Floats) {
			return "0"
		}
		return formatFloat(v.Floats[i])
	default:
		if i >= len(v.Ints) {
			return "0"
		}
		return strconv.FormatInt(v.Ints[i], 10)
	}
}

// formatFloat writes f as the shortest decimal that reads back as f.
func formatFloat(f float32) string {
	switch {
	case math.IsInf(float64(f), 1):
		return "inf"
	case math.IsInf(float64(f), -1):
		return "-inf"
	case math.IsNaN(float64(f)):
		return "nan"
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

// typeString spells t; header types (function parameters) put a space
// after each comma of the shape, statement types do not.
func typeString(t Type, header bool) string {
	if !t.Tensor {
		return t.DType.String()
	}
	sep := ","
	if header {
		sep = ", "
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	return "tensor<" + t.DType.String() + ", [" + strings.Join(dims, sep) + "]>"
}

// String returns the MIL spelling of t, e.g. "tensor<fp16, [1,64,1,256]>".
func (t Type) String() string { return typeString(t, false) }

// quote writes s as a MIL string literal: only '"', '\\', newline and tab
// are escaped, other bytes are copied.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
