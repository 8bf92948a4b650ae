package bpe

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tiktokenassets "github.com/pkoukk/tiktoken-go-loader/assets"

	"github.com/anekit/anekit/internal/sharedtest"
)

var tiktokenEncodings = []string{"r50k_base", "p50k_base", "cl100k_base", "o200k_base"}

func tiktokenReadU32(t testing.TB, path string) []uint32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data)%4 != 0 {
		t.Fatalf("%s: size %d is not a multiple of 4", path, len(data))
	}
	ids := make([]uint32, len(data)/4)
	for i := range ids {
		ids[i] = binary.LittleEndian.Uint32(data[4*i:])
	}
	return ids
}

func tiktokenFirstDiff(a, b []uint32) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func mustTiktoken(t testing.TB, name string) *TiktokenBPE {
	t.Helper()
	tk, err := Tiktoken(name)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTiktokenConformanceShakespeare(t *testing.T) {
	shared := sharedtest.Dir(t, "conformance/tiktoken")
	text, err := os.ReadFile(filepath.Join(shared, "data", "tinyshakespeare.txt"))
	if err != nil {
		t.Skipf("tinyshakespeare.txt: %v", err)
	}
	for _, name := range tiktokenEncodings {
		t.Run(name, func(t *testing.T) {
			tk := mustTiktoken(t, name)
			want := tiktokenReadU32(t, filepath.Join(shared, "conformance", "tiktoken", "tinyshakespeare."+name+".u32"))
			got := tk.Encode(nil, text)
			if len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
				i := tiktokenFirstDiff(got, want)
				t.Fatalf("%d ids, want %d; first difference at id %d: got %v want %v", len(got), len(want), i,
					got[i:min(i+8, len(got))], want[i:min(i+8, len(want))])
			}
			back, err := tk.Decode(nil, got)
			if err != nil || !bytes.Equal(back, text) {
				t.Fatalf("decode does not give back the text (err %v)", err)
			}
		})
	}
}

