// Command ane-bench measures anekit's hot paths on this machine.
//
// Subcommands:
//
//	ane-bench gemm     fp32 GEMM GFLOPS per shape and thread count
//	ane-bench convert  fp32<->fp16 conversion GB/s
//
// Every subcommand prints a table, or with --json one self-describing JSON
// record on stdout (machine, CPU, Go version, commit, command line, kernel
// path, medians). Errors go to stderr as one line, with a non-zero exit.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// commands lists the subcommands; each file adds its constructor here.
var commands = []func() *cli.Command{gemmCommand, convertCommand, milCommand, bundleCommand}

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
		ExitErrHandler:  func(*cli.Context, error) {},
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

// exitCode is 2 for bad usage, 1 for anything else.
func exitCode(err error) int {
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}

// onUsageError turns a flag parsing error into a usageError, so it is
// reported as one line instead of with the help text.
func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError(err.Error()) }

// usageError marks errors in flags or arguments.
type usageError string

func (e usageError) Error() string { return string(e) }
