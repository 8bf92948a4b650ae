// Package miltest makes random well-typed MIL programs for tests of the
// parser, printer, validator and backends.
package miltest

import (
	"fmt"
	"math/rand/v2"

	"github.com/anekit/anekit/pkg/mil"
)

// Options bound a random program.
type Options struct {
	Ops      int // number of non-const ops to try to add (default 12)
	Channels int // input C (default 1 + rng up to 8) ...
	Spatial  int // input S (default 1 + rng up to 16)
	// Ops not to use ("conv", "matmul", ...); Blobs are never used.
	Exclude []string
}

// RandomProgram returns a random, well-typed one-input one-output program
// over an fp16 input [1, C, 1, S], using the ops the builder knows (all but
// BLOBFILE consts, so it evaluates without weight files). Values are kept
// in a moderate range: matmul and conv inputs pass through sigmoid or tanh
// first, and pow / sqrt / rsqrt / real_div see positive operands.
func RandomProgram(rng *rand.Rand, o Options) *mil.Program {
	if o.Ops <= 0 {
		o.Ops = 12
	}
	if o.Channels <= 0 {
		o.Channels = 1 + rng.IntN(8)
	}
	if o.Spatial <= 0 {
		o.Spatial = 1 + rng.IntN(16)
	}
	skip := map[string]bool{}
	for _, e := range o.Exclude {
		skip[e] = true
	}
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, o.Channels, 1, o.Spatial))
	vals := []mil.Var{b.Input()}
	pick := func() mil.Var { return vals[rng.IntN(len(vals))] }
	squash := func(v mil.Var) mil.Var {
		if rng.IntN(2) == 0 {
			return b.Unary("tanh", v)
		}
		return b.Unary("sigmoid", v)
	}
	kinds := []string{"slice_by_size", "reshape", "transpose", "matmul", "conv", "add", "sub", "mul",
		"real_div", "maximum", "minimum", "pow", "softmax", "concat", "reduce_sum", "reduce_mean",
		"reduce_max", "rsqrt", "sqrt", "sigmoid", "silu", "exp", "tanh", "relu", "square", "cast"}
	for n := 0; n < o.Ops; {
		k := kinds[rng.IntN(len(kinds))]
		if skip[k] {
			continue
		}
		x := pick()
		s := x.Type.Shape
		r := len(s)
		var y mil.Var
		switch k {
		case "slice_by_size":
			begin, size := make([]int, r), make([]int, r)
			for i, d := range s {
				size[i] = 1 + rng.IntN(d)
				begin[i] = rng.IntN(d - size[i] + 1)
				if rng.IntN(4) == 0 {
					size[i] = -1
				}
			}
			y = b.SliceBySize(x, begin, size)
		case "reshape":
			y = b.Reshape(x, randomShape(rng, x.Type.Elems())...)
		case "transpose":
			y = b.Transpose(x, rng.Perm(r)...)
		case "matmul":
			if r < 2 {
				continue
			}
			x = squash(x)
			// x times a transposed view of itself always contracts.
			tx := rng.IntN(2) == 0
			y = b.MatMul(x, x, tx, !tx)
		case "conv":
			if r != 4 {
				continue
			}
			x = squash(x)
			cin := s[1]
			g := 1
			if cin%2 == 0 && rng.IntN(2) == 0 {
				g = 2
			}
			kh, kw := 1+rng.IntN(min(3, s[2])), 1+rng.IntN(min(3, s[3]))
			cout := g * (1 + rng.IntN(3))
			// The weight is a slice of a reshaped squashed value, so no blob is needed.
			wsize := cout * (cin / g) * kh * kw
			src := squash(b.Reshape(pick(), -1))
			flat := b.Reshape(src, 1, -1)
			if flat.Type.Shape[1] < wsize {
				reps := make([]mil.Var, (wsize+flat.Type.Shape[1]-1)/flat.Type.Shape[1])
				for i := range reps {
					reps[i] = flat
				}
				flat = b.Concat(1, false, reps...)
			}
			wv := b.Reshape(b.SliceBySize(flat, []int{0, 0}, []int{1, wsize}), cout, cin/g, kh, kw)
			pt := []string{"valid", "same", "custom", "same_lower"}[rng.IntN(4)]
			opt := mil.ConvOptions{PadType: pt, Groups: g,
				Strides: []int{1 + rng.IntN(2), 1 + rng.IntN(2)}}
			if pt == "custom" {
				opt.Pad = []int{rng.IntN(2), rng.IntN(2), rng.IntN(2), rng.IntN(2)}
			}
			y = b.Conv(x, wv, opt)
		case "add", "sub", "mul", "maximum", "minimum", "real_div", "pow":
			z := partner(rng, b, x)
			if k == "real_div" || k == "pow" {
				x = b.Unary("sigmoid", x)
				z = b.Add(b.Unary("sigmoid", z), b.FP16(0.5))
			}
			if rng.IntN(2) == 0 && k != "real_div" && k != "pow" {
				x, z = z, x
			}
			y = b.Apply(k, mil.A("x", x), mil.A("y", z))
		case "softmax":
			y = b.Softmax(x, rng.IntN(2*r)-r)
		case "concat":
			ax := rng.IntN(r)
			parts := []mil.Var{x}
			for range rng.IntN(3) {
				parts = append(parts, x)
			}
			y = b.Concat(ax, rng.IntN(2) == 0, parts...)
		case "reduce_sum", "reduce_mean", "reduce_max":
			axes := rng.Perm(r)[:1+rng.IntN(r)]
			y = b.Reduce(k, x, axes, true)
		case "rsqrt", "sqrt":
			y = b.Unary(k, b.Add(b.Unary("sigmoid", x), b.FP16(0.25)))
		case "exp":
			y = b.Unary(k, b.Unary("tanh", x))
		case "cast":
			y = b.Cast(b.Cast(x, mil.FP32), mil.FP16)
		default:
			y = b.Unary(k, x)
		}
		if err := b.Err(); err != nil {
			panic(fmt.Sprintf("miltest: generator made an ill-typed op: %v", err))
		}
		for y.Type.Elems() > 1<<12 {
			// Keep programs small: average away the largest axis.
			big := 0
			for i, d := range y.Type.Shape {
				if d > y.Type.Shape[big] {
					big = i
				}
			}
			y = b.Reduce("reduce_mean", y, []int{big}, true)
		}
		vals = append(vals, y)
		n++
	}
	b.Output(vals[len(vals)-1])
	p, err := b.Program()
	if err != nil {
		panic(fmt.Sprintf("miltest: %v", err))
	}
	return p
}

// partner returns a value that broadcasts against x: x itself, a scalar,
// or a reduction of x keeping its rank.
func partner(rng *rand.Rand, b *mil.Builder, x mil.Var) mil.Var {
	switch rng.IntN(3) {
	case 0:
		return b.FP16(float64(rng.IntN(17)-8) / 4)
	case 1:
		r := len(x.Type.Shape)
		return b.Reduce("reduce_max", x, rng.Perm(r)[:1+rng.IntN(r)], true)
	}
	return x
}

// randomShape returns a random shape of rank 1 to 4 with n elements.
func randomShape(rng *rand.Rand, n int) []int {
	r := 1 + rng.IntN(4)
	shape := make([]int, r)
	for i := range shape {
		shape[i] = 1
	}
	for f := 2; n > 1; {
		if n%f == 0 {
			shape[rng.IntN(r)] *= f
			n /= f
		} else {
			f++
		}
	}
	return shape
}
