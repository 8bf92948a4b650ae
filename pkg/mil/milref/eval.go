// Package milref is the float64 reference interpreter of MIL programs: the
// oracle the CPU backend is tested against. It evaluates every op that
// mil.Check knows with plain loops in float64 (numpy broadcasting,
// row-major reshape), written for clarity, not speed. fp16 storage is not
// modelled: every intermediate value is exact float64 (cast to fp16 keeps
// the value; cast to int32 truncates toward zero, to bool tests != 0).
package milref

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

// Tensor is a dense row-major array; a scalar has a nil Shape and one element.
type Tensor struct {
	Shape []int
	Data  []float64
}

// Eval runs the main function of p (one input, one output) on input, given
// in row-major order, and returns the output. blobs returns the bytes of a
// weight file named by a BLOBFILE path; it may be nil for programs without
// blobs.
func Eval(p *mil.Program, input []float64, blobs func(path string) ([]byte, error)) ([]float64, error) {
	f := p.Main()
	if f == nil {
		return nil, fmt.Errorf("milref: program has no main function")
	}
	if len(f.Inputs) != 1 || len(f.Outputs) != 1 {
		return nil, fmt.Errorf("milref: main has %d inputs and %d outputs, want 1 and 1", len(f.Inputs), len(f.Outputs))
	}
	in := Tensor{Shape: f.Inputs[0].Type.Shape, Data: input}
	outs, err := EvalFunc(f, map[string]Tensor{f.Inputs[0].Name: in}, blobs)
	if err != nil {
		return nil, err
	}
	return outs[0].Data, nil
}

// EvalFunc runs f on the named inputs and returns its outputs in order.
func EvalFunc(f *mil.Function, inputs map[string]Tensor, blobs func(path string) ([]byte, error)) ([]Tensor, error) {
	sc, err := mil.NewScope(f)
	if err != nil {
		return nil, err
	}
	env := map[string]Tensor{}
	for _, in := range f.Inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("milref: input %q not given", in.Name)
		}
		if len(t.Data) != in.Type.Elems() {
			return nil, fmt.Errorf("milref: input %q has %d values, want %d for %s", in.Name, len(t.Data), in.Type.Elems(), in.Type)
		}
		env[in.Name] = Tensor{Shape: in.Type.Shape, Data: t.Data}
	}
	files := map[string]*format.BlobFile{}
	for _, op := range f.Ops {
		t, err := evalOp(sc, op, env, blobs, files)
		if err != nil {
			pos := ""
			if op.Line > 0 {
				pos = fmt.Sprintf("%d:%d: ", op.Line, op.Col)
			}
			return nil, fmt.Errorf("milref: %s%s %q: %w", pos, op.Kind, op.Result, err)
		}
		if len(t.Data) != op.Type.Elems() {
			return nil, fmt.Errorf("milref: %s %q: produced %d values for %s", op.Kind, op.Result, len(t.Data), op.Type)
		}
		if op.Type.Tensor {
			t.Shape = op.Type.Shape
		} else {
			t.Shape = nil
		}
		env[op.Result] = t
	}
	out := make([]Tensor, len(f.Outputs))
	for i, o := range f.Outputs {
		out[i] = env[o]
	}
	return out, nil
}

