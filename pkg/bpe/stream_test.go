package bpe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/anekit/anekit/internal/sharedtest"
)

// pairTok is a test Splitter whose split points depend on where the text
// starts: it encodes byte pairs, so only even offsets are split points, and
// it splits only after a newline, so a text without one has none.
type pairTok struct{}

func (pairTok) Encode(dst []uint32, text []byte) []uint32 {
	for i := 0; i < len(text); i += 2 {
		if i+1 < len(text) {
			dst = append(dst, uint32(text[i])<<8|uint32(text[i+1]))
		} else {
			dst = append(dst, 65536+uint32(text[i]))
		}
	}
	return dst
}
func (pairTok) Decode(dst []byte, ids []uint32) ([]byte, error) { return dst, errors.New("unused") }
func (pairTok) VocabSize() int                                  { return 65536 + 256 }
func (pairTok) Special(string) (uint32, bool)                   { return 0, false }
func (pairTok) Identity() string                                { return "test:pairs:0" }
func (pairTok) SplitPoint(text []byte) int {
	for i := len(text) &^ 1; i > 0; i -= 2 {
		if text[i-1] == '\n' {
			return i
		}
	}
	return 0
}
func (p pairTok) EncodeTail(dst []uint32, text []byte) []uint32 { return p.Encode(dst, text) }

// noSplit hides the Splitter of a tokenizer.
type noSplit struct{ Tokenizer }

type namedTok struct {
	name string
	tok  Tokenizer
}

// testTokenizers returns every tokenizer Open can build here, plus the test
// tokenizers above.
func testTokenizers(t *testing.T) []namedTok {
	out := []namedTok{{"pairs", pairTok{}}, {"bytes-nosplit", noSplit{NewBytes()}}}
	specs := []string{"bytes", "r50k_base", "p50k_base", "cl100k_base", "o200k_base"}
	if d := filepath.Join(sharedtest.Root(t), "..", "shared", "data"); dirExists(d) {
		specs = append(specs, "llama2:"+filepath.Join(d, "llama2-tokenizer.bin"),
			"llama2:"+filepath.Join(d, "llama2-tokenizer.model"))
	}
	for _, s := range specs {
		tok, err := Open(s)
		if err != nil {
			t.Logf("tokenizer %s not available: %v", s, err)
			continue
		}
		out = append(out, namedTok{s, tok})
	}
	return out
}

func dirExists(d string) bool {
	fi, err := os.Stat(d)
	return err == nil && fi.IsDir()
}

const edgeText = "First doc line one\r\nline two  \n\n \t\n\nSecond  doc: héllo wörld 🙂\n" +
	"\n\n\nthird\x00\xff\xfe bytes<|endoftext|>after\n   leading spaces\n\ttab\nlast line without newline"

