package anert

import (
	"fmt"

	"github.com/anekit/anekit/pkg/mil"
)

// FLOPs counts the floating-point operations of one evaluation of p's main
// function, from the types the program declares (so throughput figures are
// computed, never typed in):
//
//	matmul                    2·M·N·K per matrix of the (broadcast) batch
//	conv                      2·(Cin/groups)·KH·KW per output element, +1 with bias
//	add, sub, mul, real_div, pow, maximum, minimum,
//	exp, sqrt, rsqrt, square, tanh, sigmoid, silu, relu
//	                          1 per output element
//	softmax                   4 per element (max, exp, sum, divide)
//	reduce_sum/mean/max       1 per input element
//	const, reshape, transpose, slice_by_size, concat, cast
//	                          0 (data movement)
//
// Ops of other kinds count 0. It fails when p does not check (mil.NewScope).
func FLOPs(p *mil.Program) (int64, error) {
	f := p.Main()
	if f == nil {
		return 0, fmt.Errorf("anert: FLOPs: program has no function main")
	}
	sc, err := mil.NewScope(f)
	if err != nil {
		return 0, fmt.Errorf("anert: FLOPs: %w", err)
	}
	var n int64
	for _, op := range f.Ops {
		out := int64(op.Type.Elems())
		switch op.Kind {
		case "matmul":
			x, _ := sc.ArgType(op, "x")
			k := x.Shape[len(x.Shape)-1]
			if sc.Params(op).TransposeX {
				k = x.Shape[len(x.Shape)-2]
			}
			n += 2 * out * int64(k)
		case "conv":
			w, _ := sc.ArgType(op, "weight")
			per := 2 * int64(w.Shape[1]*w.Shape[2]*w.Shape[3])
			if sc.Params(op).Conv.Bias != "" {
				per++
			}
			n += per * out
		case "add", "sub", "mul", "real_div", "pow", "maximum", "minimum",
			"exp", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "silu", "relu":
			n += out
		case "softmax":
			n += 4 * out
		case "reduce_sum", "reduce_mean", "reduce_max":
			x, _ := sc.ArgType(op, "x")
			n += int64(x.Elems())
		}
	}
	return n, nil
}
