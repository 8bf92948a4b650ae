package main

import (
	"fmt"
	"os"
	"time"

	"github.com/anekit/anekit/internal/f16"
	"github.com/urfave/cli/v2"
)

// convertResult reports both directions over n elements. GB/s counts bytes
// read plus bytes written (6 per element either way), as bench/gemm_ref.c.
type convertResult struct {
	N          int       `json:"n"`
	EncodeGBps float64   `json:"fp32_to_fp16_gbps_median"`
	DecodeGBps float64   `json:"fp16_to_fp32_gbps_median"`
	EncodeReps []float64 `json:"fp32_to_fp16_gbps_reps"`
	DecodeReps []float64 `json:"fp16_to_fp32_gbps_reps"`
}

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:  "convert",
		Usage: "time fp32->fp16 and fp16->fp32 bulk conversion and print GB/s",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 1 << 20, Usage: "elements per conversion"},
			&cli.IntFlag{Name: "reps", Value: 5, Usage: "timed repetitions (each >= 20ms); the median is reported"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON record on stdout"},
		},
		Action: runConvert,
	}
}

func runConvert(c *cli.Context) error {
	n, reps := c.Int("n"), c.Int("reps")
	if n < 1 || n > 1<<30 {
		return usageError(fmt.Sprintf("--n %d: must be in [1, 2^30]", n))
	}
	if reps < 1 {
		return usageError(fmt.Sprintf("--reps %d: must be at least 1", reps))
	}
	fs, hs := make([]float32, n), make([]uint16, n)
	for i := range fs {
		fs[i] = float32(i%1000)*0.01 - 5
	}
	res := convertResult{N: n}
	enc := func() { f16.Encode(hs, fs) }
	dec := func() { f16.Decode(fs, hs) }
	for range reps {
		res.EncodeReps = append(res.EncodeReps, 6*float64(n)/secondsPerOp(enc, 20*time.Millisecond)/1e9)
		res.DecodeReps = append(res.DecodeReps, 6*float64(n)/secondsPerOp(dec, 20*time.Millisecond)/1e9)
	}
	res.EncodeGBps = median(append([]float64(nil), res.EncodeReps...))
	res.DecodeGBps = median(append([]float64(nil), res.DecodeReps...))
	if c.Bool("json") {
		r := newRecord("convert", f16.Impl())
		r.Results = res
		return r.Write(os.Stdout)
	}
	fmt.Printf("path %s, n %d\nfp32->fp16 %8.2f GB/s\nfp16->fp32 %8.2f GB/s\n", f16.Impl(), n, res.EncodeGBps, res.DecodeGBps)
	return nil
}
