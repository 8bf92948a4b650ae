// Command ane-bench measures anekit's hot paths on this machine.
//
// Subcommands:
//
//	ane-bench gemm     fp32 GEMM GFLOPS per shape and thread count
//	ane-bench convert  fp32<->fp16 conversion GB/s
//	ane-bench mil      compile time, latency and GFLOPS of MIL programs
//	ane-bench bundle   every kernel of a bundle, a forward pass, the weight sync
//	ane-bench check    each kernel on the Neural Engine and the CPU, compared
//	ane-bench peak     the Neural Engine's fp16 TFLOPS
//
// Every subcommand prints a table, or with --json one self-describing JSON
// record on stdout (machine, CPU, Go version, commit, command line, kernel
// path, medians). Errors go to stderr as one line, with an exit status that
// means something:
//
//	0  done (check: every kernel within tolerance)
//	1  the run failed (check: a kernel above tolerance)
//	2  bad usage or bad input (flags, a MIL file that does not parse, a
//	   malformed bundle or blob)
//	3  check, peak: no Neural Engine here, nothing was run
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"

	"github.com/urfave/cli/v2"
)

// commands lists the subcommands; each file adds its constructor here.
var commands = []func() *cli.Command{gemmCommand, convertCommand, milCommand, bundleCommand, checkCommand, peakCommand}

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "ane-bench:", err)
		os.Exit(exitCode(err))
	}
}

func newApp() *cli.App {
	app := &cli.App{
		Name:            "ane-bench",
		Usage:           "measure anekit's kernels on this machine",
		HideHelpCommand: true,
		Description: "Every figure is measured on this machine, with FLOPs counted from the programs.\n" +
			"--json writes one record (machine, CPU, Go version, commit, command line, medians).\n\n" +
			"Exit status: 0 done; 1 the run failed (check: a kernel above tolerance);\n" +
			"2 bad usage or bad input; 3 check/peak: no Neural Engine here, nothing was run.",
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usageError(fmt.Sprintf("unknown command %q", c.Args().First()))
		}
		return cli.ShowAppHelp(c)
	}
	app.OnUsageError = onUsageError
	for _, mk := range commands {
		c := mk()
		c.OnUsageError = onUsageError
		app.Commands = append(app.Commands, c)
	}
	return app
}

// exitCode maps an error to the exit status documented above.
func exitCode(err error) int {
	var ee exitError
	var me *mil.Error
	var fe *format.FormatError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, new(usageError)), errors.As(err, &me), errors.As(err, &fe):
		return 2
	}
	return 1
}

// exitError carries its own exit status.
type exitError struct {
	err  error
	code int
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// onUsageError turns a flag parsing error into a usageError, so it is
// reported as one line instead of with the help text.
func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError(err.Error()) }

// usageError marks errors in flags or arguments.
type usageError string

func (e usageError) Error() string { return string(e) }
