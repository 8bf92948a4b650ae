package bpe

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

// llama2Tokenizers loads the Llama 2 vocabulary from both the llama2.c
// tokenizer.bin and the sentencepiece tokenizer.model.
func llama2Tokenizers(t testing.TB) map[string]*SentencePiece {
	t.Helper()
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	out := map[string]*SentencePiece{}
	for _, f := range []string{"llama2-tokenizer.bin", "llama2-tokenizer.model"} {
		tok, err := LoadSentencePiece(filepath.Join(d, "data", f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = tok
	}
	return out
}

type spCase struct {
	Text string   `json:"text"`
	IDs  []uint32 `json:"ids"`
}

func readSPCases(t testing.TB, path string) []spCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []spCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c spCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if c.IDs == nil {
			c.IDs = []uint32{}
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func readU16(t testing.TB, path string) []uint32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%2 != 0 {
		t.Fatalf("%s: odd length", path)
	}
	ids := make([]uint32, len(b)/2)
	for i := range ids {
		ids[i] = uint32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return ids
}

func TestSentencePieceConformance(t *testing.T) {
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	edge := readSPCases(t, filepath.Join(d, "conformance", "sentencepiece", "edge-cases.jsonl"))
	lines := readSPCases(t, filepath.Join(d, "conformance", "sentencepiece", "tinyshakespeare.lines.jsonl"))
	whole, err := os.ReadFile(filepath.Join(d, "data", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := readU16(t, filepath.Join(d, "conformance", "sentencepiece", "tinyshakespeare.llama2.u16"))
	for name, tok := range llama2Tokenizers(t) {
		t.Run(name, func(t *testing.T) {
			for set, cases := range map[string][]spCase{"edge-cases": edge, "lines": lines} {
				bad := 0
				for i, c := range cases {
					got := tok.Encode(nil, []byte(c.Text))
					if got == nil {
						got = []uint32{}
					}
					if !slices.Equal(got, c.IDs) {
						if bad < 5 {
							t.Errorf("%s %d: Encode(%q)\n got %v\nwant %v", set, i, c.Text, got, c.IDs)
						}
						bad++
					}
				}
				t.Logf("%s: %d/%d match", set, len(cases)-bad, len(cases))
			}
			got := tok.Encode(nil, whole)
			if !slices.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("whole tinyshakespeare: %d ids, want %d; first difference at %d", len(got), len(want), i)
			} else {
				t.Logf("whole tinyshakespeare: all %d ids match", len(want))
			}
		})
	}
}

func TestSentencePieceLlama2Identity(t *testing.T) {
	toks := llama2Tokenizers(t)
	bin, model := toks["llama2-tokenizer.bin"], toks["llama2-tokenizer.model"]
	if want := "sentencepiece:llama2:384cbd0ad560909d"; bin.Identity() != want {
		t.Errorf("Identity = %s, want %s", bin.Identity(), want)
	}
	if bin.Identity() != model.Identity() {
		t.Errorf("identities differ: .bin %s, .model %s", bin.Identity(), model.Identity())
	}
	for _, tok := range toks {
		if tok.VocabSize() != 32000 {
			t.Errorf("VocabSize = %d, want 32000", tok.VocabSize())
		}
		for name, want := range map[string]uint32{"unk": 0, "bos": 1, "eos": 2, "<s>": 1, "</s>": 2, "<unk>": 0} {
			if id, ok := tok.Special(name); !ok || id != want {
				t.Errorf("Special(%q) = %d, %v; want %d", name, id, ok, want)
			}
		}
		if _, ok := tok.Special("pad"); ok {
			t.Errorf("Special(pad) exists; Llama 2 has no pad piece")
		}
		for i := range tok.n {
			if tok.scores[i] != model.scores[i] || tok.types[i] != model.types[i] {
				t.Fatalf("piece %d differs between .bin and .model", i)
			}
		}
	}
}

// TestSentencePieceSplitChunks cuts tinyshakespeare at SplitPoint into
// chunks of random sizes, encodes them independently (the first with
// Encode, the rest with EncodeTail) and checks that the concatenation is
// sentencepiece's encoding of the whole text.
func TestSentencePieceSplitChunks(t *testing.T) {
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	whole, err := os.ReadFile(filepath.Join(d, "data", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := readU16(t, filepath.Join(d, "conformance", "sentencepiece", "tinyshakespeare.llama2.u16"))
	tok := llama2Tokenizers(t)["llama2-tokenizer.bin"]
	var _ Splitter = tok
	rng := rand.New(rand.NewPCG(1, 2))
	for round, maxChunk := range []int{16, 300, 5000, 200000} {
		var got []uint32
		chunks := 0
		for pos := 0; pos < len(whole); {
			n := 1 + rng.IntN(maxChunk)
			end := min(pos+n, len(whole))
			if end < len(whole) {
				for {
					sp := tok.SplitPoint(whole[pos:end])
					if sp > 0 {
						if sp >= end-pos {
							t.Fatalf("SplitPoint returned %d for a %d-byte text", sp, end-pos)
						}
						end = pos + sp
						break
					}
					if end == len(whole) {
						break
					}
					end = min(end+n, len(whole))
				}
			}
			if pos == 0 {
				got = tok.Encode(got, whole[pos:end])
			} else {
				got = tok.EncodeTail(got, whole[pos:end])
			}
			chunks++
			pos = end
		}
		if !slices.Equal(got, want) {
			t.Errorf("round %d (chunks up to %d bytes, %d chunks): concatenation differs from the whole encoding (%d ids, want %d)", round, maxChunk, chunks, len(got), len(want))
		} else {
			t.Logf("chunks up to %d bytes: %d chunks, all %d ids match", maxChunk, chunks, len(want))
		}
	}
}

// TestSentencePieceSplitPointProperty checks the SplitPoint contract on
// short texts with arbitrary continuations, including non-ASCII, invalid
// UTF-8 and literal "▁".
func TestSentencePieceSplitPointProperty(t *testing.T) {
	tok := llama2Tokenizers(t)["llama2-tokenizer.model"]
	alphabet := []string{"a", "b", "e", " ", "  ", "\n", "\t", ".", "é", "日", "▁", "\xff", "\xe2\x96", "x y", "1", "'", "<s>", "🤖"}
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func() []byte {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, alphabet[rng.IntN(len(alphabet))]...)
		}
		return b
	}
	splits := 0
	for range 20000 {
		head, tail := gen(), gen()
		sp := tok.SplitPoint(head)
		if sp == 0 {
			continue
		}
		if sp < 0 || sp >= len(head) {
			t.Fatalf("SplitPoint(%q) = %d", head, sp)
		}
		splits++
		whole := append(append([]byte(nil), head...), tail...)
		want := tok.Encode(nil, whole)
		got := tok.EncodeTail(tok.Encode(nil, whole[:sp]), whole[sp:])
		if !slices.Equal(got, want) {
			t.Fatalf("split of %q at %d: got %v, want %v", whole, sp, got, want)
		}
	}
	if splits < 1000 {
		t.Errorf("only %d texts had a split point", splits)
	}
}

func TestSentencePieceDecode(t *testing.T) {
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	edge := readSPCases(t, filepath.Join(d, "conformance", "sentencepiece", "edge-cases.jsonl"))
	lines := readSPCases(t, filepath.Join(d, "conformance", "sentencepiece", "tinyshakespeare.lines.jsonl"))
	for name, tok := range llama2Tokenizers(t) {
		// sentencepiece's DecodeIds gives back every conformance text.
		for _, c := range append(edge, lines...) {
			got, err := tok.Decode(nil, c.IDs)
			if err != nil || string(got) != c.Text {
				t.Fatalf("%s: Decode(%v) = %q, %v; want %q", name, c.IDs, got, err, c.Text)
			}
		}
		// Outputs of sentencepiece 0.1.97's DecodeIds on the Llama 2 model.
		for _, c := range []struct {
			ids  []uint32
			want string
		}{
			{[]uint32{0}, " \u2047 "},
			{[]uint32{1, 2}, ""},
			{[]uint32{1, 29871, 15043}, " Hello"},
			{[]uint32{13, 15043}, "\n Hello"},
			{[]uint32{0, 15043}, " \u2047  Hello"},
			{[]uint32{1, 259, 2}, " "},
			{[]uint32{29871, 13, 10994}, "\nHello"},
			{[]uint32{259, 13, 921, 29871}, " \n x "},
			{[]uint32{15043, 1, 15043}, "Hello Hello"},
		} {
			got, err := tok.Decode([]byte("prefix:"), c.ids)
			if err != nil || string(got) != "prefix:"+c.want {
				t.Errorf("%s: Decode(%v) = %q, %v; want %q", name, c.ids, got, err, "prefix:"+c.want)
			}
		}
		if _, err := tok.Decode(nil, []uint32{15043, 32000}); err == nil {
			t.Errorf("%s: Decode of id 32000 did not fail", name)
		}
	}
}

// TestSentencePieceRoundTrip checks Decode(Encode(x)) == x, on valid UTF-8
// (where sentencepiece gives the same guarantee; the one exception is a
// literal "▁", which decodes as a space) and on invalid UTF-8, which
// sentencepiece would turn into U+FFFD but which is byte-fallback encoded
// here. It also checks that the segmented, cached encoder agrees with the
// plain algorithm.
func TestSentencePieceRoundTrip(t *testing.T) {
	tok := llama2Tokenizers(t)["llama2-tokenizer.model"]
	texts := []string{
		"", " ", "   ", "\n", " \n ", "a", " a", "a ", "Hello  world  ", "\t\ttabs",
		"héllo wörld", "日本語のテキスト", "emoji 🤖🚀", "\x00\x01", "mixed\r\nCRLF",
		"a\xffb", "\xe2\x96", "\xe2\x96 \x81", "\xc3", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 beyond",
		"\xc0\xaf overlong", "x\xf0\x9f\x98", "<s></s><unk><0x41>",
	}
	rng := rand.New(rand.NewPCG(5, 6))
	pool := []string{"a", "Z", " ", "\n", "é", "ß", "日", "🤖", "\xff", "\x80", "\xe2", ".", "0", "the", "▁x"}
	for range 3000 {
		var b []byte
		for range rng.IntN(20) {
			b = append(b, pool[rng.IntN(len(pool))]...)
		}
		texts = append(texts, string(b))
	}
	for _, x := range texts {
		ids := tok.Encode(nil, []byte(x))
		if ref := tok.encodeWhole(nil, []byte(x), true); !slices.Equal(ids, ref) {
			t.Fatalf("Encode(%q) = %v, plain algorithm %v", x, ids, ref)
		}
		got, err := tok.Decode(nil, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(x, "\u2581", " ")
		if string(got) != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q (ids %v)", x, got, want, ids)
		}
	}
	// Invalid bytes become byte pieces: <0xFF> is id 3+0xFF.
	if got := tok.Encode(nil, []byte("a\xffb")); !slices.Equal(got, []uint32{263, 258, 29890}) {
		t.Errorf("Encode(a\\xffb) = %v, want [263 258 29890]", got)
	}
}

// TestSentencePieceConcurrent encodes from several goroutines at once
// through one tokenizer (and its shared cache); run with -race.
func TestSentencePieceConcurrent(t *testing.T) {
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	lines := readSPCases(t, filepath.Join(d, "conformance", "sentencepiece", "tinyshakespeare.lines.jsonl"))
	lines = lines[:4000]
	tok := llama2Tokenizers(t)["llama2-tokenizer.model"]
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ids []uint32
			for i := range lines {
				c := lines[(i*7+g*1000)%len(lines)]
				ids = tok.Encode(ids[:0], []byte(c.Text))
				if !slices.Equal(ids, c.IDs) && !(len(ids) == 0 && len(c.IDs) == 0) {
					errs <- fmt.Sprintf("goroutine %d: Encode(%q) = %v, want %v", g, c.Text, ids, c.IDs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
