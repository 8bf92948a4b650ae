// Command ane-compile turns a model description into a kernel bundle:
//
//	ane-compile model.yaml                  # writes model.aneb/ beside it
//	ane-compile tiny.yaml -o /tmp/tiny.aneb --target cpu --json
//
// It generates the model's layer kernels (package model), runs the Neural
// Engine validator on every kernel, writes the bundle (docs/formats/bundle.md)
// into a temporary directory beside the destination and renames it into
// place on success, and, where a Neural Engine is present, compiles each
// kernel on it once to prove that it compiles. It prints a table of the
// kernels on standard error, or with --json one JSON document on standard
// output.
//
// Targets: "cpu" builds for the CPU backend, which runs every shape: a
// kernel breaking a Neural Engine rule (for example head_dim 8, below the
// matmul's multiple of 32) gets a one-line warning. "ane" requires the
// Neural Engine: such a kernel is an error, and so is a machine without
// one. "auto" (the default) is "ane" on darwin/arm64 and "cpu" elsewhere.
//
// Exit codes: 0 success, 1 runtime error (I/O, a kernel that does not
// compile, no Neural Engine for --target ane), 2 bad usage or bad input
// (unreadable or invalid model.yaml, a shape the target cannot take).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/anekit/anekit/pkg/anert"
	_ "github.com/anekit/anekit/pkg/anert/ane"
	_ "github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/model"
)

// badInput marks an error as the user's (exit 2).
type badInput struct{ error }

func badf(format string, a ...any) error { return badInput{fmt.Errorf(format, a...)} }

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "ane-compile",
		Usage:     "turn a model.yaml into a kernel bundle (model.aneb/)",
		ArgsUsage: "model.yaml",
		Writer:    stderr,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle directory (default: NAME.aneb beside NAME.yaml)"},
			&cli.StringFlag{Name: "target", Value: "auto", Usage: "auto, ane or cpu"},
			&cli.BoolFlag{Name: "json", Usage: "print the kernel table as JSON on stdout"},
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return badInput{err}
		},
		Action: func(ctx *cli.Context) error { return compile(ctx, stdout, stderr) },
	}
	err := app.Run(flagsFirst(args))
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "ane-compile: %v\n", err)
	var b badInput
	if errors.As(err, &b) {
		return 2
	}
	return 1
}

// flagsFirst moves the flags before the positional arguments, so that
// "ane-compile model.yaml -o DIR" works (urfave/cli stops parsing flags at
// the first positional argument).
func flagsFirst(args []string) []string {
	if len(args) == 0 {
		return args
	}
	flags, pos := []string{args[0]}, []string(nil)
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if (name == "o" || name == "output" || name == "target") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(append(flags, "--"), pos...)
}

// Report is what --json prints.
type Report struct {
	Model        model.Config   `json:"model"`
	Bundle       string         `json:"bundle"`
	Hash         string         `json:"sha256"`
	Target       string         `json:"target"`
	Device       string         `json:"compiled_on,omitempty"` // "ane" when each kernel was compiled on the Neural Engine
	Positions    int            `json:"positions"`
	Kernels      []KernelReport `json:"kernels"`
	GFLOPPerStep float64        `json:"gflop_per_step"` // Σ gflop × evals_per_step
	SurfaceBytes int64          `json:"surface_bytes"`  // one input surface per kernel per layer, one output per kernel
	Warnings     []string       `json:"warnings,omitempty"`
}

// KernelReport is one row of the table.
type KernelReport struct {
	Name         string  `json:"name"`
	Phase        string  `json:"phase"`
	Input        [4]int  `json:"input"`
	Output       [4]int  `json:"output"`
	InputBytes   int64   `json:"input_bytes"`
	OutputBytes  int64   `json:"output_bytes"`
	GFLOP        float64 `json:"gflop"`
	EvalsPerStep int     `json:"evals_per_step"`
	Violations   int     `json:"ane_violations"`
}