func corpus(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join(sharedtest.Root(t), "examples", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// A third of the corpus keeps the test fast with every tokenizer; it
	// still holds about 130 chunks of 3000 bytes.
	b = b[:400000]
	if testing.Short() {
		b = b[:100000]
	}
	return b
}

// refDocs splits text into documents independently of EncodeStream.
func refDocs(text string, mode SepMode, sep string) []string {
	var docs []string
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	switch mode {
	case SepLine:
		for _, l := range lines {
			if l != "" {
				docs = append(docs, l)
			}
		}
	case SepBlank:
		var cur []string
		for _, l := range lines {
			if strings.Trim(l, " \t\r") == "" {
				if cur != nil {
					docs = append(docs, strings.Join(cur, "\n"))
				}
				cur = nil
				continue
			}
			cur = append(cur, l)
		}
		if cur != nil {
			docs = append(docs, strings.Join(cur, "\n"))
		}
	case SepString:
		for _, d := range strings.Split(text, sep) {
			if d != "" {
				docs = append(docs, d)
			}
		}
	}
	return docs
}

func collect(t *testing.T, tok Tokenizer, r io.Reader, o StreamOptions) ([]uint32, []int) {
	t.Helper()
	var ids []uint32
	var ends []int
	var nextDoc int64
	err := EncodeStream(context.Background(), tok, r, o, func(b *Batch) error {
		if b.Ends != nil {
			if b.FirstDoc != nextDoc {
				return fmt.Errorf("batch starts at document %d, want %d", b.FirstDoc, nextDoc)
			}
			for _, e := range b.Ends {
				ends = append(ends, len(ids)+e)
			}
			nextDoc += int64(len(b.Ends))
		}
		ids = append(ids, b.IDs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, ends
}

func TestEncodeStreamMatchesSequential(t *testing.T) {
	text := append(corpus(t), edgeText...)
	bos, eos := []uint32{1}, []uint32{2}
	for _, nt := range testTokenizers(t) {
		t.Run(strings.ReplaceAll(nt.name, "/", "_"), func(t *testing.T) {
			tok := nt.tok
			whole := tok.Encode(nil, text)
			for _, workers := range []int{1, 2, 5} {
				for _, chunk := range []int{777, 64 << 10} {
					o := StreamOptions{Workers: workers, ChunkSize: chunk}
					got, _ := collect(t, tok, bytes.NewReader(text), o)
					if !slices.Equal(got, whole) {
						t.Fatalf("workers %d chunk %d: %s", workers, chunk, firstDiff(got, whole))
					}
					o.BOS, o.EOS = bos, eos
					got, _ = collect(t, tok, iotest.HalfReader(bytes.NewReader(text)), o)
					want := slices.Concat(bos, whole, eos)
					if !slices.Equal(got, want) {
						t.Fatalf("BOS/EOS workers %d chunk %d: %s", workers, chunk, firstDiff(got, want))
					}
				}
			}
			for _, m := range []struct {
				mode SepMode
				sep  string
			}{{SepLine, ""}, {SepBlank, ""}, {SepString, "<|endoftext|>"}, {SepString, "\n\n"}} {
				docs := refDocs(string(text), m.mode, m.sep)
				var want []uint32
				var wantEnds []int
				for _, d := range docs {
					want = append(want, bos...)
					want = tok.Encode(want, []byte(d))
					want = append(want, eos...)
					wantEnds = append(wantEnds, len(want))
				}
				for _, workers := range []int{1, 3} {
					o := StreamOptions{Workers: workers, ChunkSize: 3000, Mode: m.mode, Sep: m.sep, BOS: bos, EOS: eos}
					got, ends := collect(t, tok, iotest.HalfReader(bytes.NewReader(text)), o)
					if !slices.Equal(got, want) {
						t.Fatalf("mode %d sep %q workers %d: %s", m.mode, m.sep, workers, firstDiff(got, want))
					}
					if !slices.Equal(ends, wantEnds) {
						t.Fatalf("mode %d sep %q: %d document ends, want %d", m.mode, m.sep, len(ends), len(wantEnds))
					}
				}
			}
		})
	}
}

func firstDiff(got, want []uint32) string {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at %d: got %d, want %d (lengths %d, %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	return fmt.Sprintf("lengths differ: got %d, want %d", len(got), len(want))
}

func TestEncodeStreamEmpty(t *testing.T) {
	for _, m := range []SepMode{SepNone, SepLine, SepBlank} {
		got, _ := collect(t, NewBytes(), strings.NewReader(""), StreamOptions{Mode: m, BOS: []uint32{256}})
		if len(got) != 0 {
			t.Errorf("mode %d: empty input gave %v", m, got)
		}
	}
	got, _ := collect(t, NewBytes(), strings.NewReader("\n\n  \n"), StreamOptions{Mode: SepBlank, BOS: []uint32{256}})
	if len(got) != 0 {
		t.Errorf("blank-only input gave %v", got)
	}
}

func TestEncodeStreamErrors(t *testing.T) {
	text := bytes.Repeat([]byte("some text\n"), 10000)
	boom := errors.New("boom")
	n := 0
	err := EncodeStream(context.Background(), NewBytes(), bytes.NewReader(text), StreamOptions{ChunkSize: 100, Workers: 2},
		func(*Batch) error {
			n++
			if n == 3 {
				return boom
			}
			return nil
		})
	if !errors.Is(err, boom) || n != 3 {
		t.Errorf("emit error: got %v after %d batches", err, n)
	}
	for _, m := range []SepMode{SepNone, SepLine} {
		r := io.MultiReader(bytes.NewReader(text), iotest.ErrReader(boom))
		err = EncodeStream(context.Background(), NewBytes(), r, StreamOptions{Mode: m, ChunkSize: 100}, func(*Batch) error { return nil })
		if !errors.Is(err, boom) {
			t.Errorf("mode %d: read error: got %v", m, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = EncodeStream(ctx, NewBytes(), bytes.NewReader(text), StreamOptions{ChunkSize: 100},
		func(*Batch) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	err = EncodeStream(context.Background(), NewBytes(), bytes.NewReader(text), StreamOptions{Mode: SepString}, func(*Batch) error { return nil })
	if err == nil {
		t.Error("empty separator accepted")
	}
}

func TestEncodeStreamOneByteReads(t *testing.T) {
	text := strings.Repeat(edgeText+"\n<|endoftext|>", 20)
	for _, m := range []struct {
		mode SepMode
		sep  string
	}{{SepLine, ""}, {SepBlank, ""}, {SepString, "<|endoftext|>"}, {SepString, "ab"}} {
		var want []uint32
		for _, d := range refDocs(text, m.mode, m.sep) {
			want = NewBytes().Encode(want, []byte(d))
		}
		got, _ := collect(t, NewBytes(), iotest.OneByteReader(strings.NewReader(text)), StreamOptions{Mode: m.mode, Sep: m.sep, ChunkSize: 50})
		if !slices.Equal(got, want) {
			t.Errorf("mode %d sep %q: %s", m.mode, m.sep, firstDiff(got, want))
		}
	}
}

// TestEncodeStreamDocumentsRandom cuts random texts made of the characters
// that matter to document boundaries ("\n", "\r", blanks, a separator) with
// every small block size, and compares the documents with refDocs.
func TestEncodeStreamDocumentsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"a", "b", " ", "\t", "\r", "\n", "\n", "\r\n", "<|e|>", "<|e", "|>"}
	for trial := 0; trial < 300; trial++ {
		var sb strings.Builder
		for n := rng.IntN(60); n > 0; n-- {
			sb.WriteString(atoms[rng.IntN(len(atoms))])
		}
		text := sb.String()
		for _, m := range []struct {
			mode SepMode
			sep  string
		}{{SepLine, ""}, {SepBlank, ""}, {SepString, "<|e|>"}, {SepString, "\n\n"}} {
			docs := refDocs(text, m.mode, m.sep)
			var want []uint32
			var wantEnds []int
			for _, d := range docs {
				want = append(want, BytesBOS)
				want = NewBytes().Encode(want, []byte(d))
				wantEnds = append(wantEnds, len(want))
			}
			for _, chunk := range []int{1, 2, 3, 5, 8, 13, 64} {
				for _, r := range []io.Reader{strings.NewReader(text), iotest.OneByteReader(strings.NewReader(text))} {
					o := StreamOptions{Workers: 1 + chunk%3, ChunkSize: chunk, Mode: m.mode, Sep: m.sep, BOS: []uint32{BytesBOS}}
					got, ends := collect(t, NewBytes(), r, o)
					if !slices.Equal(got, want) || !slices.Equal(ends, wantEnds) {
						t.Fatalf("text %q mode %d sep %q chunk %d:\ngot  %v %v\nwant %v %v", text, m.mode, m.sep, chunk, got, ends, want, wantEnds)
					}
				}
			}
		}
	}
}
