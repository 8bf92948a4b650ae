package main

import (
	"fmt"
	"math/rand"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/anekit/anekit/internal/gemm"
	"github.com/anekit/anekit/pkg/anert"
	_ "github.com/anekit/anekit/pkg/anert/ane"
	_ "github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/model"
)

// bundleResult is the --json payload of "ane-bench bundle".
type bundleResult struct {
	Bundle      string         `json:"bundle"`
	BundleHash  string         `json:"bundle_sha256"`
	Model       string         `json:"model"`
	Device      string         `json:"device"`
	Positions   int            `json:"positions"`
	Kernels     []kernelResult `json:"kernels"`
	ForwardMS   float64        `json:"forward_ms_median"`    // one forward pass over S positions: embedding, layers, final norm, classifier
	ForwardTokS float64        `json:"forward_tokens_per_s"` // S / forward time
	SyncMS      float64        `json:"weight_sync_ms_median"`
	SyncBytes   int64          `json:"weight_sync_fp16_bytes"` // fp16 bytes written per sync (every weight region of every kernel of every layer)
	SyncGBps    float64        `json:"weight_sync_gbps"`       // fp16 bytes written per second
	StepGFLOP   float64        `json:"kernel_gflop_per_step"`
	StepKernMS  float64        `json:"kernel_ms_per_step"` // Σ latency × evals_per_step
}

type kernelResult struct {
	Name      string    `json:"name"`
	FLOPs     int64     `json:"flops"`
	LatencyMS float64   `json:"latency_ms_median"`
	GFLOPS    float64   `json:"gflops"` // FLOPs from the manifest / median latency
	Reps      []float64 `json:"latency_ms_reps"`
}

func bundleCommand() *cli.Command {
	return &cli.Command{
		Name:      "bundle",
		Usage:     "time each kernel of a bundle, one forward pass and the weight sync",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "backend: cpu, ane or auto"},
			&cli.IntFlag{Name: "reps", Value: 5, Usage: "timed repetitions; the median is reported"},
			&cli.DurationFlag{Name: "min", Value: 200 * time.Millisecond, Usage: "minimum duration of one timed repetition"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: runBundle,
	}
}