func compile(ctx *cli.Context, stdout, stderr io.Writer) error {
	if ctx.NArg() != 1 {
		return badf("want one model.yaml argument, have %d (usage: ane-compile model.yaml [-o DIR] [--target auto|ane|cpu])", ctx.NArg())
	}
	src := ctx.Args().First()
	target := ctx.String("target")
	needANE := false
	switch target {
	case "ane":
		needANE = true
	case "auto":
		needANE = runtime.GOOS == "darwin" && runtime.GOARCH == "arm64"
	case "cpu":
	default:
		return badf("--target %q: want auto, ane or cpu", target)
	}

	c, err := model.LoadConfig(src)
	if err != nil {
		return badInput{err}
	}
	ks, err := model.BuildKernels(c)
	if err != nil {
		return badInput{fmt.Errorf("%s: %w", src, err)}
	}

	// The Neural Engine's rules, kernel by kernel.
	rep := &Report{Model: c, Target: target, Positions: ks.S}
	var first string
	nviol := 0
	for _, k := range ks.Kernels {
		vs := mil.Validate(k.Program)
		nviol += len(vs)
		if len(vs) > 0 && first == "" {
			first = fmt.Sprintf("kernel %s: %v", k.Name, vs[0])
		}
		rep.Kernels = append(rep.Kernels, KernelReport{
			Name: k.Name, Phase: k.Phase, Input: k.In.Shape, Output: k.Out.Shape,
			InputBytes: k.In.Bytes(), OutputBytes: k.Out.Bytes(), GFLOP: float64(k.FLOPs) / 1e9,
			EvalsPerStep: c.NLayers, Violations: len(vs),
		})
		rep.GFLOPPerStep += float64(k.FLOPs) / 1e9 * float64(c.NLayers)
		rep.SurfaceBytes += k.In.Bytes()*int64(c.NLayers) + k.Out.Bytes()
	}
	if nviol > 0 {
		more := ""
		if nviol > 1 {
			more = fmt.Sprintf(" (and %d more)", nviol-1)
		}
		if needANE {
			return badf("%s: the Neural Engine cannot take this shape: %s%s; --target cpu builds it for the CPU backend", src, first, more)
		}
		w := fmt.Sprintf("%s: not runnable on the Neural Engine, the CPU backend runs it: %s%s", src, first, more)
		rep.Warnings = append(rep.Warnings, w)
		fmt.Fprintf(stderr, "ane-compile: warning: %s\n", w)
	}

	var dev anert.Device
	if needANE {
		if dev, err = anert.Open("ane"); err != nil {
			return fmt.Errorf("--target %s: no Neural Engine here, so nothing was compiled on it (%v); use --target cpu", target, err)
		}
		defer dev.Close()
	}

	dst := ctx.String("output")
	if dst == "" {
		dst = strings.TrimSuffix(src, filepath.Ext(src)) + ".aneb"
	}
	if err := writeAtomically(ks, dst); err != nil {
		return err
	}
	b, _, err := model.OpenBundle(dst)
	if err != nil {
		return fmt.Errorf("the bundle just written does not validate: %w", err)
	}
	rep.Bundle, rep.Hash = dst, b.Hash
	if dev != nil {
		for _, k := range b.Manifest.Kernels {
			kern, err := dev.Compile(b.Programs[k.Name], b.Blobs)
			if err != nil {
				return fmt.Errorf("kernel %s does not compile on %s (MIL: %s): %v", k.Name, dev.Name(), filepath.Join(dst, k.MIL), err)
			}
			kern.Close()
		}
		rep.Device = dev.Name()
	}
	if ctx.Bool("json") {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(stderr, rep)
	return nil
}

// writeAtomically writes the bundle into a temporary directory beside dst
// and renames it to dst, replacing an earlier bundle there (a directory
// holding manifest.json) but nothing else.
func writeAtomically(ks *model.KernelSet, dst string) error {
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if st, err := os.Stat(dst); err == nil {
		if !st.IsDir() {
			return badf("%s exists and is not a bundle directory", dst)
		}
		ents, _ := os.ReadDir(dst)
		if _, err := os.Stat(filepath.Join(dst, format.BundleManifestName)); len(ents) > 0 && err != nil {
			return badf("%s exists and is not a bundle (no %s); not replacing it", dst, format.BundleManifestName)
		}
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return err
	}
	if err := ks.WriteBundle(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	old := ""
	if _, err := os.Stat(dst); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dst, old); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if old != "" {
			os.Rename(old, dst)
		}
		os.RemoveAll(tmp)
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

func shape(s [4]int) string { return fmt.Sprintf("[1,%d,1,%d]", s[1], s[3]) }

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func printTable(w io.Writer, r *Report) {
	c := r.Model
	fmt.Fprintf(w, "%s: dim %d, hidden %d, %d layers, %d heads over %d kv heads of %d, seq_len %d (S=%d), target %s\n",
		c.Name, c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKVHeads, c.HeadDim, c.SeqLen, r.Positions, r.Target)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kernel\tphase\tinput\toutput\tin bytes\tout bytes\tGFLOP/eval\tevals/step\tGFLOP/step\tANE\t")
	for _, k := range r.Kernels {
		ok := "ok"
		if k.Violations > 0 {
			ok = fmt.Sprintf("%d violations", k.Violations)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%d\t%.3f\t%s\t\n", k.Name, k.Phase, shape(k.Input), shape(k.Output),
			mb(k.InputBytes), mb(k.OutputBytes), k.GFLOP, k.EvalsPerStep, k.GFLOP*float64(k.EvalsPerStep), ok)
	}
	tw.Flush()
	fmt.Fprintf(w, "per step: %.3f GFLOP in kernels; surfaces %s (an input per kernel per layer, an output per kernel)\n",
		r.GFLOPPerStep, mb(r.SurfaceBytes))
	if r.Device != "" {
		fmt.Fprintf(w, "every kernel compiled on %s\n", r.Device)
	}
	fmt.Fprintf(w, "wrote %s (sha256 %s)\n", r.Bundle, r.Hash)
}
