package cpu

import (
	"fmt"
	"math"
	"slices"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
)

// A plain float64 interpreter of the ops the backend runs: dense row-major
// tensors, textbook loops, no rounding except where the program casts to
// fp16. It is the reference the backend's results are compared to.

type rt struct {
	shape []int
	d     []float64
}

func strides(shape []int) []int { return contiguousStrides(shape) }

// unravel returns the multi-index of flat index i in shape.
func unravel(i int, shape []int, idx []int) {
	for k := len(shape) - 1; k >= 0; k-- {
		idx[k] = i % shape[k]
		i /= shape[k]
	}
}

// bcastIndex is the flat index in a tensor of shape s (right-aligned,
// broadcast) of the output multi-index idx.
func bcastIndex(idx, s []int) int {
	st := strides(s)
	off := len(idx) - len(s)
	f := 0
	for k := range s {
		if s[k] != 1 {
			f += idx[off+k] * st[k]
		}
	}
	return f
}

func refEval(p *mil.Program, input []float64, blobs anert.BlobSource) ([]float64, error) {
	f := p.Main()
	sc, err := mil.NewScope(f)
	if err != nil {
		return nil, err
	}
	env := map[string]rt{f.Inputs[0].Name: {slices.Clone(f.Inputs[0].Type.Shape), input}}
	for _, op := range f.Ops {
		get := func(arg string) rt { return env[op.Arg(arg).Refs[0]] }
		shape := op.Type.Shape
		n := op.Type.Elems()
		out := rt{shape: slices.Clone(shape), d: make([]float64, n)}
		pr := sc.Params(op)
		idx := make([]int, len(shape))
		switch op.Kind {
		case "const":
			if op.Type.DType != mil.FP16 && op.Type.DType != mil.FP32 {
				continue
			}
			if op.Val.Blob != nil {
				file, err := blobs(op.Val.Blob.Path)
				if err != nil {
					return nil, err
				}
				v, err := readBlob(file, op.Val.Blob.Path, op.Val.Blob.Offset, op.Type)
				if err != nil {
					return nil, err
				}
				for i := range v {
					out.d[i] = float64(v[i])
				}
			} else {
				for i, v := range op.Val.Floats {
					out.d[i] = float64(v)
				}
			}
		case "reshape":
			out.d = get("x").d
		case "transpose":
			x := get("x")
			xs := strides(x.shape)
			for i := range out.d {
				unravel(i, shape, idx)
				j := 0
				for k, p := range pr.Perm {
					j += idx[k] * xs[p]
				}
				out.d[i] = x.d[j]
			}
		case "slice_by_size":
			x := get("x")
			xs := strides(x.shape)
			for i := range out.d {
				unravel(i, shape, idx)
				j := 0
				for k := range idx {
					j += (idx[k] + pr.Begin[k]) * xs[k]
				}
				out.d[i] = x.d[j]
			}
		case "concat":
			refs := op.Arg("values").Refs
			for i := range out.d {
				unravel(i, shape, idx)
				a := idx[pr.Axis]
				var src rt
				if pr.Interleave {
					src = env[refs[a%len(refs)]]
					a /= len(refs)
				} else {
					for _, r := range refs {
						src = env[r]
						if a < src.shape[pr.Axis] {
							break
						}
						a -= src.shape[pr.Axis]
					}
				}
				si := slices.Clone(idx)
				si[pr.Axis] = a
				out.d[i] = src.d[bcastIndex(si, src.shape)]
			}
		case "matmul":
			x, y := get("x"), get("y")
			r := len(shape)
			m, nn := shape[r-2], shape[r-1]
			xr := len(x.shape)
			k := x.shape[xr-1]
			if pr.TransposeX {
				k = x.shape[xr-2]
			}
			for i := range out.d {
				unravel(i, shape, idx)
				ii, jj := idx[r-2], idx[r-1]
				xi := slices.Clone(idx)
				yi := slices.Clone(idx)
				var s float64
				for p := 0; p < k; p++ {
					if pr.TransposeX {
						xi[r-2], xi[r-1] = p, ii
					} else {
						xi[r-2], xi[r-1] = ii, p
					}
					if pr.TransposeY {
						yi[r-2], yi[r-1] = jj, p
					} else {
						yi[r-2], yi[r-1] = p, jj
					}
					s += x.d[bcastIndex(xi, x.shape)] * y.d[bcastIndex(yi, y.shape)]
				}
				out.d[i] = s
			}
			_ = m
			_ = nn
		case "conv":
			x, w := get("x"), get("weight")
			cp := pr.Conv
			cout, cin := w.shape[0], w.shape[1]
			kh, kw := w.shape[2], w.shape[3]
			og := cout / cp.Groups
			for i := range out.d {
				unravel(i, shape, idx)
				b, o, oh, ow := idx[0], idx[1], idx[2], idx[3]
				g := o / og
				var s float64
				for ci := 0; ci < cin; ci++ {
					for a := 0; a < kh; a++ {
						for bb := 0; bb < kw; bb++ {
							ih := oh*cp.Strides[0] + a*cp.Dilations[0] - cp.PadBefore[0]
							iw := ow*cp.Strides[1] + bb*cp.Dilations[1] - cp.PadBefore[1]
							if ih < 0 || iw < 0 || ih >= x.shape[2] || iw >= x.shape[3] {
								continue
							}
							s += w.d[((o*cin+ci)*kh+a)*kw+bb] * x.d[((b*x.shape[1]+g*cin+ci)*x.shape[2]+ih)*x.shape[3]+iw]
						}
					}
				}
				if cp.Bias != "" {
					s += env[cp.Bias].d[o]
				}
				out.d[i] = s
			}
		case "softmax":
			x := get("x")
			ax := pr.Axis
			st := strides(shape)
			type ms struct{ m, s float64 }
			rows := map[int]ms{}
			for i := range out.d {
				unravel(i, shape, idx)
				base := i - idx[ax]*st[ax]
				r, ok := rows[base]
				if !ok {
					r.m = math.Inf(-1)
					for a := 0; a < shape[ax]; a++ {
						r.m = max(r.m, x.d[base+a*st[ax]])
					}
					for a := 0; a < shape[ax]; a++ {
						r.s += math.Exp(x.d[base+a*st[ax]] - r.m)
					}
					rows[base] = r
				}
				out.d[i] = math.Exp(x.d[i]-r.m) / r.s
			}
		case "reduce_sum", "reduce_mean", "reduce_max":
			x := get("x")
			kshape := slices.Clone(x.shape)
			for _, a := range pr.Axes {
				kshape[a] = 1
			}
			init := 0.0
			if op.Kind == "reduce_max" {
				init = math.Inf(-1)
			}
			for i := range out.d {
				out.d[i] = init
			}
			xi := make([]int, len(x.shape))
			for i := range x.d {
				unravel(i, x.shape, xi)
				for _, a := range pr.Axes {
					xi[a] = 0
				}
				j := 0
				ks := strides(kshape)
				for k := range xi {
					j += xi[k] * ks[k]
				}
				if op.Kind == "reduce_max" {
					out.d[j] = max(out.d[j], x.d[i])
				} else {
					out.d[j] += x.d[i]
				}
			}
			if op.Kind == "reduce_mean" {
				c := float64(len(x.d) / max(1, len(out.d)))
				for i := range out.d {
					out.d[i] /= c
				}
			}
		default:
			xt := get("x")
			var yt rt
			if a := op.Arg("y"); a != nil {
				yt = env[a.Refs[0]]
			}
			for i := range out.d {
				unravel(i, shape, idx)
				x := xt.d[bcastIndex(idx, xt.shape)]
				var y float64
				if yt.d != nil {
					y = yt.d[bcastIndex(idx, yt.shape)]
				}
				v, err := refScalar(op, pr, x, y)
				if err != nil {
					return nil, err
				}
				out.d[i] = v
			}
		}
		env[op.Result] = out
	}
	return env[f.Outputs[0]].d, nil
}

func refScalar(op *mil.Op, pr *mil.Params, x, y float64) (float64, error) {
	switch op.Kind {
	case "add":
		return x + y, nil
	case "sub":
		return x - y, nil
	case "mul":
		return x * y, nil
	case "real_div":
		return x / y, nil
	case "pow":
		return math.Pow(x, y), nil
	case "maximum":
		return max(x, y), nil
	case "minimum":
		return min(x, y), nil
	case "exp":
		return math.Exp(x), nil
	case "sqrt":
		return math.Sqrt(x), nil
	case "rsqrt":
		return 1 / math.Sqrt(x+pr.Epsilon), nil
	case "square":
		return x * x, nil
	case "tanh":
		return math.Tanh(x), nil
	case "sigmoid":
		return 1 / (1 + math.Exp(-x)), nil
	case "silu":
		return x / (1 + math.Exp(-x)), nil
	case "relu":
		return max(x, 0), nil
	case "cast":
		if pr.DType == mil.FP16 {
			return float64(f16.Round(float32(x))), nil
		}
		return x, nil
	}
	return 0, fmt.Errorf("reference: op %s not implemented", op.Kind)
}
