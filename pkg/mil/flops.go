package mil

import "fmt"

// FLOPs counts the floating-point operations of one evaluation of a
// program, from the shapes its ops state.
type FLOPs struct {
	// Matrix is 2 per multiply-accumulate of every matmul and conv: for a
	// matmul [.., M, K] x [.., K, N] with B broadcast batches, 2*B*M*N*K;
	// for a conv, 2*N*Cout*Hout*Wout*(Cin/groups)*KH*KW, plus one add per
	// output element when it has a bias. This is the figure TFLOPS are
	// quoted in.
	Matrix int64
	// Other is one per output element of each elementwise op (add, sub,
	// mul, real_div, maximum, minimum, pow, exp, sqrt, rsqrt, square,
	// tanh, sigmoid, silu, relu), four per element of softmax (max,
	// subtract-exp, sum, divide) and one per input element of a
	// reduction. Data movement (const, slice_by_size, reshape, transpose,
	// concat, cast) counts zero.
	Other int64
}

// Total is Matrix + Other.
func (f FLOPs) Total() int64 { return f.Matrix + f.Other }

// CountFLOPs counts the operations of function main of p (which must check).
func CountFLOPs(p *Program) (FLOPs, error) {
	var n FLOPs
	f := p.Main()
	if f == nil {
		return n, fmt.Errorf("mil: CountFLOPs: program has no function main")
	}
	sc, err := NewScope(f)
	if err != nil {
		return n, fmt.Errorf("mil: CountFLOPs: %w", err)
	}
	for _, op := range f.Ops {
		out, _ := sc.Type(op.Result)
		elems := int64(out.Elems())
		switch op.Kind {
		case "matmul":
			x, _ := sc.ArgType(op, "x")
			pr := sc.Params(op)
			k := x.Shape[len(x.Shape)-1]
			if pr.TransposeX {
				k = x.Shape[len(x.Shape)-2]
			}
			n.Matrix += 2 * elems * int64(k)
		case "conv":
			w, _ := sc.ArgType(op, "weight")
			macs := int64(w.Shape[1] * w.Shape[2] * w.Shape[3])
			n.Matrix += 2 * elems * macs
			if pr := sc.Params(op); pr.Conv != nil && pr.Conv.Bias != "" {
				n.Matrix += elems
			}
		case "add", "sub", "mul", "real_div", "maximum", "minimum", "pow",
			"exp", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "silu", "relu":
			n.Other += elems
		case "softmax":
			n.Other += 4 * elems
		case "reduce_sum", "reduce_mean", "reduce_max":
			x, _ := sc.ArgType(op, "x")
			n.Other += int64(x.Elems())
		}
	}
	return n, nil
}
