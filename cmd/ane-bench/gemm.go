package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/anekit/anekit/internal/gemm"
	"github.com/urfave/cli/v2"
)

// defaultShapes are the M,N,K shapes of a stories15m-to-110m step plus a
// large square one.
const defaultShapes = "256,768,768;256,2048,768;256,768,2048;768,768,256;256,288,288;256,32000,288;2048,2048,2048"

// gemmResult is one shape at one thread count.
type gemmResult struct {
	M, N, K int       `json:"-"`
	Shape   [3]int    `json:"mnk"`
	Threads int       `json:"threads"`
	GFLOPS  float64   `json:"gflops_median"`
	Reps    []float64 `json:"gflops_reps"`
}

func gemmCommand() *cli.Command {
	return &cli.Command{
		Name:  "gemm",
		Usage: "time row-major C = A*B (fp32, alpha 1, beta 0) and print GFLOPS",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "shapes", Value: defaultShapes, Usage: "M,N,K;M,N,K;..."},
			&cli.StringFlag{Name: "threads", Value: "1,2", Usage: "thread counts, comma-separated"},
			&cli.IntFlag{Name: "reps", Value: 5, Usage: "timed repetitions (each >= 20ms); the median is reported"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: runGemm,
	}
}

func runGemm(c *cli.Context) error {
	shapes, err := parseShapes(c.String("shapes"))
	if err != nil {
		return err
	}
	threads, err := parseInts("--threads", c.String("threads"))
	if err != nil {
		return err
	}
	reps := c.Int("reps")
	if reps < 1 {
		return usageError(fmt.Sprintf("--reps %d: must be at least 1", reps))
	}
	var results []gemmResult
	for _, th := range threads {
		old := gemm.SetThreads(th)
		for _, s := range shapes {
			results = append(results, timeGemm(s, th, reps))
		}
		gemm.SetThreads(old)
	}
	if c.Bool("json") {
		r := newRecord("gemm", gemm.Impl())
		r.Results = results
		return r.Write(os.Stdout)
	}
	fmt.Printf("kernel %s\n%6s %6s %6s %7s %9s\n", gemm.Impl(), "M", "N", "K", "threads", "GFLOPS")
	for _, r := range results {
		fmt.Printf("%6d %6d %6d %7d %9.1f\n", r.Shape[0], r.Shape[1], r.Shape[2], r.Threads, r.GFLOPS)
	}
	return nil
}

// timeGemm measures one shape: the same data and call as bench/gemm_ref.c.
func timeGemm(s [3]int, threads, reps int) gemmResult {
	m, n, k := s[0], s[1], s[2]
	a, b, cc := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range b {
		b[i] = float32(i%5) * 0.1
	}
	run := func() { gemm.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, cc, n) }
	run()
	res := gemmResult{Shape: s, Threads: threads}
	for range reps {
		res.Reps = append(res.Reps, 2*float64(m)*float64(n)*float64(k)/secondsPerOp(run, 20*time.Millisecond)/1e9)
	}
	res.GFLOPS = median(append([]float64(nil), res.Reps...))
	return res
}

func parseShapes(s string) ([][3]int, error) {
	var out [][3]int
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		dims, err := parseInts("--shapes", part)
		if err != nil {
			return nil, err
		}
		if len(dims) != 3 {
			return nil, usageError(fmt.Sprintf("--shapes %q: want M,N,K", part))
		}
		out = append(out, [3]int{dims[0], dims[1], dims[2]})
	}
	if len(out) == 0 {
		return nil, usageError("--shapes: no shapes")
	}
	return out, nil
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 1<<20 {
			return nil, usageError(fmt.Sprintf("%s %q: %q is not a positive integer", flag, s, f))
		}
		out = append(out, v)
	}
	return out, nil
}