func evalOp(sc *mil.Scope, op *mil.Op, env map[string]Tensor, blobs func(string) ([]byte, error), files map[string]*format.BlobFile) (Tensor, error) {
	arg := func(name string) Tensor {
		a := op.Arg(name)
		if a == nil {
			return Tensor{}
		}
		return env[a.Refs[0]]
	}
	pr := sc.Params(op)
	if op.Kind != "const" && pr == nil {
		return Tensor{}, fmt.Errorf("op kind not supported")
	}
	out := op.Type.Shape
	switch op.Kind {
	case "const":
		return constValue(op, blobs, files)
	case "slice_by_size":
		return slice(arg("x"), pr.Begin, out), nil
	case "reshape":
		return Tensor{Data: arg("x").Data}, nil
	case "transpose":
		return transpose(arg("x"), pr.Perm), nil
	case "matmul":
		return matmul(arg("x"), arg("y"), pr.TransposeX, pr.TransposeY, out), nil
	case "conv":
		var bias *Tensor
		if pr.Conv.Bias != "" {
			b := env[pr.Conv.Bias]
			bias = &b
		}
		return conv(arg("x"), arg("weight"), bias, pr.Conv, out), nil
	case "add", "sub", "mul", "real_div", "maximum", "minimum", "pow":
		return elementwise(op.Kind, arg("x"), arg("y"), out), nil
	case "softmax":
		return softmax(arg("x"), pr.Axis), nil
	case "concat":
		var vals []Tensor
		for _, r := range op.Arg("values").Refs {
			vals = append(vals, env[r])
		}
		return concat(vals, pr.Axis, pr.Interleave, out), nil
	case "reduce_sum", "reduce_mean", "reduce_max":
		return reduce(op.Kind, arg("x"), pr.Axes), nil
	case "cast":
		return cast(arg("x"), pr.DType), nil
	default:
		return unary(op.Kind, arg("x"), pr.Epsilon)
	}
}

// constValue reads a const's literal or blob as float64.
func constValue(op *mil.Op, blobs func(string) ([]byte, error), files map[string]*format.BlobFile) (Tensor, error) {
	v := op.Val
	n := v.Type.Elems()
	data := make([]float64, n)
	if v.Blob == nil {
		switch {
		case v.Floats != nil:
			for i, x := range v.Floats {
				data[i] = float64(x)
			}
		case v.Ints != nil:
			for i, x := range v.Ints {
				data[i] = float64(x)
			}
		case v.Bools != nil:
			for i, x := range v.Bools {
				if x {
					data[i] = 1
				}
			}
		}
		// Strings evaluate to a placeholder 0: they are only read through Params.
		return Tensor{Data: data}, nil
	}
	bf := files[v.Blob.Path]
	if bf == nil {
		if blobs == nil {
			return Tensor{}, fmt.Errorf("blob file %s: no blob reader given", v.Blob.Path)
		}
		raw, err := blobs(v.Blob.Path)
		if err != nil {
			return Tensor{}, err
		}
		if bf, err = format.ParseBlobFile(v.Blob.Path, raw); err != nil {
			return Tensor{}, err
		}
		files[v.Blob.Path] = bf
	}
	dt, ok := BlobDType(v.Type.DType)
	if !ok {
		return Tensor{}, fmt.Errorf("%s blob data is not supported", v.Type.DType)
	}
	raw, err := bf.Read(v.Blob.Offset, dt, n)
	if err != nil {
		return Tensor{}, err
	}
	le := binary.LittleEndian
	for i := range data {
		switch dt {
		case format.BlobFP16:
			data[i] = float64(f16.ToFloat32(le.Uint16(raw[2*i:])))
		case format.BlobFP32:
			data[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		case format.BlobInt32:
			data[i] = float64(int32(le.Uint32(raw[4*i:])))
		case format.BlobInt8:
			data[i] = float64(int8(raw[i]))
		case format.BlobUInt8:
			data[i] = float64(raw[i])
		}
	}
	return Tensor{Data: data}, nil
}

// BlobDType returns the blob element code for a MIL element type.
func BlobDType(d mil.DType) (format.BlobDType, bool) {
	switch d {
	case mil.FP16:
		return format.BlobFP16, true
	case mil.FP32:
		return format.BlobFP32, true
	case mil.Int32:
		return format.BlobInt32, true
	case mil.Int8:
		return format.BlobInt8, true
	case mil.UInt8:
		return format.BlobUInt8, true
	}
	return 0, false
}

// strides returns the row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

func elems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// unravel writes the multi-index of flat index i in shape into idx.
func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

// bcastIndex is the flat index into a tensor of shape s of the element
// that broadcasts to output multi-index idx (s aligned at the right).
func bcastIndex(s []int, idx []int) int {
	off, st := 0, 1
	for d := len(s) - 1; d >= 0; d-- {
		j := idx[len(idx)-len(s)+d]
		if s[d] == 1 {
			j = 0
		}
		off += j * st
		st *= s[d]
	}
	return off
}

func slice(x Tensor, begin, out []int) Tensor {
	xs := strides(x.Shape)
	y := make([]float64, elems(out))
	idx := make([]int, len(out))
	for i := range y {
		unravel(i, out, idx)
		off := 0
		for d := range idx {
			off += (begin[d] + idx[d]) * xs[d]
		}
		y[i] = x.Data[off]
	}
	return Tensor{Data: y}
}

func transpose(x Tensor, perm []int) Tensor {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = x.Shape[p]
	}
	xs := strides(x.Shape)
	y := make([]float64, len(x.Data))
	idx := make([]int, len(out))
	for i := range y {
		unravel(i, out, idx)
		off := 0
		for d, p := range perm {
			off += idx[d] * xs[p]
		}
		y[i] = x.Data[off]
	}
	return Tensor{Data: y}
}

