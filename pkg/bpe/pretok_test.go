package bpe

import (
	"math/rand"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	tiktokengo "github.com/pkoukk/tiktoken-go"
)

// The expressions of OpenAI's tiktoken, as published with the encodings.
const (
	patR50K   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	patCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patO200K  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|` +
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|` +
		`\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var pretokPatterns = map[string]string{
	"r50k_base": patR50K, "p50k_base": patR50K, "cl100k_base": patCL100K, "o200k_base": patO200K,
}

// pretokRegexCuts returns the piece ends, in characters, that the
// expression finds in text with each invalid byte read as U+FFFD.
func pretokRegexCuts(t testing.TB, re *regexp2.Regexp, text []byte) []int {
	s := string([]rune(string(text))) // invalid bytes -> U+FFFD, one each
	var cuts []int
	m, err := re.FindStringMatch(s)
	for m != nil && err == nil {
		cuts = append(cuts, m.Index+m.Length)
		m, err = re.FindNextMatch(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return cuts
}

// pretokCuts returns the piece ends, in characters, of our pre-tokenizer.
func pretokCuts(f func([]byte, int) int, text []byte) []int {
	var cuts []int
	chars, i := 0, 0
	for i < len(text) {
		e := f(text, i)
		if e <= i || e > len(text) {
			panic("pre-tokenizer made no progress")
		}
		for i < e {
			_, w := utf8.DecodeRune(text[i:])
			i += w
			chars++
		}
		if i != e {
			panic("piece ends inside a character")
		}
		cuts = append(cuts, chars)
	}
	return cuts
}

var (
	pretokRegexOnce sync.Once
	pretokRegex     map[string]*regexp2.Regexp
)

func pretokRegexFor(t testing.TB, name string) *regexp2.Regexp {
	pretokRegexOnce.Do(func() {
		pretokRegex = make(map[string]*regexp2.Regexp)
		for n, p := range pretokPatterns {
			pretokRegex[n] = regexp2.MustCompile(p, regexp2.None)
		}
	})
	return pretokRegex[name]
}

var pretokFuncs = map[string]func([]byte, int) int{
	"r50k_base": pretokR50K, "cl100k_base": pretokCL100K, "o200k_base": pretokO200K,
}

// pretokKnownDifference reports text on which regexp2 and Rust regex (used
// by tiktoken) disagree, so the comparison with regexp2 says nothing: Rust's
// case-insensitive 's also matches U+017F (long s), regexp2's does not.
func pretokKnownDifference(name string, text []byte) bool {
	return name != "r50k_base" && strings.Contains(string(text), "'\u017f")
}

func pretokCompare(t *testing.T, name string, text []byte) {
	t.Helper()
	if pretokKnownDifference(name, text) {
		return
	}
	want := pretokRegexCuts(t, pretokRegexFor(t, name), text)
	got := pretokCuts(pretokFuncs[name], text)
	if len(got) != len(want) || tiktokenFirstDiffInt(got, want) != len(got) {
		k := tiktokenFirstDiffInt(got, want)
		t.Fatalf("%s: %q: piece ends (in characters) differ at piece %d:\n got %v\nwant %v", name, text, k, got, want)
	}
}

func tiktokenFirstDiffInt(a, b []int) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func TestPretokenizeAgainstRegex(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	for name := range pretokFuncs {
		for k := 0; k < 1500; k++ {
			pretokCompare(t, name, tiktokenRandomText(rng, rng.Intn(80), k%3 == 0))
		}
		// every BMP character class next to letters, spaces and apostrophes
		for r := rune(0x80); r < 0x10000; r += 37 {
			s := string(r)
			pretokCompare(t, name, []byte("a"+s+"b "+s+"'s"+s+"A"+s+s+"\n"+s+" 1"+s+"  "+s))
		}
	}
}

// TestPretokenizeLongS pins the one place where we follow Rust regex
// rather than regexp2 (see pretokKnownDifference).
func TestPretokenizeLongS(t *testing.T) {
	if e := pretokCL100K([]byte("'\u017fx"), 0); e != 3 {
		t.Fatalf("cl100k: 'ſ ends at %d, want 3 (a contraction)", e)
	}
	if e := pretokR50K([]byte("'\u017fx"), 0); e != 1 {
		t.Fatalf("r50k: 'ſ ends at %d, want 1 (case-sensitive)", e)
	}
	// The only letters with case folds beyond ASCII among s t r e v m l d
	// are s (U+017F); K (U+212A) is not among them.
	for _, c := range "strevmld" {
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			if f != unicode.ToUpper(c) && f != 0x17f {
				t.Errorf("%c folds to %U, which the contraction matcher does not know", c, f)
			}
		}
	}
}

func pretokFuzzSeeds(f *testing.F) {
	for _, s := range []string{"", "Hello world", "I'm you're THEY'LL", "  \n\n  x", "\r\n\r\nA", "x'S'ſ",
		"ǅǅa", "Éa", "e\u0301\u0301", "\u0301A", "1234567", "a//\n/", " !!\n", "日本語", "\xff\xfe a", "\xe2\x82 x", "  "} {
		f.Add([]byte(s))
	}
}

func pretokFuzz(f *testing.F, name string) {
	pretokFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, text []byte) {
		if len(text) > 4096 {
			return
		}
		pretokCompare(t, name, text)
	})
}

func FuzzPretokenizeR50K(f *testing.F)   { pretokFuzz(f, "r50k_base") }
func FuzzPretokenizeCL100K(f *testing.F) { pretokFuzz(f, "cl100k_base") }
func FuzzPretokenizeO200K(f *testing.F)  { pretokFuzz(f, "o200k_base") }

// tiktokenGoCore builds tiktoken-go's encoder from our ranks (so nothing is
// loaded over the network) and the published expression.
func tiktokenGoCore(t testing.TB, tk *TiktokenBPE, pattern string) *tiktokengo.CoreBPE {
	t.Helper()
	ranks := make(map[string]int, len(tk.off)/2)
	for id := range len(tk.off) / 2 {
		if tok := tk.token(uint32(id)); tok != "" {
			ranks[tok] = id
		}
	}
	specials := make(map[string]int)
	for k, v := range tk.specials {
		specials[k] = int(v)
	}
	core, err := tiktokengo.NewCoreBPE(ranks, specials, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return core
}

func tiktokenGoEncode(core *tiktokengo.CoreBPE, text string) []uint32 {
	enc := tiktokengo.NewTiktoken(core, &tiktokengo.Encoding{}, map[string]any{})
	ids := enc.EncodeOrdinary(text)
	out := make([]uint32, len(ids))
	for i, id := range ids {
		out[i] = uint32(id)
	}
	return out
}

// TestTiktokenAgainstTiktokenGo compares ids with tiktoken-go on random and
// adversarial valid UTF-8 (tiktoken-go replaces invalid bytes by U+FFFD, so
// invalid input is compared at the piece level, in FuzzPretokenize*).
func TestTiktokenAgainstTiktokenGo(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	n := 400
	if testing.Short() {
		n = 50
	}
	for _, name := range tiktokenEncodings {
		tk := mustTiktoken(t, name)
		core := tiktokenGoCore(t, tk, pretokPatterns[name])
		for k := 0; k < n; k++ {
			text := tiktokenRandomText(rng, rng.Intn(300), false)
			if pretokKnownDifference(name, text) {
				continue
			}
			want := tiktokenGoEncode(core, string(text))
			got := tk.Encode(nil, text)
			if len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
				t.Fatalf("%s: %q: got %v, tiktoken-go %v", name, text, got, want)
			}
		}
	}
}
