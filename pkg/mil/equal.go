package mil

import (
	"math"
	"slices"
)

// Equal reports whether a and b are the same program. Source positions
// (Op.Line, Op.Col) are ignored; fp16/fp32 values compare by bits (so NaN
// equals NaN) and by their Literal spelling.
func Equal(a, b *Program) bool {
	if a.Version != b.Version || !slices.Equal(a.BuildInfo, b.BuildInfo) ||
		(a.BuildInfo == nil) != (b.BuildInfo == nil) || len(a.Funcs) != len(b.Funcs) {
		return false
	}
	for i := range a.Funcs {
		if !equalFunc(a.Funcs[i], b.Funcs[i]) {
			return false
		}
	}
	return true
}

func equalFunc(a, b *Function) bool {
	if a.Name != b.Name || a.Opset != b.Opset || !slices.Equal(a.Outputs, b.Outputs) ||
		len(a.Inputs) != len(b.Inputs) || len(a.Ops) != len(b.Ops) {
		return false
	}
	for i := range a.Inputs {
		if a.Inputs[i].Name != b.Inputs[i].Name || !a.Inputs[i].Type.Equal(b.Inputs[i].Type) {
			return false
		}
	}
	for i := range a.Ops {
		if !EqualOp(a.Ops[i], b.Ops[i]) {
			return false
		}
	}
	return true
}

// EqualOp reports whether two statements are the same, ignoring positions.
func EqualOp(a, b *Op) bool {
	if a.Result != b.Result || a.Kind != b.Kind || a.Name != b.Name || !a.Type.Equal(b.Type) ||
		len(a.Args) != len(b.Args) || len(a.Attrs) != len(b.Attrs) || (a.Val == nil) != (b.Val == nil) {
		return false
	}
	for i := range a.Args {
		x, y := a.Args[i], b.Args[i]
		if x.Name != y.Name || x.Tuple != y.Tuple || !slices.Equal(x.Refs, y.Refs) {
			return false
		}
	}
	for i := range a.Attrs {
		if a.Attrs[i].Name != b.Attrs[i].Name || !EqualValue(&a.Attrs[i].Value, &b.Attrs[i].Value) {
			return false
		}
	}
	return a.Val == nil || EqualValue(a.Val, b.Val)
}

// EqualValue reports whether two literals are the same.
func EqualValue(a, b *Value) bool {
	if !a.Type.Equal(b.Type) || a.Str != b.Str || a.Literal != b.Literal ||
		!slices.Equal(a.Ints, b.Ints) || !slices.Equal(a.Bools, b.Bools) ||
		len(a.Floats) != len(b.Floats) || (a.Blob == nil) != (b.Blob == nil) {
		return false
	}
	if a.Blob != nil && *a.Blob != *b.Blob {
		return false
	}
	for i := range a.Floats {
		if math.Float32bits(a.Floats[i]) != math.Float32bits(b.Floats[i]) {
			return false
		}
	}
	return true
}
