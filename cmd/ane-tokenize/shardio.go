package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/anekit/anekit/pkg/bpe"
	"github.com/anekit/anekit/pkg/format"
	"github.com/urfave/cli/v2"
)

// openShard opens a shard file (mmapped) or reads one from stdin ("-").
// With rawVocab > 0 the input is a headerless uint16 file.
func openShard(c *cli.Context, name string, rawVocab int) (*format.Shard, error) {
	var s *format.Shard
	var err error
	if name == "-" {
		data, rerr := io.ReadAll(c.App.Reader)
		if rerr != nil {
			return nil, rerr
		}
		if rawVocab > 0 {
			s, err = format.ParseRawShard(data, "stdin", rawVocab)
		} else {
			s, err = format.ParseShard(data, "stdin")
		}
	} else if rawVocab > 0 {
		s, err = format.OpenRawShard(name, rawVocab)
	} else {
		s, err = format.OpenShard(name)
	}
	if err != nil {
		var fe *format.FormatError
		var pe *fs.PathError
		if errors.As(err, &fe) || errors.As(err, &pe) || rawVocab > 0 {
			return nil, bad(err)
		}
		return nil, err
	}
	return s, nil
}

// shardTokenizer returns the tokenizer for decoding s: the one named by
// spec, checked against the shard's identity, or, without spec, the
// built-in one the identity names.
func shardTokenizer(s *format.Shard, spec string, force bool) (bpe.Tokenizer, error) {
	id := s.Header.Identity
	if spec == "" {
		if id == "" {
			return nil, badf("%s: a headerless shard names no tokenizer: give --tokenizer", s.Name())
		}
		parts := strings.SplitN(id, ":", 3)
		switch {
		case len(parts) == 3 && parts[0] == "bytes":
			spec = "bytes"
		case len(parts) == 3 && parts[0] == "tiktoken" && parts[1] != "custom":
			spec = parts[1]
		default:
			return nil, badf("%s: written with tokenizer %s, which is not built in: give --tokenizer", s.Name(), id)
		}
	}
	tok, err := openTokenizer(spec)
	if err != nil {
		return nil, err
	}
	if id != "" && tok.Identity() != id && !force {
		return nil, badf("%s: written with tokenizer %s, but --tokenizer %s is %s (--force decodes anyway)", s.Name(), id, spec, tok.Identity())
	}
	if tok.VocabSize() < s.Header.Vocab && !force {
		return nil, badf("%s: vocab size %d, but tokenizer %s has only %d", s.Name(), s.Header.Vocab, spec, tok.VocabSize())
	}
	return tok, nil
}

func decodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "decode",
		Usage:     "write the text of a shard to stdout",
		ArgsUsage: "SHARD|-",
		Description: `Decodes every id of the shard with the tokenizer it was written with: a
built-in tokenizer is found from the shard's identity, any other must be
given with --tokenizer (and must have the same identity, unless --force).

Examples:
  ane-tokenize decode data.bin | head
  ane-tokenize decode -t llama2:tokenizer.model data.bin
  ane-tokenize decode --raw-vocab 32000 -t llama2:tokenizer.bin tinystories.bin`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tokenizer", Aliases: []string{"t"}, Usage: "tokenizer: " + bpe.Forms},
			&cli.IntFlag{Name: "raw-vocab", Usage: "read a headerless uint16 file (llama2.c .bin) of this vocab size `N`"},
			&cli.BoolFlag{Name: "force", Usage: "decode even if the tokenizer's identity differs from the shard's"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return badf("decode: want one SHARD (or -), got %d arguments", c.NArg())
			}
			s, err := openShard(c, c.Args().First(), c.Int("raw-vocab"))
			if err != nil {
				return err
			}
			defer s.Close()
			tok, err := shardTokenizer(s, c.String("tokenizer"), c.Bool("force"))
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(c.App.Writer, 256<<10)
			if err := decodeShard(s, tok, w); err != nil {
				return err
			}
			return w.Flush()
		},
	}
}

// decodeShard decodes s window by window. A SentencePiece decoder drops the
// space of the first piece of its input, so every window after text has
// been written is decoded behind a one-token prefix whose text is then cut.
func decodeShard(s *format.Shard, tok bpe.Tokenizer, w io.Writer) error {
	const step = 1 << 16
	prefix := tok.Encode(nil, []byte("a"))[:1]
	pre, err := tok.Decode(nil, prefix)
	if err != nil {
		return err
	}
	var ids []uint32
	var out []byte
	wrote := false
	for i := int64(0); i < s.Len(); i += step {
		ids = ids[:0]
		if wrote {
			ids = append(ids, prefix...)
		}
		ids, err = s.Window(ids, i, int(min(step, s.Len()-i)))
		if err != nil {
			return bad(err)
		}
		out, err = tok.Decode(out[:0], ids)
		if err != nil {
			return bad(fmt.Errorf("%s: %w", s.Name(), err))
		}
		if wrote {
			out = out[len(pre):]
		}
		if len(out) > 0 {
			wrote = true
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
	}
	return nil
}
