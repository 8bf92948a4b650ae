// Package cpu is anekit's CPU backend for package anert: it compiles a MIL
// program into an execution plan and runs it on fp16 surfaces, on any
// platform. Importing it registers the backend "cpu":
//
//	import _ "github.com/anekit/anekit/pkg/anert/cpu"
//
// # Plan
//
// Compile checks the program (mil.NewScope: names, argument kinds, shape
// inference) and plans it:
//   - reshape, transpose and slice_by_size become strided views of their
//     input, never copies (a reshape whose strides cannot express the new
//     shape copies once);
//   - matmul reads its operands in place through those views, including
//     fp16 views of the input surface (internal/gemm converts while packing);
//     1x1 conv is the same GEMM;
//   - a value used only by a reshape, transpose or concat is computed
//     straight into its place in the output surface (or in the concat's
//     buffer), so most concats copy nothing;
//   - a softmax, or a reduction along the last axis, computes its
//     single-use elementwise producer (the attention mask's add, the mul
//     of a row sum) in the same pass over each row;
//   - intermediate buffers share one arena, reused by liveness; large
//     results get padded rows so GEMMs read them in place;
//   - elementwise ops, softmax and reductions run in chunks split across a
//     binding's worker goroutines (Options.Threads, default all cores), with
//     AVX-512 row loops (exp, add, sub, mul, div) on amd64;
//   - Eval allocates nothing.
//
// The backend runs any well-formed program: it does not enforce the
// Neural Engine's limits (mil.Validate does).
//
// # Precision
//
// Surfaces are fp16. Inside a step arithmetic is fp32 (GEMM accumulates in
// fp32, softmax and reductions accumulate in fp32). By default the result of
// every step whose MIL type is fp16 is rounded to fp16 (round to nearest
// even) when it is stored, as on the hardware. A step is one MIL op, or a
// fused group whose intermediates stay fp32 and whose result is rounded once:
//   - a chain of elementwise ops in which each intermediate has one use and
//     the shape of the result (for example sigmoid -> mul -> mul of SiLU
//     gating);
//   - matmul followed by a mul with a scalar constant (attention scaling):
//     the scale is the GEMM's alpha;
//   - a matmul whose result goes, through single-use reshapes and
//     transposes only, into an elementwise group or a softmax: the group
//     reads the GEMM's fp32 output;
//   - a softmax or last-axis reduction with its elementwise producer chain.
//
// Options.Strict disables the fusions' shortcuts: every op's fp16 result is
// rounded to fp16, exactly as a literal reading of the program (a softmax or
// reduction still computes a one-op producer in its pass, rounded first,
// with the same result). fp32-typed values are never rounded.
package cpu

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
)

func init() {
	anert.Register("cpu", func() (anert.Device, error) { return New(Options{}), nil })
}

// Options configure a CPU device.
type Options struct {
	// Threads is the number of goroutines one Eval may use for elementwise
	// ops, softmax and reductions; 0 means runtime.GOMAXPROCS(0). GEMMs use
	// internal/gemm's own limit (gemm.SetThreads).
	Threads int
	// Strict rounds the result of every fp16 op to fp16, with no fused
	// fp32 intermediates (see the package documentation).
	Strict bool
}

// Device is the CPU backend. It is safe for concurrent use.
type Device struct {
	opt      Options
	mu       sync.Mutex
	compiles int
	closed   bool
}

// New returns a CPU device.
func New(opt Options) *Device {
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	return &Device{opt: opt}
}

// Name returns "cpu".
func (d *Device) Name() string { return "cpu" }

// Compiles returns the number of successful compiles.
func (d *Device) Compiles() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.compiles
}

// Close marks the device closed; later compiles fail.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

var errClosed = errors.New("cpu: device is closed")

// Compile plans p; see the package documentation.
func (d *Device) Compile(p *mil.Program, blobs anert.BlobSource) (anert.Kernel, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	pl, err := compile(p, blobs, d.opt.Strict)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.compiles++
	d.mu.Unlock()
	return &kernel{prog: p, plan: pl, threads: d.opt.Threads}, nil
}

type kernel struct {
	prog    *mil.Program
	plan    *plan
	threads int
}

func (k *kernel) Program() *mil.Program { return k.prog }
func (k *kernel) InputShape() [4]int    { return k.plan.in }
func (k *kernel) OutputShape() [4]int   { return k.plan.out }
func (k *kernel) Close() error          { return nil }

// Steps is the number of steps in the kernel's plan (for tests and tools).
func Steps(k anert.Kernel) int {
	if kk, ok := k.(*kernel); ok {
		return len(kk.plan.steps)
	}
	return 0
}

func (k *kernel) NewBinding() (anert.Binding, error) {
	in, err := anert.NewSurface(k.plan.in[1], k.plan.in[3])
	if err != nil {
		return nil, err
	}
	out, err := anert.NewSurface(k.plan.out[1], k.plan.out[3])
	if err != nil {
		return nil, err
	}
	b := &binding{k: k, in: in, out: out, arena: make([]float32, k.plan.arena), pool: newPool(k.threads)}
	for range k.threads {
		b.scratch = append(b.scratch, make([]float32, k.plan.scratch))
		b.hs = append(b.hs, make([]uint16, chunk))
	}
	for _, s := range k.plan.steps {
		b.steps = append(b.steps, s.bind(b))
	}
	return b, nil
}

func (b *binding) In() *anert.Surface  { return b.in }
func (b *binding) Out() *anert.Surface { return b.out }

func (b *binding) Eval() error {
	if b.closed {
		return fmt.Errorf("cpu: Eval on a closed binding")
	}
	for _, s := range b.steps {
		s.run()
	}
	return nil
}

func (b *binding) Close() error {
	if !b.closed {
		b.closed = true
		b.pool.close()
	}
	return nil
}