func TestTiktokenConformanceEdgeCases(t *testing.T) {
	shared := sharedtest.Dir(t, "conformance/tiktoken")
	for _, name := range tiktokenEncodings {
		t.Run(name, func(t *testing.T) {
			tk := mustTiktoken(t, name)
			f, err := os.Open(filepath.Join(shared, "conformance", "tiktoken", "edge-cases."+name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			n := 0
			for sc.Scan() {
				var c struct {
					Text string   `json:"text"`
					IDs  []uint32 `json:"ids"`
				}
				if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
					t.Fatal(err)
				}
				got := tk.Encode(nil, []byte(c.Text))
				if len(got) != len(c.IDs) || tiktokenFirstDiff(got, c.IDs) != len(got) {
					t.Errorf("%q: got %v, want %v", c.Text, got, c.IDs)
				}
				n++
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("no cases")
			}
		})
	}
}

func TestTiktokenNamesAndSpecials(t *testing.T) {
	if _, err := Tiktoken("cl200k"); err == nil || !strings.Contains(err.Error(), "cl100k_base") {
		t.Fatalf("unknown name: err %v, want a list of valid names", err)
	}
	gpt2 := mustTiktoken(t, "gpt2")
	if gpt2 != mustTiktoken(t, "r50k_base") {
		t.Fatal("gpt2 is not r50k_base")
	}
	cases := []struct {
		name  string
		vocab int
		eot   uint32
	}{
		{"r50k_base", 50257, 50256},
		{"p50k_base", 50281, 50256},
		{"cl100k_base", 100277, 100257},
		{"o200k_base", 200019, 199999},
	}
	for _, c := range cases {
		tk := mustTiktoken(t, c.name)
		if tk.VocabSize() != c.vocab {
			t.Errorf("%s: VocabSize %d, want %d", c.name, tk.VocabSize(), c.vocab)
		}
		for _, role := range []string{"bos", "eos", "<|endoftext|>"} {
			if id, ok := tk.Special(role); !ok || id != c.eot {
				t.Errorf("%s: Special(%q) = %d %v, want %d", c.name, role, id, ok, c.eot)
			}
		}
		if _, ok := tk.Special("pad"); ok {
			t.Errorf("%s: has a pad token", c.name)
		}
		out, err := tk.Decode(nil, []uint32{c.eot})
		if err != nil || string(out) != "<|endoftext|>" {
			t.Errorf("%s: Decode(eot) = %q, %v", c.name, out, err)
		}
		if _, err := tk.Decode(nil, []uint32{uint32(c.vocab)}); err == nil {
			t.Errorf("%s: Decode(VocabSize) did not fail", c.name)
		}
		// encode_ordinary: special text is ordinary text.
		ids := tk.Encode(nil, []byte("<|endoftext|>"))
		if len(ids) < 2 {
			t.Errorf("%s: <|endoftext|> encoded as %v", c.name, ids)
		}
		// The identity hash is the sha256 of OpenAI's file.
		data, err := tiktokenassets.Assets.ReadFile(c.name + ".tiktoken")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if want := "tiktoken:" + c.name + ":" + hex.EncodeToString(sum[:])[:16]; tk.Identity() != want {
			t.Errorf("identity %s, want %s", tk.Identity(), want)
		}
		var buf bytes.Buffer
		if err := tk.WriteTiktoken(&buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("%s: WriteTiktoken does not reproduce the embedded file (err %v)", c.name, err)
		}
	}
	cl := mustTiktoken(t, "cl100k_base")
	for _, id := range []uint32{100256, 100261, 100275} {
		if _, err := cl.Decode(nil, []uint32{id}); err == nil {
			t.Errorf("cl100k_base: Decode(%d), a hole, did not fail", id)
		}
	}
	for lit, id := range map[string]uint32{"<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276} {
		if got, ok := cl.Special(lit); !ok || got != id {
			t.Errorf("cl100k_base: Special(%q) = %d, want %d", lit, got, id)
		}
	}
}

// tiktokenRandomText returns adversarial text: a mix of Unicode classes,
// digits, contractions in odd case, whitespace runs, \r\n and, if invalid,
// bytes that are not UTF-8.
func tiktokenRandomText(rng *rand.Rand, n int, invalid bool) []byte {
	atoms := []string{
		"a", "Z", "hello", "World", "HELLO", "ÄÖÜ", "straße", "ǅ", "ʰ", "中文", "日本語", "한국어",
		"\u0301", "e\u0301", "\u0903", "ـ", "Ⅻ", "٣", "½", "0", "12", "345", "6789", "2024",
		"'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'x", "'",
		"ſ", "'ſ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\u00a0", "\u3000", "\u2028", "\u0085", "\v", "\f",
		".", ",", "!?", "...", "/", "//", "()", "{}", "-", "_", "@", "#", "$", "€", "😀", "🤖🚀", "\u200b", "\ufeff", "\x00", "\x7f",
		"I'm", "you're", "THEY'LL", "don't", "O'Neil", "rock'n'roll", "<|endoftext|>", "\uFFFD",
	}
	if invalid {
		atoms = append(atoms, "\xff", "\xc3", "\xe2\x82", "\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf")
	}
	var b []byte
	for len(b) < n {
		if rng.Intn(8) == 0 {
			b = append(b, byte(rng.Intn(128)))
			continue
		}
		b = append(b, atoms[rng.Intn(len(atoms))]...)
	}
	return b
}

func TestTiktokenRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, name := range tiktokenEncodings {
		tk := mustTiktoken(t, name)
		for k := 0; k < 300; k++ {
			text := tiktokenRandomText(rng, rng.Intn(200), k%2 == 0)
			if k%50 == 0 { // long runs exercise the heap merge
				text = append(text, bytes.Repeat([]byte{"x!7 \n"[k/50%5]}, 500+rng.Intn(1000))...)
			}
			ids := tk.Encode(nil, text)
			back, err := tk.Decode(nil, ids)
			if err != nil || !bytes.Equal(back, text) {
				t.Fatalf("%s: decode(encode(%q)) = %q, %v", name, text, back, err)
			}
		}
		// every byte value alone
		for b := 0; b < 256; b++ {
			ids := tk.Encode(nil, []byte{byte(b)})
			if len(ids) != 1 {
				t.Fatalf("%s: byte %#x encodes as %v", name, b, ids)
			}
		}
	}
}

