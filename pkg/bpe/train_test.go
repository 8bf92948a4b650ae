package bpe

import (
	"bytes"
	"encoding/base64"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tiktokengo "github.com/pkoukk/tiktoken-go"
)

// trainExampleCorpus returns the repository's examples/tinyshakespeare.txt.
func trainExampleCorpus(t testing.TB) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
	text, err := os.ReadFile(filepath.Join(dir, "examples", "tinyshakespeare.txt"))
	if err != nil {
		t.Skipf("example corpus: %v", err)
	}
	return text
}

// trainNaive is the reference: it recounts every pair from scratch before
// each merge, with the same tie-break and duplicate rule as Train.
func trainNaive(corpus []byte, nranks int, minFreq int64) [][]byte {
	counts := map[string]int64{}
	for i := 0; i < len(corpus); {
		e := pretokCL100K(corpus, i)
		counts[string(corpus[i:e])]++
		i = e
	}
	type word struct {
		syms  []uint32
		count int64
	}
	var words []word
	for p, c := range counts {
		s := make([]uint32, len(p))
		for j := range s {
			s[j] = uint32(p[j])
		}
		words = append(words, word{s, c})
	}
	var tokens [][]byte
	for b := 0; b < 256; b++ {
		tokens = append(tokens, []byte{byte(b)})
	}
	for len(tokens) < nranks {
		pc := map[uint64]int64{}
		for _, w := range words {
			for j := 0; j+1 < len(w.syms); j++ {
				pc[trainPairKey(w.syms[j], w.syms[j+1])] += w.count
			}
		}
		var best uint64
		var bestC int64
		for k, c := range pc {
			if c > bestC || (c == bestC && k < best) {
				best, bestC = k, c
			}
		}
		if bestC < minFreq {
			break
		}
		a, b := uint32(best>>32), uint32(best)
		merged := append(append([]byte{}, tokens[a]...), tokens[b]...)
		z := -1
		for id, tok := range tokens {
			if bytes.Equal(tok, merged) {
				z = id
			}
		}
		if z < 0 {
			z = len(tokens)
			tokens = append(tokens, merged)
		}
		for i := range words {
			words[i].syms = trainMergeWord(words[i].syms, a, b, uint32(z))
		}
	}
	return tokens
}

func trainSyntheticCorpus(seed int64, n int) []byte {
	rng := rand.New(rand.NewSource(seed))
	words := strings.Fields("the a of and to in it is was that he she they I you we said little big cat dog ran saw happy sad Tom Lily aaaa abab")
	var b bytes.Buffer
	for b.Len() < n {
		switch rng.Intn(12) {
		case 0:
			b.WriteString(".\n")
		case 1:
			b.WriteString(", ")
		case 2:
			b.Write(tiktokenRandomText(rng, 5, true))
		default:
			b.WriteString(" " + words[rng.Intn(len(words))])
		}
	}
	return b.Bytes()
}

