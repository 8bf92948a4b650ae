// Package mil builds, prints, parses and checks MIL programs: the text
// intermediate language of Core ML that the Neural Engine compiler takes,
// and that anekit's CPU backend executes itself.
//
// A Program is plain data (this file). The Builder makes well-typed programs,
// Print writes the text dialect the ANE compiler accepts (program(1.3),
// buildInfo, func main<ios18>, named consts), Parse reads it back, and
// Validate checks the Neural Engine's constraints.
package mil

// DType is a MIL element type.
type DType uint8

// Element types that appear in the programs anekit writes and reads.
const (
	InvalidDType DType = iota
	FP16
	FP32
	Int32
	Int8
	UInt8
	UInt64
	Bool
	String
)

var dtypeNames = [...]string{"invalid", "fp16", "fp32", "int32", "int8", "uint8", "uint64", "bool", "string"}

// String returns the MIL spelling of d ("fp16", "int32", ...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return "invalid"
}

// ParseDType returns the DType spelled s.
func ParseDType(s string) (DType, bool) {
	for i, n := range dtypeNames {
		if i > 0 && n == s {
			return DType(i), true
		}
	}
	return InvalidDType, false
}

// Size is the size of one element in bytes (0 for string).
func (d DType) Size() int {
	switch d {
	case FP16:
		return 2
	case FP32, Int32:
		return 4
	case Int8, UInt8, Bool:
		return 1
	case UInt64:
		return 8
	}
	return 0
}

// Type is a scalar (Shape == nil and !Tensor) or a tensor of a static shape.
type Type struct {
	DType  DType
	Tensor bool
	Shape  []int
}

// Scalar returns the scalar type of d.
func Scalar(d DType) Type { return Type{DType: d} }

// Tensor returns the tensor type of d with the given shape.
func Tensor(d DType, shape ...int) Type {
	return Type{DType: d, Tensor: true, Shape: append([]int(nil), shape...)}
}

// Elems is the number of elements of t (1 for a scalar).
func (t Type) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Equal reports whether t and u are the same type.
func (t Type) Equal(u Type) bool {
	if t.DType != u.DType || t.Tensor != u.Tensor || len(t.Shape) != len(u.Shape) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return true
}

// Value is a literal: the val of a const, or an attribute's value.
// Exactly the field matching Type.DType is set, with Type.Elems() entries,
// unless Blob is set, in which case the data lives in a weight blob file.
type Value struct {
	Type    Type
	Floats  []float32 // fp16 and fp32 (fp16 values are exactly representable)
	Ints    []int64   // int32, int8, uint8, uint64
	Bools   []bool
	Str     string
	Blob    *BlobRef
	Literal string // for fp16/fp32 scalars: the spelling read or to print ("0.125000", "0x1p-3"); empty means shortest
}

// BlobRef names tensor data in a weight blob file. Offset points at the
// blob's 64-byte metadata record, not at the data (docs/FORMATS.md).
type BlobRef struct {
	Path   string // as written in the program, e.g. "@model_path/weights/mask.bin"
	Offset uint64
}

// Arg is one named argument of an operation: a reference to a previously
// defined value, or a tuple of references (concat's values=(a,b,...)).
type Arg struct {
	Name  string
	Refs  []string
	Tuple bool
}

// Attr is one entry of an operation's bracketed attribute list, other than
// name (kept in Op.Name) and a const's val (kept in Op.Val).
type Attr struct {
	Name  string
	Value Value
}

// Op is one statement: Result of type Type = Kind(Args)[name=..., attrs].
type Op struct {
	Result string
	Type   Type
	Kind   string // "const", "matmul", "slice_by_size", ...
	Args   []Arg
	Name   string // the name=string("...") attribute; need not equal Result
	Val    *Value // for const
	Attrs  []Attr

	// Line and Col locate the statement in the text it was parsed from
	// (1-based); zero for ops made in memory. Equal ignores them.
	Line, Col int
}

// Arg returns the argument called name, or nil.
func (o *Op) Arg(name string) *Arg {
	for i := range o.Args {
		if o.Args[i].Name == name {
			return &o.Args[i]
		}
	}
	return nil
}

// Param is a function parameter.
type Param struct {
	Name string
	Type Type
}

// Function is one func of a program.
type Function struct {
	Name    string // "main"
	Opset   string // "ios18"
	Inputs  []Param
	Ops     []*Op
	Outputs []string
}

// Program is a whole MIL program.
type Program struct {
	Version   string      // "1.3"
	BuildInfo [][2]string // key/value pairs of the buildInfo attribute, in order
	Funcs     []*Function
}

// Main returns the function called "main", or nil.
func (p *Program) Main() *Function {
	for _, f := range p.Funcs {
		if f.Name == "main" {
			return f
		}
	}
	return nil
}