func matmul(x, y Tensor, tx, ty bool, out []int) Tensor {
	r := len(out)
	m, n := out[r-2], out[r-1]
	xr, yr := len(x.Shape), len(y.Shape)
	k := x.Shape[xr-1]
	if tx {
		k = x.Shape[xr-2]
	}
	batch := out[:r-2]
	xb, yb := x.Shape[:xr-2], y.Shape[:yr-2]
	res := make([]float64, elems(out))
	idx := make([]int, len(batch))
	for b := 0; b < elems(batch); b++ {
		unravel(b, batch, idx)
		xo := bcastIndex(xb, idx) * x.Shape[xr-2] * x.Shape[xr-1]
		yo := bcastIndex(yb, idx) * y.Shape[yr-2] * y.Shape[yr-1]
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for l := 0; l < k; l++ {
					xi := xo + i*k + l // x[i][l]
					if tx {
						xi = xo + l*m + i // x stored [k][m]
					}
					yi := yo + l*n + j // y[l][j]
					if ty {
						yi = yo + j*k + l // y stored [n][k]
					}
					s += x.Data[xi] * y.Data[yi]
				}
				res[b*m*n+i*n+j] = s
			}
		}
	}
	return Tensor{Data: res}
}

func conv(x, w Tensor, bias *Tensor, p *mil.ConvParams, out []int) Tensor {
	N, cin, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	cout, cpg, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	oh, ow := out[2], out[3]
	opg := cout / p.Groups
	y := make([]float64, elems(out))
	for n := 0; n < N; n++ {
		for o := 0; o < cout; o++ {
			g := o / opg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					s := 0.0
					if bias != nil {
						s = bias.Data[o]
					}
					for c := 0; c < cpg; c++ {
						ci := g*cpg + c
						for a := 0; a < kh; a++ {
							yy := i*p.Strides[0] + a*p.Dilations[0] - p.PadBefore[0]
							if yy < 0 || yy >= h {
								continue
							}
							for bb := 0; bb < kw; bb++ {
								xx := j*p.Strides[1] + bb*p.Dilations[1] - p.PadBefore[1]
								if xx < 0 || xx >= wd {
									continue
								}
								s += x.Data[((n*cin+ci)*h+yy)*wd+xx] * w.Data[((o*cpg+c)*kh+a)*kw+bb]
							}
						}
					}
					y[((n*cout+o)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return Tensor{Data: y}
}

func elementwise(kind string, x, y Tensor, out []int) Tensor {
	res := make([]float64, elems(out))
	idx := make([]int, len(out))
	for i := range res {
		unravel(i, out, idx)
		a, b := x.Data[bcastIndex(x.Shape, idx)], y.Data[bcastIndex(y.Shape, idx)]
		var v float64
		switch kind {
		case "add":
			v = a + b
		case "sub":
			v = a - b
		case "mul":
			v = a * b
		case "real_div":
			v = a / b
		case "maximum":
			v = math.Max(a, b)
		case "minimum":
			v = math.Min(a, b)
		case "pow":
			v = math.Pow(a, b)
		}
		res[i] = v
	}
	return Tensor{Data: res}
}

// lanes calls fn for every line of x along axis with the flat index of
// its first element and the stride between its elements.
func lanes(shape []int, axis int, fn func(base, stride int)) {
	st := strides(shape)[axis]
	outer := elems(shape[:axis])
	for o := 0; o < outer; o++ {
		for in := 0; in < st; in++ {
			fn(o*shape[axis]*st+in, st)
		}
	}
}

func softmax(x Tensor, axis int) Tensor {
	y := make([]float64, len(x.Data))
	n := x.Shape[axis]
	lanes(x.Shape, axis, func(base, st int) {
		mx := math.Inf(-1)
		for k := 0; k < n; k++ {
			mx = math.Max(mx, x.Data[base+k*st])
		}
		sum := 0.0
		for k := 0; k < n; k++ {
			e := math.Exp(x.Data[base+k*st] - mx)
			y[base+k*st] = e
			sum += e
		}
		for k := 0; k < n; k++ {
			y[base+k*st] /= sum
		}
	})
	return Tensor{Data: y}
}

func concat(vals []Tensor, axis int, interleave bool, out []int) Tensor {
	y := make([]float64, elems(out))
	idx := make([]int, len(out))
	for i := range y {
		unravel(i, out, idx)
		a := idx[axis]
		var src Tensor
		if interleave {
			src = vals[a%len(vals)]
			idx[axis] = a / len(vals)
		} else {
			for _, v := range vals {
				if a < v.Shape[axis] {
					src = v
					break
				}
				a -= v.Shape[axis]
			}
			idx[axis] = a
		}
		off := 0
		for d, s := range strides(src.Shape) {
			off += idx[d] * s
		}
		y[i] = src.Data[off]
	}
	return Tensor{Data: y}
}

func reduce(kind string, x Tensor, axes []int) Tensor {
	// Output with kept (size 1) reduced axes; its data layout is the same
	// with or without keep_dims.
	out := append([]int(nil), x.Shape...)
	red := make([]bool, len(out))
	for _, a := range axes {
		out[a], red[a] = 1, true
	}
	y := make([]float64, elems(out))
	if kind == "reduce_max" {
		for i := range y {
			y[i] = math.Inf(-1)
		}
	}
	idx := make([]int, len(x.Shape))
	os := strides(out)
	cnt := 1
	for _, a := range axes {
		cnt *= x.Shape[a]
	}
	for i, v := range x.Data {
		unravel(i, x.Shape, idx)
		off := 0
		for d := range idx {
			if !red[d] {
				off += idx[d] * os[d]
			}
		}
		if kind == "reduce_max" {
			y[off] = math.Max(y[off], v)
		} else {
			y[off] += v
		}
	}
	if kind == "reduce_mean" {
		for i := range y {
			y[i] /= float64(cnt)
		}
	}
	return Tensor{Data: y}
}

func cast(x Tensor, dt mil.DType) Tensor {
	y := make([]float64, len(x.Data))
	for i, v := range x.Data {
		switch dt {
		case mil.Int32:
			v = math.Trunc(v)
		case mil.Bool:
			if v != 0 {
				v = 1
			}
		}
		y[i] = v
	}
	return Tensor{Data: y}
}

func unary(kind string, x Tensor, eps float64) (Tensor, error) {
	var fn func(float64) float64
	switch kind {
	case "exp":
		fn = math.Exp
	case "sqrt":
		fn = math.Sqrt
	case "rsqrt":
		fn = func(v float64) float64 { return 1 / math.Sqrt(v+eps) }
	case "square":
		fn = func(v float64) float64 { return v * v }
	case "tanh":
		fn = math.Tanh
	case "sigmoid":
		fn = func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	case "silu":
		fn = func(v float64) float64 { return v / (1 + math.Exp(-v)) }
	case "relu":
		fn = func(v float64) float64 { return math.Max(v, 0) }
	default:
		return Tensor{}, fmt.Errorf("op kind not supported")
	}
	y := make([]float64, len(x.Data))
	for i, v := range x.Data {
		y[i] = fn(v)
	}
	return Tensor{Data: y}, nil
}
