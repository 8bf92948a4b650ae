package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/gemm"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/urfave/cli/v2"
)

// milResult is one kernel's figures.
type milResult struct {
	File      string    `json:"file"`
	Backend   string    `json:"backend"`
	Input     [4]int    `json:"input"`
	Output    [4]int    `json:"output"`
	FLOPs     int64     `json:"flops"`
	CompileMS float64   `json:"compile_ms"`
	EvalMS    float64   `json:"eval_ms_median"`
	Reps      []float64 `json:"eval_ms_reps"`
	GFLOPS    float64   `json:"gflops_median"`
}

func milCommand() *cli.Command {
	return &cli.Command{
		Name:      "mil",
		Usage:     "compile MIL kernels and time their evaluation (GFLOPS from the program's ops)",
		ArgsUsage: "FILE.mil...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "weights", Usage: "the directory `DIR` that @model_path names (holding weights/...); default: each file's directory"},
			&cli.IntFlag{Name: "reps", Value: 10, Usage: "timed repetitions (each >= 20ms of evals); the median is reported"},
			&cli.StringFlag{Name: "backend", Value: "cpu", Usage: "auto, cpu or ane"},
			&cli.IntFlag{Name: "threads", Usage: "cpu backend: goroutines per eval and per GEMM (default all cores)"},
			&cli.BoolFlag{Name: "strict", Usage: "cpu backend: round every op's result to fp16"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: runMil,
	}
}

func runMil(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("mil: no FILE.mil given")
	}
	reps := c.Int("reps")
	if reps < 1 {
		return usageError(fmt.Sprintf("--reps %d: must be at least 1", reps))
	}
	var dev anert.Device
	switch b := c.String("backend"); b {
	case "cpu":
		if th := c.Int("threads"); th > 0 {
			defer gemm.SetThreads(gemm.SetThreads(th))
		}
		dev = cpu.New(cpu.Options{Threads: c.Int("threads"), Strict: c.Bool("strict")})
	default:
		d, err := anert.Open(b)
		if err != nil {
			return err
		}
		dev = d
	}
	defer dev.Close()
	var results []milResult
	for _, file := range c.Args().Slice() {
		r, err := benchMil(dev, file, c.String("weights"), reps)
		if err != nil {
			return err
		}
		results = append(results, r)
		if !c.Bool("json") {
			fmt.Printf("%-40s %-4s in %v out %v  %8.1f MFLOP  compile %7.2f ms  eval %9.3f ms  %7.2f GFLOPS\n",
				r.File, r.Backend, r.Input, r.Output, float64(r.FLOPs)/1e6, r.CompileMS, r.EvalMS, r.GFLOPS)
		}
	}
	if c.Bool("json") {
		rec := newRecord("mil", dev.Name()+"/gemm:"+gemm.Impl())
		rec.Results = results
		return rec.Write(os.Stdout)
	}
	return nil
}

func benchMil(dev anert.Device, file, weights string, reps int) (milResult, error) {
	r := milResult{File: file, Backend: dev.Name()}
	src, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	p, err := mil.Parse(src)
	if err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	if r.FLOPs, err = anert.FLOPs(p); err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	if weights == "" {
		weights = filepath.Dir(file)
	}
	t0 := time.Now()
	k, err := dev.Compile(p, anert.DirBlobs(weights))
	if err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	r.CompileMS = float64(time.Since(t0).Microseconds()) / 1e3
	defer k.Close()
	r.Input, r.Output = k.InputShape(), k.OutputShape()
	b, err := k.NewBinding()
	if err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	h := b.In().Halves()
	for i := range h {
		h[i] = f16.FromFloat32(float32(rng.Float64()*0.2 - 0.1))
	}
	var evalErr error
	eval := func() {
		if err := b.Eval(); err != nil && evalErr == nil {
			evalErr = err
		}
	}
	eval() // warm-up
	for range reps {
		r.Reps = append(r.Reps, secondsPerOp(eval, 20*time.Millisecond)*1e3)
	}
	if evalErr != nil {
		return r, fmt.Errorf("%s: %w", file, evalErr)
	}
	r.EvalMS = median(append([]float64(nil), r.Reps...))
	r.GFLOPS = float64(r.FLOPs) / (r.EvalMS / 1e3) / 1e9
	return r, nil
}
