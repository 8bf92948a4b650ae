package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/anekit/anekit/pkg/bpe"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
)

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:      "train",
		Usage:     "learn a byte-level BPE vocabulary (.tiktoken) from a corpus",
		ArgsUsage: "[FILE...]",
		Description: `Learns a byte-level BPE vocabulary from the FILEs (or stdin) and writes it in
the .tiktoken format: ranks 0-255 are the bytes, then one rank per merge;
<|bos|> and <|eos|> follow the ranks (--vocab counts them). The cl100k_base
pre-tokenizer cuts the text first. The same corpus gives the same file.

Examples:
  ane-tokenize train --vocab 4096 corpus.txt -o vocab.tiktoken
  ane-tokenize -t vocab.tiktoken --sep blank --bos -o data.bin corpus.txt`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "vocab", Value: 4096, Usage: "vocabulary size `N`, the two special tokens included (at least 258)"},
			&cli.IntFlag{Name: "min-frequency", Value: 2, Usage: "never merge a pair seen fewer than `K` times"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the vocabulary to `FILE` (via a temp file renamed on success) instead of stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no summary line on stderr"},
		},
		Action: trainAction,
	}
}

func trainAction(c *cli.Context) error {
	if v := c.Int("vocab"); v < 256+len(bpe.DefaultSpecials) {
		return badf("train: --vocab %d: want at least %d (256 bytes and %d specials)", v, 256+len(bpe.DefaultSpecials), len(bpe.DefaultSpecials))
	}
	ins, err := inputs(c)
	if err != nil {
		return err
	}
	var readers []io.Reader
	for _, in := range ins {
		rc, err := in.open()
		if err != nil {
			return bad(err)
		}
		defer rc.Close()
		readers = append(readers, rc)
	}
	var nbytes int64
	corpus := countingReader{io.MultiReader(readers...), &nbytes, nil}

	opts := bpe.TrainOptions{VocabSize: c.Int("vocab"), MinFrequency: c.Int("min-frequency")}
	if isTerminal(c.App.ErrWriter) {
		var bar *progressbar.ProgressBar
		opts.Progress = func(merges, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(c.App.ErrWriter),
					progressbar.OptionSetDescription("merges"), progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
			}
			bar.Set(merges)
		}
	}
	start := time.Now()
	tok, err := bpe.Train(corpus, opts)
	if err != nil {
		return bad(err)
	}
	if err := writeAtomic(c.String("output"), c.App.Writer, tok.WriteTiktoken); err != nil {
		return err
	}
	if !c.Bool("quiet") {
		where := c.String("output")
		if where == "" {
			where = "stdout"
		}
		fmt.Fprintf(c.App.ErrWriter, "ane-tokenize: learned a vocabulary of %d tokens (%d specials) from %d bytes in %.1fs, %s -> %s\n",
			tok.VocabSize(), len(bpe.DefaultSpecials), nbytes, time.Since(start).Seconds(), tok.Identity(), where)
	}
	return nil
}

// writeAtomic calls write on a temp file beside path and renames it to path
// on success; with path "" or "-" it writes to stdout.
func writeAtomic(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriter(stdout)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
