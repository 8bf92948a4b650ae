package mil

import (
	"fmt"
	"slices"
	"strings"
)

// Violation is one broken Neural Engine rule.
type Violation struct {
	Op   string // result name of the op, or the input/output name; "" for the whole program
	Kind string // op kind ("matmul"), "input", "output" or ""
	Line int    // source line when the program was parsed, else 0
	Rule string // one of the Rule* ids
	Msg  string
}

func (v Violation) String() string {
	var b strings.Builder
	if v.Line > 0 {
		fmt.Fprintf(&b, "%d: ", v.Line)
	}
	if v.Kind != "" {
		fmt.Fprintf(&b, "%s %q: ", v.Kind, v.Op)
	}
	fmt.Fprintf(&b, "%s: %s", v.Rule, v.Msg)
	return b.String()
}

// Rule ids reported by Validate.
const (
	RuleWellFormed  = "well-formed"  // Check passes
	RuleMain        = "main"         // a function called main exists
	RuleOpset       = "opset"        // main is func main<ios18>
	RuleOneIO       = "one-io"       // exactly one input and one output (multi-input requests fail)
	RuleIOType      = "io-type"      // input and output are fp16 [1, C, 1, S]
	RuleIOAlign     = "io-align"     // S is a multiple of 64 halves: 128-byte rows
	RuleMaxDim      = "max-dim"      // no dimension above 65536
	RuleMatMulInner = "matmul-inner" // matmul contraction dimension a multiple of 32 (else zeros, silently)
	RuleANEOp       = "ane-op"       // only ops known to compile and run on the ANE
	RuleBlobPath    = "blob-path"    // BLOBFILE paths are @model_path/weights/..., offsets >= 64
	RuleOpName      = "op-name"      // every op has a unique, non-empty name attribute
)

// MaxDim is the largest dimension the ANE takes.
const MaxDim = 65536

// ANEOps are the op kinds known to compile and run on the Neural Engine:
// those of the research code's training and benchmark kernels, compiled on
// M1 to M5 (docs/formats/mil.md). Other ops the CPU backend runs
// (real_div, maximum, minimum, sqrt, rsqrt, exp, tanh, relu, silu, square,
// reduce_mean, reduce_max) are valid MIL but unverified on the hardware;
// reduce_mean is reported not to be accepted in text MIL.
var ANEOps = []string{"add", "cast", "concat", "const", "conv", "matmul", "mul", "pow",
	"reduce_sum", "reshape", "sigmoid", "slice_by_size", "softmax", "sub", "transpose"}

// Validate checks p against the Neural Engine's rules (DESIGN.md section
// 1, docs/formats/mil.md) and returns every violation, in program order.
// It reports; the caller decides: ane-compile refuses a kernel with any
// violation, the CPU backend runs every program that passes Check.
func Validate(p *Program) []Violation {
	var vs []Violation
	add := func(op *Op, rule, format string, a ...any) {
		v := Violation{Rule: rule, Msg: fmt.Sprintf(format, a...)}
		if op != nil {
			v.Op, v.Kind, v.Line = op.Result, op.Kind, op.Line
		}
		vs = append(vs, v)
	}
	if err := Check(p); err != nil {
		var v Violation
		if e, ok := err.(*Error); ok {
			v.Line = e.Line
		}
		v.Rule, v.Msg = RuleWellFormed, err.Error()
		return []Violation{v}
	}
	f := p.Main()
	if f == nil {
		add(nil, RuleMain, "the program has no function called main")
		return vs
	}
	if len(p.Funcs) != 1 {
		add(nil, RuleMain, "the program has %d functions; the ANE runs one, main", len(p.Funcs))
	}
	if f.Opset != "ios18" {
		add(nil, RuleOpset, "main declares opset %q, want ios18", f.Opset)
	}
	sc, _ := NewScope(f)
	if len(f.Inputs) != 1 || len(f.Outputs) != 1 {
		add(nil, RuleOneIO, "main has %d inputs and %d outputs; the ANE runs one of each reliably", len(f.Inputs), len(f.Outputs))
	}
	boundary := func(kind, name string, t Type) {
		io := &Op{Result: name, Kind: kind}
		if t.DType != FP16 || !t.Tensor || len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[2] != 1 {
			add(io, RuleIOType, "%s is %s; want tensor<fp16, [1, C, 1, S]>", kind, t)
			return
		}
		if t.Shape[3]%64 != 0 {
			add(io, RuleIOAlign, "%s spatial size %d is not a multiple of 64 halves (128-byte rows)", kind, t.Shape[3])
		}
	}
	for _, in := range f.Inputs {
		boundary("input", in.Name, in.Type)
		if slices.ContainsFunc(in.Type.Shape, func(d int) bool { return d > MaxDim }) {
			add(&Op{Result: in.Name, Kind: "input"}, RuleMaxDim, "%s has a dimension above %d", in.Type, MaxDim)
		}
	}
	for _, o := range f.Outputs {
		t, _ := sc.Type(o)
		boundary("output", o, t)
	}
	names := map[string]string{}
	for _, op := range f.Ops {
		if !slices.Contains(ANEOps, op.Kind) {
			add(op, RuleANEOp, "op %s is not known to run on the ANE (known: %s)", op.Kind, strings.Join(ANEOps, ", "))
		}
		if slices.ContainsFunc(op.Type.Shape, func(d int) bool { return d > MaxDim }) {
			add(op, RuleMaxDim, "result %s has a dimension above %d", op.Type, MaxDim)
		}
		if op.Name == "" {
			add(op, RuleOpName, "no name attribute")
		} else if prev, dup := names[op.Name]; dup {
			add(op, RuleOpName, "name %q is also the name of %q", op.Name, prev)
		} else {
			names[op.Name] = op.Result
		}
		if op.Val != nil && op.Val.Blob != nil {
			if b := op.Val.Blob; !strings.HasPrefix(b.Path, "@model_path/weights/") || b.Offset < 64 {
				add(op, RuleBlobPath, "BLOBFILE(path=%q, offset=%d): want a path under @model_path/weights/ and an offset >= 64", b.Path, b.Offset)
			}
		}
		if op.Kind == "matmul" {
			x, _ := sc.ArgType(op, "x")
			pr := sc.Params(op)
			k := x.Shape[len(x.Shape)-1]
			if pr.TransposeX {
				k = x.Shape[len(x.Shape)-2]
			}
			if k%32 != 0 {
				add(op, RuleMatMulInner, "contraction dimension %d is not a multiple of 32 (the ANE returns zeros)", k)
			}
		}
	}
	return vs
}
