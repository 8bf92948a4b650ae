// Command ane-tokenize turns text into a token shard, the training input of
// ane-train, and back.
//
//	cat book.txt | ane-tokenize > data.bin
//	ane-tokenize --tokenizer cl100k_base --sep blank --bos -o data.bin *.txt
//	ane-tokenize train --vocab 4096 corpus.txt -o vocab.tiktoken
//	ane-tokenize decode data.bin | head
//	ane-tokenize info --json data.bin
//
// The shard format is specified in docs/FORMATS.md.
//
// Exit codes: 0 success (also when stdout is a pipe closed early, as by
// "| head"), 1 runtime error (I/O), 2 usage error or bad input (unknown
// tokenizer, missing or corrupt vocabulary, malformed shard, id beyond the
// vocabulary, tokenizer mismatch), 130 interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK          = 0
	exitRuntime     = 1
	exitBadInput    = 2
	exitInterrupted = 130
)

// badInput marks an error as the user's (exit 2).
type badInput struct{ err error }

func (e badInput) Error() string { return e.err.Error() }
func (e badInput) Unwrap() error { return e.err }

func bad(err error) error {
	if err == nil {
		return nil
	}
	return badInput{err}
}

func badf(format string, a ...any) error { return badInput{fmt.Errorf(format, a...)} }

func main() {
	if os.Getenv("GOGC") == "" {
		// Loading a tokenizer builds tens of megabytes of tables that stay
		// live; encoding recycles its buffers. Collecting at every doubling
		// of the heap would only rescan the tables (a third of the start-up
		// time of cl100k_base); memory stays bounded either way.
		debug.SetGCPercent(400)
	}
	stop := startProfile(os.Stderr)
	code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// A closed stdout pipe makes writes fail with EPIPE instead of killing
	// the process, so that it can exit quietly.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, syscall.EPIPE):
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "ane-tokenize: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "ane-tokenize: %v\n", err)
	var b badInput
	if errors.As(err, &b) {
		return exitBadInput
	}
	return exitRuntime
}

func usageError(c *cli.Context, err error, isSubcommand bool) error {
	name := "ane-tokenize"
	if isSubcommand {
		name = c.Command.FullName()
		if name != "" {
			name = "ane-tokenize " + name
		}
	}
	return badf("%v (see %s --help)", err, name)
}

const description = `Reads text from FILEs (or stdin, or "-") and writes a token shard to stdout
or to -o FILE. Shards are what ane-train reads; their format is in
docs/FORMATS.md.

Tokenizers (--tokenizer):
  bytes                     one token per byte, plus <|bos|> <|eos|> (default)
  r50k_base (gpt2), p50k_base, cl100k_base, o200k_base
                            OpenAI's encodings, built in (nothing downloaded)
  llama2:PATH               a llama2.c tokenizer.bin or a SentencePiece
                            tokenizer.model (PATH.bin and PATH.model also work)
  PATH.tiktoken             a vocabulary made by "ane-tokenize train"

Documents (--sep): "none" encodes each input as one text; "blank" cuts
documents at blank lines, "line" makes every line a document, any other
string is a literal separator (e.g. --sep '<|endoftext|>'). Each document is
encoded on its own and wrapped in --bos/--eos; empty documents are skipped.

Examples:
  cat book.txt | ane-tokenize > data.bin
  ane-tokenize -t llama2:tokenizer.model --sep blank --bos -o data.bin stories.txt
  ane-tokenize -t cl100k_base --sep line --eos --val-fraction 0.05 -o data.bin corpus.txt
      (writes data.bin and the held-out data.val.bin)
  ane-tokenize train --vocab 4096 corpus.txt -o vocab.tiktoken
  ane-tokenize -t vocab.tiktoken --zstd -o data.bin corpus.txt
  ane-tokenize info data.bin
  ane-tokenize decode data.bin | head

Exit codes: 0 ok (also when stdout is closed early, as by "| head"),
1 runtime error, 2 usage error or bad input, 130 interrupted.

Environment: ANEKIT_CPUPROFILE=FILE writes a CPU profile of the run to FILE
(go tool pprof FILE).`

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:            "ane-tokenize",
		Usage:           "turn text into a token shard (and back)",
		UsageText:       "ane-tokenize [flags] [FILE...]\nane-tokenize train|decode|info [flags] ...",
		Description:     description,
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags:           encodeFlags(),
		Action:          encodeAction,
		OnUsageError: func(c *cli.Context, err error, sub bool) error {
			return usageError(c, err, sub)
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{trainCommand(), decodeCommand(), infoCommand()},
	}
	for _, c := range app.Commands {
		c.OnUsageError = func(c *cli.Context, err error, sub bool) error { return usageError(c, err, true) }
	}
	return app
}

// interspersed moves the flags of the command line in front of its
// arguments, so that flags may follow file names
// ("ane-tokenize train --vocab 4096 corpus.txt -o vocab.tiktoken"), which
// urfave/cli does not allow by itself. "--" ends the flags.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	head, rest, flags := args[:1], args[1:], app.Flags
	for _, c := range app.Commands {
		if c.Name == rest[0] {
			head, rest, flags = args[:2], args[2:], c.Flags
			break
		}
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append([]string{"--"}, append(pos, rest[i+1:]...)...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		fl = append(fl, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
			fl = append(fl, rest[i+1])
			i++
		}
	}
	return slices.Concat(head, fl, pos)
}
