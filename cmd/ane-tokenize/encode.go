package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/anekit/anekit/pkg/bpe"
	"github.com/anekit/anekit/pkg/format"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func encodeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tokenizer", Aliases: []string{"t"}, Value: "bytes", Usage: "tokenizer: " + bpe.Forms},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the shard to `FILE` (via a temp file renamed on success) instead of stdout"},
		&cli.BoolFlag{Name: "bos", Usage: "put the tokenizer's BOS token before every document"},
		&cli.BoolFlag{Name: "eos", Usage: "put the tokenizer's EOS token after every document"},
		&cli.StringFlag{Name: "sep", Value: "none", Usage: "document boundaries: none|blank|line|`STRING`"},
		&cli.Float64Flag{Name: "val-fraction", Usage: "send this fraction `F` of whole documents to a held-out shard beside -o (data.bin -> data.val.bin)"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of the train/val assignment of documents"},
		&cli.BoolFlag{Name: "zstd", Usage: "compress the shard (independent zstd frames with a seek index)"},
		&cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Value: runtime.NumCPU(), Usage: "encoding goroutines"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no summary line on stderr"},
	}
}

// parseSep turns a --sep value into stream options.
func parseSep(s string) (bpe.StreamOptions, error) {
	switch s {
	case "none":
		return bpe.StreamOptions{Mode: bpe.SepNone}, nil
	case "blank":
		return bpe.StreamOptions{Mode: bpe.SepBlank}, nil
	case "line":
		return bpe.StreamOptions{Mode: bpe.SepLine}, nil
	case "":
		return bpe.StreamOptions{}, badf("--sep: empty separator (use none, blank, line or a literal string)")
	}
	return bpe.StreamOptions{Mode: bpe.SepString, Sep: unescape(s)}, nil
}