// TestTiktokenMergeLong checks the heap merge against the quadratic one.
func TestTiktokenMergeLong(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, name := range []string{"cl100k_base", "r50k_base"} {
		tk := mustTiktoken(t, name)
		for k := 0; k < 2000; k++ {
			n := 2 + rng.Intn(tkShortPiece-1)
			p := tiktokenRandomText(rng, n, true)[:n]
			if k%3 == 0 { // repetitive pieces: many equal-rank ties
				for i := range p {
					p[i] = "ab a"[rng.Intn(4)]
				}
			}
			short := tk.mergeShort(nil, p)
			long := tk.mergeLong(nil, p)
			if len(short) != len(long) || tiktokenFirstDiff(short, long) != len(short) {
				t.Fatalf("%s: %q: quadratic %v, heap %v", name, p, short, long)
			}
		}
	}
}

// TestTiktokenSplitChunks encodes tinyshakespeare in chunks cut at
// SplitPoint with random chunk sizes and compares with the conformance ids.
func TestTiktokenSplitChunks(t *testing.T) {
	shared := sharedtest.Dir(t, "conformance/tiktoken")
	text, err := os.ReadFile(filepath.Join(shared, "data", "tinyshakespeare.txt"))
	if err != nil {
		t.Skipf("tinyshakespeare.txt: %v", err)
	}
	rng := rand.New(rand.NewSource(3))
	for _, name := range tiktokenEncodings {
		tk := mustTiktoken(t, name)
		want := tiktokenReadU32(t, filepath.Join(shared, "conformance", "tiktoken", "tinyshakespeare."+name+".u32"))
		var got []uint32
		rest, chunks := text, 0
		for len(rest) > 0 {
			size := 1 + rng.Intn(20000)
			if size >= len(rest) {
				got = tk.EncodeTail(got, rest)
				break
			}
			i := tk.SplitPoint(rest[:size])
			if i == 0 {
				continue // no split point in this window; try another size
			}
			got = tk.EncodeTail(got, rest[:i])
			rest = rest[i:]
			chunks++
		}
		if chunks < 50 || len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
			t.Fatalf("%s: %d chunks, %d ids (want %d), first difference at %d", name, chunks, len(got), len(want), tiktokenFirstDiff(got, want))
		}
	}
}

// TestTiktokenSplitPointProperty checks the Splitter contract on random
// texts with random continuations, including texts built to stress the
// whitespace rules around the cut.
func TestTiktokenSplitPointProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	heads := []string{"x\n", "x \n", "x\n\n", "x  \n", "x\r\n", "x\n \n", "!\n", "12\n", "'s\n", " \n", "\n", "\u3000\n", "é\n", "//\n"}
	for _, name := range tiktokenEncodings {
		tk := mustTiktoken(t, name)
		found := 0
		for k := 0; k < 3000; k++ {
			head := append(tiktokenRandomText(rng, rng.Intn(30), true), heads[rng.Intn(len(heads))]...)
			head = append(head, "abcXYZ"[rng.Intn(6)])
			head = append(head, tiktokenRandomText(rng, rng.Intn(10), true)...)
			i := tk.SplitPoint(head)
			if i == 0 {
				continue
			}
			found++
			if i < 0 || i >= len(head) {
				t.Fatalf("SplitPoint %d out of range", i)
			}
			whole := append(head[:len(head):len(head)], tiktokenRandomText(rng, rng.Intn(30), true)...)
			want := tk.Encode(nil, whole)
			got := tk.EncodeTail(tk.Encode(nil, whole[:i]), whole[i:])
			if len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
				t.Fatalf("%s: split of %q at %d: %v, want %v", name, whole, i, got, want)
			}
		}
		if found < 1000 {
			t.Fatalf("%s: only %d split points", name, found)
		}
	}
}

func TestTiktokenConcurrent(t *testing.T) {
	tk := mustTiktoken(t, "cl100k_base")
	rng := rand.New(rand.NewSource(5))
	texts := make([][]byte, 64)
	want := make([][]uint32, len(texts))
	for i := range texts {
		texts[i] = tiktokenRandomText(rng, 2000, true)
		want[i] = tk.Encode(nil, texts[i])
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range texts {
				got := tk.Encode(nil, texts[i])
				if tiktokenFirstDiff(got, want[i]) != len(want[i]) || len(got) != len(want[i]) {
					t.Errorf("concurrent encode differs on text %d", i)
				}
			}
		}()
	}
	wg.Wait()
}