func runBundle(c *cli.Context) error {
	// urfave/cli stops parsing flags at the first argument: accept
	// "bundle DIR --json" too by setting the flags that follow DIR.
	args := c.Args().Slice()
	for i := 1; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || c.Command == nil {
			return usageError(fmt.Sprintf("bundle: want one bundle directory, have %q too", args[i]))
		}
		if name != "json" && !hasVal {
			if i+1 >= len(args) {
				return usageError(fmt.Sprintf("bundle: flag %s needs a value", args[i]))
			}
			i++
			val = args[i]
		} else if name == "json" && !hasVal {
			val = "true"
		}
		if err := c.Set(name, val); err != nil {
			return usageError(fmt.Sprintf("bundle: flag %s: %v", args[i], err))
		}
	}
	if len(args) < 1 {
		return usageError("bundle: want one bundle directory")
	}
	reps, minDur := c.Int("reps"), c.Duration("min")
	if reps < 1 {
		return usageError(fmt.Sprintf("--reps %d: must be at least 1", reps))
	}
	b, cfg, err := model.OpenBundle(c.Args().First())
	if err != nil {
		return usageError(err.Error())
	}
	dev, err := anert.Open(c.String("device"))
	if err != nil {
		return err
	}
	defer dev.Close()
	w := model.RandomWeights[float32](cfg, 1)
	m, err := model.NewBundleModel(dev, b, cfg, w)
	if err != nil {
		return err
	}
	defer m.Close()
	res := bundleResult{Bundle: b.Dir, BundleHash: b.Hash, Model: cfg.Name, Device: dev.Name(), Positions: m.S}

	// Weight sync: fp32 master weights into every layer's surfaces.
	var syncErr error
	sync := func() {
		if err := m.SyncWeights(); err != nil {
			syncErr = err
		}
	}
	var syncReps []float64
	for range reps {
		syncReps = append(syncReps, 1e3*secondsPerOp(sync, minDur))
	}
	if syncErr != nil {
		return syncErr
	}
	res.SyncMS = median(syncReps)
	for _, k := range b.Manifest.Kernels {
		for _, r := range k.Input.Regions {
			if r.Weight {
				res.SyncBytes += 2 * int64(r.C*r.S) * int64(cfg.NLayers)
			}
		}
	}
	res.SyncGBps = float64(res.SyncBytes) / (res.SyncMS / 1e3) / 1e9

	// Each kernel on layer 0's binding, with random activations.
	rng := rand.New(rand.NewSource(1))
	for _, k := range b.Manifest.Kernels {
		bd := m.Binds[k.Name][0]
		for _, r := range k.Input.Regions {
			if r.Weight {
				continue
			}
			a := make([]float32, r.C*r.S)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			if err := bd.In().WriteRegion(model.Box(r), a); err != nil {
				return err
			}
		}
		var evalErr error
		eval := func() {
			if err := bd.Eval(); err != nil {
				evalErr = err
			}
		}
		kr := kernelResult{Name: k.Name, FLOPs: k.FLOPs}
		for range reps {
			kr.Reps = append(kr.Reps, 1e3*secondsPerOp(eval, minDur))
		}
		if evalErr != nil {
			return fmt.Errorf("kernel %s: %w", k.Name, evalErr)
		}
		kr.LatencyMS = median(append([]float64(nil), kr.Reps...))
		kr.GFLOPS = float64(k.FLOPs) / (kr.LatencyMS / 1e3) / 1e9
		res.Kernels = append(res.Kernels, kr)
		res.StepGFLOP += float64(k.FLOPs) * float64(k.EvalsPerStep) / 1e9
		res.StepKernMS += kr.LatencyMS * float64(k.EvalsPerStep)
	}

	// One forward pass over S positions.
	tokens := make([]int, m.S)
	for i := range tokens {
		tokens[i] = rng.Intn(cfg.VocabSize)
	}
	logits := make([]float32, cfg.VocabSize*m.S)
	var fwdErr error
	fwd := func() {
		if err := m.Forward(tokens, logits); err != nil {
			fwdErr = err
		}
	}
	var fwdReps []float64
	for range reps {
		fwdReps = append(fwdReps, 1e3*secondsPerOp(fwd, minDur))
	}
	if fwdErr != nil {
		return fwdErr
	}
	res.ForwardMS = median(fwdReps)
	res.ForwardTokS = float64(m.S) / (res.ForwardMS / 1e3)

	if c.Bool("json") {
		r := newRecord("bundle", gemm.Impl())
		r.Results = res
		return r.Write(os.Stdout)
	}
	fmt.Printf("bundle %s (%s), device %s, S=%d, medians of %d\n", b.Dir, cfg.Name, dev.Name(), m.S, reps)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kernel\tGFLOP/eval\tms/eval\tGFLOPS\t")
	for _, k := range res.Kernels {
		fmt.Fprintf(tw, "%s\t%.4f\t%.3f\t%.1f\t\n", k.Name, float64(k.FLOPs)/1e9, k.LatencyMS, k.GFLOPS)
	}
	tw.Flush()
	fmt.Printf("kernels per training step: %.2f GFLOP in %.1f ms (%.1f GFLOPS)\n", res.StepGFLOP, res.StepKernMS, res.StepGFLOP/(res.StepKernMS/1e3))
	fmt.Printf("forward pass (%d layers, %d positions, with embedding, norms, classifier): %.1f ms (%.0f tokens/s)\n",
		cfg.NLayers, m.S, res.ForwardMS, res.ForwardTokS)
	fmt.Printf("weight sync (fp32 -> fp16 surfaces, every kernel of every layer): %.1f ms for %.1f MB fp16 (%.2f GB/s)\n",
		res.SyncMS, float64(res.SyncBytes)/1e6, res.SyncGBps)
	return nil
}