// unescape turns the escapes \n, \t and \\ of a --sep string into bytes.
func unescape(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\t`, "\t").Replace(s)
}

// valPath returns the held-out shard's name for an output name.
func valPath(out string) string {
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + ".val" + ext
}

// isVal assigns document d to the held-out set with probability frac,
// deterministically from seed and d alone (so the split does not depend on
// the number of workers).
func isVal(seed uint64, d int64, frac float64) bool {
	h := splitmix(seed ^ splitmix(uint64(d)))
	return float64(h>>11)*(1.0/(1<<53)) < frac
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// input is one input to read: a file or stdin.
type input struct {
	name string
	open func() (io.ReadCloser, error)
	size int64 // -1 if unknown
}

func inputs(c *cli.Context) ([]input, error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		args = []string{"-"}
	}
	var ins []input
	for _, a := range args {
		if a == "-" {
			ins = append(ins, input{name: "stdin", size: -1,
				open: func() (io.ReadCloser, error) { return io.NopCloser(c.App.Reader), nil }})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, bad(err)
		}
		if fi.IsDir() {
			return nil, badf("%s: is a directory", a)
		}
		size := int64(-1)
		if fi.Mode().IsRegular() {
			size = fi.Size()
		}
		path := a
		ins = append(ins, input{name: a, size: size, open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	return ins, nil
}

// countingReader counts the bytes read through it and feeds a progress bar.
type countingReader struct {
	r   io.Reader
	n   *int64
	bar *progressbar.ProgressBar
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if c.bar != nil {
		c.bar.Add(n)
	}
	return n, err
}

// output is a shard being written: to stdout, or to a temp file renamed to
// its final name on success.
type output struct {
	final string
	f     *os.File // temp file, or nil for stdout
	sw    *format.ShardWriter
}

func createOutput(path string, stdout io.Writer, o format.ShardOptions) (*output, error) {
	if path == "" || path == "-" {
		// stdout is never patched (it may be opened for appending): a pipe
		// hides the Seek method.
		sw, err := format.NewShardWriter(struct{ io.Writer }{stdout}, o)
		if err != nil {
			return nil, err
		}
		return &output{sw: sw}, nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	sw, err := format.NewShardWriter(f, o)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &output{final: path, f: f, sw: sw}, nil
}

// commit finishes the shard and, for a file, moves it to its final name.
func (o *output) commit() error {
	if err := o.sw.Close(); err != nil {
		o.abort()
		return err
	}
	if o.f == nil {
		return nil
	}
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(o.f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.final)
	}
	if err != nil {
		os.Remove(o.f.Name())
	}
	return err
}

// abort removes a temp file; the final name is never touched.
func (o *output) abort() {
	if o != nil && o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}

func openTokenizer(spec string) (bpe.Tokenizer, error) {
	tok, err := bpe.Open(spec)
	if err != nil {
		return nil, bad(err)
	}
	return tok, nil
}

func encodeAction(c *cli.Context) error {
	tok, err := openTokenizer(c.String("tokenizer"))
	if err != nil {
		return err
	}
	so, err := parseSep(c.String("sep"))
	if err != nil {
		return err
	}
	so.Workers = c.Int("workers")
	if so.Workers < 1 {
		return badf("--workers %d: need at least 1", so.Workers)
	}
	for _, role := range []string{"bos", "eos"} {
		if !c.Bool(role) {
			continue
		}
		id, ok := tok.Special(role)
		if !ok {
			return badf("--%s: tokenizer %s has no %s token", role, tok.Identity(), strings.ToUpper(role))
		}
		if role == "bos" {
			so.BOS = []uint32{id}
		} else {
			so.EOS = []uint32{id}
		}
	}
	frac := c.Float64("val-fraction")
	outPath := c.String("output")
	if frac < 0 || frac >= 1 {
		return badf("--val-fraction %g: want 0 <= F < 1", frac)
	}
	if frac > 0 {
		if outPath == "" || outPath == "-" {
			return badf("--val-fraction needs -o FILE (the held-out shard is written beside it)")
		}
		if so.Mode == bpe.SepNone {
			return badf("--val-fraction needs document boundaries: --sep blank|line|STRING")
		}
	}
	if (outPath == "" || outPath == "-") && isTerminal(c.App.Writer) {
		return badf("refusing to write a binary shard to a terminal: redirect stdout or use -o FILE")
	}
	ins, err := inputs(c)
	if err != nil {
		return err
	}

	opts := format.ShardOptions{Vocab: tok.VocabSize(), Identity: tok.Identity(), Zstd: c.Bool("zstd")}
	train, err := createOutput(outPath, c.App.Writer, opts)
	if err != nil {
		return err
	}
	defer train.abort()
	var val *output
	if frac > 0 {
		if val, err = createOutput(valPath(outPath), nil, opts); err != nil {
			return err
		}
		defer val.abort()
	}

	var bar *progressbar.ProgressBar
	if isTerminal(c.App.ErrWriter) {
		total := int64(0)
		for _, in := range ins {
			if in.size < 0 {
				total = -1
				break
			}
			total += in.size
		}
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(c.App.ErrWriter),
			progressbar.OptionShowBytes(true), progressbar.OptionSetDescription("tokenizing"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30))
	}

	seed := c.Uint64("seed")
	start := time.Now()
	var nbytes, docBase, nDocs, valDocs int64
	for _, in := range ins {
		rc, err := in.open()
		if err != nil {
			return bad(err)
		}
		var docsHere int64
		err = bpe.EncodeStream(c.Context, tok, countingReader{rc, &nbytes, bar}, so, func(b *bpe.Batch) error {
			if b.Ends != nil {
				docsHere = b.FirstDoc + int64(len(b.Ends))
			}
			if b.Ends == nil || frac == 0 {
				return train.sw.Write(b.IDs)
			}
			// Runs of consecutive documents bound for the same shard go in
			// one write.
			runStart, prev := 0, 0
			var runW *format.ShardWriter
			for k, end := range b.Ends {
				d := docBase + b.FirstDoc + int64(k)
				w := train.sw
				if isVal(seed, d, frac) {
					w = val.sw
					valDocs++
				}
				if w != runW && prev > runStart {
					if err := runW.Write(b.IDs[runStart:prev]); err != nil {
						return err
					}
					runStart = prev
				}
				runW, prev = w, end
			}
			if prev > runStart {
				return runW.Write(b.IDs[runStart:prev])
			}
			return nil
		})
		rc.Close()
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == in.name {
				return bad(err)
			}
			return err
		}
		docBase += docsHere
		nDocs += docsHere
	}
	if bar != nil {
		bar.Finish()
	}
	ntrain := train.sw.Count()
	if err := train.commit(); err != nil {
		return err
	}
	var nval uint64
	if val != nil {
		nval = val.sw.Count()
		if err := val.commit(); err != nil {
			return err
		}
	}
	if !c.Bool("quiet") {
		secs := time.Since(start).Seconds()
		ntok := ntrain + nval
		msg := fmt.Sprintf("ane-tokenize: %d tokens from %d bytes (%.3f tokens/byte) in %.3fs, %.1f MB/s, %s",
			ntok, nbytes, float64(ntok)/max(1, float64(nbytes)), secs, float64(nbytes)/1e6/max(secs, 1e-9), tok.Identity())
		if so.Mode != bpe.SepNone {
			msg += fmt.Sprintf(", %d documents", nDocs)
		}
		if val != nil {
			msg += fmt.Sprintf("; held out %d documents, %d tokens -> %s", valDocs, nval, val.final)
		}
		fmt.Fprintln(c.App.ErrWriter, msg)
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
