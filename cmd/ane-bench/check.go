package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/anert/ane"
	"github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/mil"
)

// exitNoANE is the exit status of check and peak on a machine without a
// Neural Engine (or with --device ane where the backend cannot open): the
// run did not happen, which is neither a pass (0) nor a mismatch (1).
const exitNoANE = 3

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "run MIL kernels on the Neural Engine and on the CPU backend with the same random input, and compare",
		ArgsUsage: "DIR|FILE.mil ...",
		Description: `Each FILE.mil, or every *.mil in DIR (sorted), is compiled on the device
under test and on the CPU backend, given the same random input (uniform in
[-scale, scale], seeded per kernel) and evaluated once on each. For each kernel
it prints the largest absolute difference and that difference relative to the
largest magnitude of the CPU output; a kernel whose relative error exceeds
--tol, or whose output holds NaN or Inf, fails.

BLOBFILE paths "@model_path/weights/F" resolve to DIR/weights/F (the folder
of the .mil file), or to W/F with --weights W.

Exit status: 0 all kernels within tolerance, 1 a kernel failed or erred,
2 bad usage, 3 no Neural Engine here (nothing was run).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "weights", Usage: "folder holding the blob files that @model_path/weights/ names"},
			&cli.Float64Flag{Name: "tol", Value: 1e-2, Usage: "largest relative error (max |dev-cpu| / max |cpu|) that passes"},
			&cli.Float64Flag{Name: "scale", Value: 1, Usage: "inputs are uniform in [-scale, scale]"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
			&cli.StringFlag{Name: "device", Value: "ane", Usage: "backend under test: ane, or cpu-strict (the CPU backend in strict fp16 mode; a self-test of this command)"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: func(c *cli.Context) error { return exitOnNoANE(c, "check", runCheck(c)) },
	}
}

// noANE is returned when the device under test cannot open here.
type noANE struct{ err error }

func (e noANE) Error() string { return e.err.Error() }
func (e noANE) Unwrap() error { return e.err }

// exitOnNoANE turns a noANE error into one line on stderr (and a JSON
// record saying so with --json) and exit status 3.
func exitOnNoANE(c *cli.Context, command string, err error) error {
	var na noANE
	if !errors.As(err, &na) {
		return err
	}
	if c.Bool("json") {
		r := newRecord(command, "ane")
		r.Results = struct {
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
			MacOS     string `json:"macos,omitempty"`
		}{false, na.err.Error(), ane.OSVersion()}
		r.Write(os.Stdout)
	}
	return exitError{fmt.Errorf("%s: no Apple Neural Engine available here, nothing was run (%v)", command, na.err), exitNoANE}
}

// openDevice opens the backend under test.
func openDevice(name string) (anert.Device, error) {
	switch name {
	case "ane":
		d, err := anert.Open("ane")
		if errors.Is(err, anert.ErrUnavailable) {
			return nil, noANE{err}
		}
		return d, err
	case "cpu":
		return cpu.New(cpu.Options{}), nil
	case "cpu-strict":
		return cpu.New(cpu.Options{Strict: true}), nil
	}
	return nil, usageError(fmt.Sprintf("--device %q: want ane, cpu or cpu-strict", name))
}

// checkKernel is one kernel's comparison.
type checkKernel struct {
	File      string  `json:"file"`
	In        [4]int  `json:"in"`
	Out       [4]int  `json:"out"`
	MaxAbs    float64 `json:"max_abs_err"`
	MaxRel    float64 `json:"max_rel_err"` // MaxAbs / max |cpu output|
	RefMax    float64 `json:"cpu_max_abs"`
	NonFinite int     `json:"non_finite"` // NaN or Inf in the device's output
	Zeros     bool    `json:"all_zero"`   // the device's output is all zeros, the CPU's is not
	Pass      bool    `json:"pass"`
	Error     string  `json:"error,omitempty"`
	DeviceMs  float64 `json:"device_eval_ms"` // one evaluation (after one warm-up), median of 5
	CPUMs     float64 `json:"cpu_eval_ms"`
}

type checkResults struct {
	Device   string        `json:"device"`
	Chip     string        `json:"chip,omitempty"`
	MacOS    string        `json:"macos,omitempty"`
	Tol      float64       `json:"tol"`
	Scale    float64       `json:"scale"`
	Seed     uint64        `json:"seed"`
	Compiles int           `json:"compiles"`
	Kernels  []checkKernel `json:"kernels"`
}

type checkOptions struct {
	device  string
	weights string
	tol     float64
	scale   float64
	seed    uint64
}

func runCheck(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("check: name at least one DIR or FILE.mil")
	}
	opt := checkOptions{c.String("device"), c.String("weights"), c.Float64("tol"), c.Float64("scale"), c.Uint64("seed")}
	if !(opt.tol >= 0) || !(opt.scale > 0) {
		return usageError("--tol must be >= 0 and --scale > 0")
	}
	files, err := milFiles(c.Args().Slice())
	if err != nil {
		return err
	}
	res, err := checkFiles(files, opt)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		r := newRecord("check", res.Device)
		r.Results = res
		if err := r.Write(os.Stdout); err != nil {
			return err
		}
	} else {
		printCheck(os.Stdout, res)
	}
	failed := 0
	for _, k := range res.Kernels {
		if !k.Pass {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("check: %d of %d kernels failed on %s (tolerance %g)", failed, len(res.Kernels), res.Device, res.Tol)
	}
	return nil
}

// milFiles expands the arguments: a directory gives its *.mil files, sorted.
func milFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.mil"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no .mil files", a)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}

// blobSource resolves BLOBFILE paths for a kernel read from milDir.
func blobSource(milDir, weightsDir string) anert.BlobSource {
	base := anert.DirBlobs(milDir)
	if weightsDir == "" {
		return base
	}
	over := anert.DirBlobs(weightsDir)
	return func(path string) ([]byte, error) {
		if rest, ok := strings.CutPrefix(path, anert.ModelPath+"weights/"); ok {
			return over(anert.ModelPath + rest)
		}
		return base(path)
	}
}

// checkFiles compares every file on the device under test against the
// default CPU backend. Errors in one kernel are recorded in its result; the
// returned error is for the run as a whole (no device).
func checkFiles(files []string, opt checkOptions) (*checkResults, error) {
	dev, err := openDevice(opt.device)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	ref := cpu.New(cpu.Options{})
	defer ref.Close()
	res := &checkResults{Device: opt.device, Tol: opt.tol, Scale: opt.scale, Seed: opt.seed}
	if opt.device == "ane" {
		res.Chip, _ = ane.Chip()
		res.MacOS = ane.OSVersion()
	}
	for _, f := range files {
		k := checkKernel{File: f}
		if err := checkOne(&k, f, dev, ref, opt); err != nil {
			k.Error = err.Error()
			k.Pass = false
		}
		res.Kernels = append(res.Kernels, k)
	}
	res.Compiles = dev.Compiles()
	return res, nil
}

func checkOne(k *checkKernel, file string, dev, ref anert.Device, opt checkOptions) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	p, err := mil.Parse(src)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	blobs := blobSource(filepath.Dir(file), opt.weights)
	rk, err := ref.Compile(p, blobs)
	if err != nil {
		return fmt.Errorf("cpu compile: %w", err)
	}
	defer rk.Close()
	dk, err := dev.Compile(p, blobs)
	if err != nil {
		return fmt.Errorf("%s compile: %w", dev.Name(), err)
	}
	defer dk.Close()
	k.In, k.Out = dk.InputShape(), dk.OutputShape()
	rb, err := rk.NewBinding()
	if err != nil {
		return err
	}
	defer rb.Close()
	db, err := dk.NewBinding()
	if err != nil {
		return fmt.Errorf("%s binding: %w", dev.Name(), err)
	}
	defer db.Close()

	h := fnv.New64a()
	io.WriteString(h, filepath.Base(file))
	rng := rand.New(rand.NewPCG(opt.seed, h.Sum64()))
	in := make([]float32, k.In[1]*k.In[3])
	for i := range in {
		in[i] = float32((2*rng.Float64() - 1) * opt.scale)
	}
	if err := rb.In().WriteRegion(rb.In().All(), in); err != nil {
		return err
	}
	if err := db.In().WriteRegion(db.In().All(), in); err != nil {
		return err
	}
	if k.CPUMs, err = evalMs(rb); err != nil {
		return fmt.Errorf("cpu eval: %w", err)
	}
	if k.DeviceMs, err = evalMs(db); err != nil {
		return fmt.Errorf("%s eval: %w", dev.Name(), err)
	}
	want := make([]float32, k.Out[1]*k.Out[3])
	got := make([]float32, len(want))
	if err := rb.Out().ReadRegion(rb.Out().All(), want); err != nil {
		return err
	}
	if err := db.Out().ReadRegion(db.Out().All(), got); err != nil {
		return err
	}
	return compareOutputs(k, got, want, opt.tol)
}

// compareOutputs fills in the error figures and Pass.
func compareOutputs(k *checkKernel, got, want []float32, tol float64) error {
	zero := true
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("the cpu reference output has a non-finite value at %d: inputs too large for fp16 (lower --scale)", i)
		}
		k.RefMax = math.Max(k.RefMax, math.Abs(w))
		if math.IsNaN(g) || math.IsInf(g, 0) {
			k.NonFinite++
			continue
		}
		if g != 0 {
			zero = false
		}
		k.MaxAbs = math.Max(k.MaxAbs, math.Abs(g-w))
	}
	k.Zeros = zero && k.RefMax > 0
	// The smallest normal fp16 keeps the ratio finite for an all-zero reference.
	k.MaxRel = k.MaxAbs / math.Max(k.RefMax, 0x1p-14)
	k.Pass = k.NonFinite == 0 && !k.Zeros && k.MaxRel <= tol
	return nil
}

// evalMs evaluates b once to warm up, then 5 times, and returns the median
// time of one evaluation in milliseconds.
func evalMs(b anert.Binding) (float64, error) {
	if err := b.Eval(); err != nil {
		return 0, err
	}
	ts := make([]float64, 5)
	for i := range ts {
		t0 := time.Now()
		if err := b.Eval(); err != nil {
			return 0, err
		}
		ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	return median(ts), nil
}

func printCheck(w io.Writer, r *checkResults) {
	fmt.Fprintf(w, "device %s", r.Device)
	if r.Chip != "" {
		fmt.Fprintf(w, " (%s)", r.Chip)
	}
	if r.MacOS != "" {
		fmt.Fprintf(w, ", macOS %s", r.MacOS)
	}
	fmt.Fprintf(w, "; reference cpu; tolerance %g\n", r.Tol)
	fmt.Fprintf(w, "%-28s %-18s %-18s %10s %10s %9s %9s  %s\n", "kernel", "in", "out", "max abs", "max rel", "dev ms", "cpu ms", "result")
	for _, k := range r.Kernels {
		name := filepath.Base(k.File)
		if k.Error != "" {
			fmt.Fprintf(w, "%-28s ERROR %s\n", name, k.Error)
			continue
		}
		verdict := "ok"
		switch {
		case k.NonFinite > 0:
			verdict = fmt.Sprintf("FAIL (%d non-finite values)", k.NonFinite)
		case k.Zeros:
			verdict = "FAIL (all zeros: a silent failure)"
		case !k.Pass:
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-28s %-18s %-18s %10.3g %10.3g %9.3f %9.3f  %s\n", name, shapeString(k.In), shapeString(k.Out),
			k.MaxAbs, k.MaxRel, k.DeviceMs, k.CPUMs, verdict)
	}
}

func shapeString(s [4]int) string { return fmt.Sprintf("[%d,%d,%d,%d]", s[0], s[1], s[2], s[3]) }

// f16Round rounds v to the nearest half (for building test inputs the
// device sees exactly).
func f16Round(v float32) float32 {
	var h [1]uint16
	var out [1]float32
	f16.Encode(h[:], []float32{v})
	f16.Decode(out[:], h[:])
	return out[0]
}
