package bpe

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// spShared returns <repo>/../shared, or skips the test when it is absent.
func spShared(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "conformance", "sentencepiece")); err != nil {
		t.Skipf("SentencePiece conformance data absent (want %s/conformance/sentencepiece, see shared/conformance/README.md): %v", d, err)
	}
	return d
}

// llama2Tokenizers loads the Llama 2 vocabulary from both the llama2.c
// tokenizer.bin and the sentencepiece tokenizer.model.
func llama2Tokenizers(t testing.TB) map[string]*SentencePiece {
	t.Helper()
	d := spShared(t)
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
	d := spShared(t)
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
