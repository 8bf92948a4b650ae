package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/anert/ane"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/urfave/cli/v2"
)

func peakCommand() *cli.Command {
	return &cli.Command{
		Name:  "peak",
		Usage: "measure the Neural Engine's fp16 throughput on a chain of large matrix products",
		Description: `The program multiplies a [C, S] activation by a [C, C] weight matrix --depth
times in a row (y = W*y), as one kernel. With --weights input (the default)
W travels in the input surface beside the activations and the chain is
matmuls, as in anekit's training kernels; with --weights const W is a
constant in a weight blob baked in at compile time and the chain is 1x1
convolutions. TFLOPS = the program's matrix FLOPs (2*depth*C*C*S, counted
from the MIL by ane.CountFLOPs) / the median time of one evaluation.

Without a Neural Engine it says so and exits 3, unless --device cpu asks
for the same program on the CPU backend.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Value: "ane", Usage: "ane, or cpu to run the same program on the CPU backend"},
			&cli.StringFlag{Name: "weights", Value: "input", Usage: "input (matmul, weights in the input surface) or const (1x1 conv, weights baked)"},
			&cli.IntFlag{Name: "channels", Value: 1024, Usage: "C: the weight matrix is C x C (a multiple of 32)"},
			&cli.IntFlag{Name: "seq", Value: 256, Usage: "S: spatial positions (a multiple of 64)"},
			&cli.IntFlag{Name: "depth", Value: 32, Usage: "products per evaluation"},
			&cli.IntFlag{Name: "reps", Value: 7, Usage: "timed repetitions (each >= 100ms); the median is reported"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: func(c *cli.Context) error { return exitOnNoANE(c, "peak", runPeak(c)) },
	}
}

// peakSpec is the shape of the peak program.
type peakSpec struct {
	C, S, Depth int
	Const       bool // weights baked as a blob constant (conv) instead of in the input (matmul)
}

type peakResults struct {
	Device     string    `json:"device"`
	Chip       string    `json:"chip,omitempty"`
	MacOS      string    `json:"macos,omitempty"`
	Weights    string    `json:"weights"` // "input" or "const"
	Op         string    `json:"op"`      // "matmul" or "conv1x1"
	Channels   int       `json:"channels"`
	Seq        int       `json:"seq"`
	Depth      int       `json:"depth"`
	FLOPs      int64     `json:"flops_per_eval"` // matrix FLOPs
	CompileMs  float64   `json:"compile_ms"`
	EvalMs     float64   `json:"eval_ms_median"`
	TFLOPS     float64   `json:"tflops_median"`
	TFLOPSReps []float64 `json:"tflops_reps"`
	OutputOK   bool      `json:"output_ok"` // finite and not all zero
}

func runPeak(c *cli.Context) error {
	spec := peakSpec{C: c.Int("channels"), S: c.Int("seq"), Depth: c.Int("depth")}
	switch c.String("weights") {
	case "input":
	case "const":
		spec.Const = true
	default:
		return usageError(fmt.Sprintf("--weights %q: want input or const", c.String("weights")))
	}
	if spec.C < 1 || spec.S < 1 || spec.Depth < 1 || c.Int("reps") < 1 {
		return usageError("--channels, --seq, --depth and --reps must be positive")
	}
	if d := c.String("device"); d != "ane" && d != "cpu" {
		return usageError(fmt.Sprintf("--device %q: want ane or cpu", d))
	}
	dev, err := openDevice(c.String("device"))
	if err != nil {
		return err
	}
	defer dev.Close()
	res, err := measurePeak(dev, spec, c.Int("reps"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		r := newRecord("peak", res.Device)
		r.Results = res
		return r.Write(os.Stdout)
	}
	fmt.Printf("device %s", res.Device)
	if res.Chip != "" {
		fmt.Printf(" (%s)", res.Chip)
	}
	if res.MacOS != "" {
		fmt.Printf(", macOS %s", res.MacOS)
	}
	fmt.Println()
	fmt.Printf("%s chain: C=%d S=%d depth=%d, weights %s: %.3g GFLOP per evaluation\n",
		res.Op, res.Channels, res.Seq, res.Depth, res.Weights, float64(res.FLOPs)/1e9)
	fmt.Printf("compile %.1f ms; evaluation %.3f ms (median of %d); %.2f TFLOPS fp16\n",
		res.CompileMs, res.EvalMs, len(res.TFLOPSReps), res.TFLOPS)
	if !res.OutputOK {
		return fmt.Errorf("peak: the output holds NaN/Inf or only zeros: the figure is not a valid measurement")
	}
	return nil
}

// peakKernel is the peak program and the data it runs on.
type peakKernel struct {
	prog  *mil.Program
	blobs anert.BlobSource // nil for weights in the input
	in    []float32        // the input surface, row-major [C][width]
	x     []float32        // the activations [C][S], fp16 values
	w     []float32        // W [C][C] (out, in), fp16 values
}

// peakProgram builds the chain and the input the benchmark writes: activations
// uniform in [-1, 1], weights uniform in [-a, a] with a = sqrt(3/C), so
// each product keeps the activations' variance and the chain stays in fp16
// range. W is stored as the program reads it: for input, channel k of the
// weight region holds row k of Wᵀ (element (k, j) = W[j][k]); for const,
// the blob is W as [C, C, 1, 1].
func peakProgram(s peakSpec, seed uint64) (*peakKernel, error) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	a := math.Sqrt(3 / float64(s.C))
	w := make([]float32, s.C*s.C) // W[j][k], row-major
	for i := range w {
		w[i] = f16Round(float32((2*rng.Float64() - 1) * a))
	}
	x := make([]float32, s.C*s.S) // x[k][t]
	for i := range x {
		x[i] = f16Round(float32(2*rng.Float64() - 1))
	}
	if s.Const {
		b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, s.C, 1, s.S))
		const path = "@model_path/weights/w.bin"
		wv := b.Blob(mil.Tensor(mil.FP16, s.C, s.C, 1, 1), path, format.BlobHeaderSize)
		y := b.Input()
		for range s.Depth {
			y = b.Conv(y, wv, mil.ConvOptions{})
		}
		b.Output(y)
		p, err := b.Program()
		if err != nil {
			return nil, err
		}
		h := make([]uint16, len(w))
		f16.Encode(h, w)
		raw := make([]byte, 2*len(h))
		for i, v := range h {
			binary.LittleEndian.PutUint16(raw[2*i:], v)
		}
		file, _, err := format.MarshalBlobs([]format.Blob{{DType: format.BlobFP16, Data: raw}})
		if err != nil {
			return nil, err
		}
		return &peakKernel{p, anert.MapBlobs(map[string][]byte{path: file}), x, x, w}, nil
	}
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, s.C, 1, s.S+s.C))
	xa := b.Reshape(b.SliceBySize(b.Input(), []int{0, 0, 0, 0}, []int{1, s.C, 1, s.S}), 1, 1, s.C, s.S)
	wt := b.Reshape(b.SliceBySize(b.Input(), []int{0, 0, 0, s.S}, []int{1, s.C, 1, s.C}), 1, 1, s.C, s.C)
	y := xa
	for range s.Depth {
		y = b.MatMul(wt, y, true, false) // (Wᵀ)ᵀ y = W y
	}
	b.Output(b.Reshape(y, 1, s.C, 1, s.S))
	p, err := b.Program()
	if err != nil {
		return nil, err
	}
	in := make([]float32, s.C*(s.S+s.C))
	for k := 0; k < s.C; k++ {
		copy(in[k*(s.S+s.C):], x[k*s.S:(k+1)*s.S])
		for j := 0; j < s.C; j++ {
			in[k*(s.S+s.C)+s.S+j] = w[j*s.C+k]
		}
	}
	return &peakKernel{p, nil, in, x, w}, nil
}

func measurePeak(dev anert.Device, s peakSpec, reps int) (*peakResults, error) {
	pk, err := peakProgram(s, 1)
	if err != nil {
		return nil, err
	}
	p, blobs, in := pk.prog, pk.blobs, pk.in
	n, err := mil.CountFLOPs(p)
	if err != nil {
		return nil, err
	}
	res := &peakResults{Device: dev.Name(), Weights: "input", Op: "matmul", Channels: s.C, Seq: s.S, Depth: s.Depth, FLOPs: n.Matrix}
	if s.Const {
		res.Weights, res.Op = "const", "conv1x1"
	}
	if dev.Name() == "ane" {
		res.Chip, _ = ane.Chip()
		res.MacOS = ane.OSVersion()
	}
	t0 := time.Now()
	k, err := dev.Compile(p, blobs)
	if err != nil {
		return nil, err
	}
	res.CompileMs = float64(time.Since(t0).Nanoseconds()) / 1e6
	defer k.Close()
	b, err := k.NewBinding()
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if err := b.In().WriteRegion(b.In().All(), in); err != nil {
		return nil, err
	}
	var evalErr error
	eval := func() {
		if err := b.Eval(); err != nil && evalErr == nil {
			evalErr = err
		}
	}
	for range 3 {
		eval()
	}
	secs := make([]float64, reps)
	for i := range secs {
		secs[i] = secondsPerOp(eval, 100*time.Millisecond)
		if evalErr != nil {
			return nil, evalErr
		}
		res.TFLOPSReps = append(res.TFLOPSReps, float64(n.Matrix)/secs[i]/1e12)
	}
	res.EvalMs = median(secs) * 1e3
	res.TFLOPS = float64(n.Matrix) / (res.EvalMs / 1e3) / 1e12
	out := make([]float32, s.C*s.S)
	if err := b.Out().ReadRegion(b.Out().All(), out); err != nil {
		return nil, err
	}
	res.OutputOK = outputOK(out)
	return res, nil
}

// outputOK reports whether out is all finite and not all zero.
func outputOK(out []float32) bool {
	nonzero := false
	for _, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
		nonzero = nonzero || v != 0
	}
	return nonzero
}