func TestTrainMatchesNaive(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		corpus := trainSyntheticCorpus(seed, 30000)
		want := trainNaive(corpus, 600, 2)
		tk, err := Train(bytes.NewReader(corpus), TrainOptions{VocabSize: 602})
		if err != nil {
			t.Fatal(err)
		}
		n := len(tk.off) / 2
		if n != len(want) {
			t.Fatalf("seed %d: %d ranks, reference %d", seed, n, len(want))
		}
		for id := range want {
			if got := tk.token(uint32(id)); got != string(want[id]) {
				t.Fatalf("seed %d: rank %d is %q, reference %q", seed, id, got, want[id])
			}
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	corpus := trainExampleCorpus(t)[:300000]
	opts := TrainOptions{VocabSize: 1000}
	a, err := Train(bytes.NewReader(corpus), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Again, through one-byte reads and small blocks cut at split points.
	defer func(b int) { trainBlock = b }(trainBlock)
	trainBlock = 777
	b, err := Train(iotest.OneByteReader(bytes.NewReader(corpus)), opts)
	if err != nil {
		t.Fatal(err)
	}
	var fa, fb bytes.Buffer
	if err := a.WriteTiktoken(&fa); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTiktoken(&fb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fa.Bytes(), fb.Bytes()) || a.Identity() != b.Identity() {
		t.Fatal("two trainings on the same corpus differ")
	}
	if a.VocabSize() != 1000 || len(a.off)/2 != 998 {
		t.Fatalf("VocabSize %d with %d ranks, want 1000 with 998", a.VocabSize(), len(a.off)/2)
	}
	if id, ok := a.Special("bos"); !ok || id != 998 {
		t.Fatalf("bos = %d %v, want 998", id, ok)
	}
	if id, ok := a.Special("<|eos|>"); !ok || id != 999 {
		t.Fatalf("eos = %d %v, want 999", id, ok)
	}
	if !strings.HasPrefix(a.Identity(), "tiktoken:custom:") {
		t.Fatalf("identity %q", a.Identity())
	}
	for i := 0; i < 256; i++ {
		if a.token(uint32(i)) != string([]byte{byte(i)}) {
			t.Fatalf("rank %d is not byte %d", i, i)
		}
	}
}

// TestTrainWrittenFileWorksElsewhere writes a trained vocabulary, loads it
// back and into tiktoken-go, and checks that all three encode alike.
func TestTrainWrittenFileWorksElsewhere(t *testing.T) {
	corpus := trainExampleCorpus(t)
	tk, err := Train(bytes.NewReader(corpus[:400000]), TrainOptions{VocabSize: 2048, Specials: []string{"<|bos|>", "<|eos|>", "<|pad|>"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vocab.tiktoken")
	var buf bytes.Buffer
	if err := tk.WriteTiktoken(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadTiktokenFile(path, []string{"<|bos|>", "<|eos|>", "<|pad|>"})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Identity() != tk.Identity() || loaded.VocabSize() != 2048 {
		t.Fatalf("loaded %s (%d), trained %s (%d)", loaded.Identity(), loaded.VocabSize(), tk.Identity(), tk.VocabSize())
	}
	if id, ok := loaded.Special("pad"); !ok || id != 2047 {
		t.Fatalf("pad = %d %v", id, ok)
	}
	// tiktoken-go, from the file's text parsed here independently.
	ranks := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		f := strings.Fields(line)
		tok, err := base64.StdEncoding.DecodeString(f[0])
		if err != nil {
			t.Fatal(err)
		}
		r, _ := strconv.Atoi(f[1])
		ranks[string(tok)] = r
	}
	core, err := tiktokengo.NewCoreBPE(ranks, map[string]int{"<|bos|>": 2045}, patCL100K)
	if err != nil {
		t.Fatal(err)
	}
	text := corpus[400000:500000]
	want := tiktokenGoEncode(core, string(text))
	for _, x := range []*TiktokenBPE{tk, loaded} {
		got := x.Encode(nil, text)
		if len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
			t.Fatalf("ids differ from tiktoken-go at %d", tiktokenFirstDiff(got, want))
		}
	}
	if 5*len(want) > 2*len(text) { // fewer than 2.5 bytes per token
		t.Fatalf("%d tokens for %d bytes: the vocabulary does not compress", len(want), len(text))
	}
	// round trip, including invalid UTF-8
	rng := rand.New(rand.NewSource(7))
	for k := 0; k < 200; k++ {
		s := tiktokenRandomText(rng, rng.Intn(300), true)
		back, err := tk.Decode(nil, tk.Encode(nil, s))
		if err != nil || !bytes.Equal(back, s) {
			t.Fatalf("round trip of %q: %q %v", s, back, err)
		}
	}
}

func TestTrainErrors(t *testing.T) {
	corpus := []byte("hello hello hello world")
	cases := []struct {
		opts TrainOptions
		in   []byte
		want string
	}{
		{TrainOptions{VocabSize: 257}, corpus, "at least 256"},
		{TrainOptions{VocabSize: 300, Specials: []string{"<|a|>", "<|a|>"}}, corpus, "twice"},
		{TrainOptions{VocabSize: 300, Specials: []string{""}}, corpus, "empty"},
		{TrainOptions{VocabSize: 300}, nil, "empty corpus"},
	}
	for _, c := range cases {
		_, err := Train(bytes.NewReader(c.in), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.opts, err, c.want)
		}
	}
	// A tiny corpus stops early, with what it could learn.
	tk, err := Train(bytes.NewReader(corpus), TrainOptions{VocabSize: 1000, Specials: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if n := tk.VocabSize(); n <= 256 || n >= 270 {
		t.Fatalf("vocabulary of %d from a tiny corpus", n)
	}
	if ids := tk.Encode(nil, []byte(" hello")); len(ids) != 1 {
		t.Fatalf(`" hello" (seen 2 times) encodes as %v`, ids)
	}
	calls := 0
	_, err = Train(bytes.NewReader(trainSyntheticCorpus(9, 5000)), TrainOptions{VocabSize: 300, Progress: func(m, total int) {
		calls++
		if total != 300-2-256 || m > total {
			t.Fatalf("progress %d/%d", m, total)
		}
	}})
	if err != nil || calls == 0 {
		t.Fatalf("progress called %d times, err %v", calls, err)
	}
}

// TestTrainShakespeareTime trains the whole example corpus to 4096 and
// reports the time (go test -v -run TrainShakespeareTime).
func TestTrainShakespeareTime(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	corpus := trainExampleCorpus(t)
	start := time.Now()
	tk, err := Train(bytes.NewReader(corpus), TrainOptions{VocabSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	ids := tk.Encode(nil, corpus)
	t.Logf("trained %d bytes to %d in %v; %d tokens (%.2f bytes/token)", len(corpus), tk.VocabSize(), d, len(ids), float64(len(corpus))/float64(len(ids)))
	if tk.VocabSize() != 4096 {
		t.Fatalf("VocabSize %d", tk.VocabSize())
	}
}

func BenchmarkTrainShakespeare4096(b *testing.B) {
	corpus := trainExampleCorpus(b)
	b.SetBytes(int64(len(corpus)))
	for i := 0; i < b.N; i++ {
		if _, err := Train(bytes.NewReader(corpus), TrainOptions{VocabSize: 4096}); err != nil {
			b.Fatal(err)
		}
	}
}
