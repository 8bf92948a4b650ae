package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func sampleLlama2Tokenizer() *Llama2Tokenizer {
	t := &Llama2Tokenizer{MaxTokenLength: 7}
	for i, s := range []string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x0A>", " ", "a", " a", "ab", "é", ""} {
		t.Tokens = append(t.Tokens, []byte(s))
		t.Scores = append(t.Scores, float32(-i))
	}
	return t
}

func TestLlama2TokenizerRoundTrip(t *testing.T) {
	want := sampleLlama2Tokenizer()
	data, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(data); got != 7 {
		t.Fatalf("max_token_length on disk = %d", got)
	}
	// Token 0: score 0, len 5, "<unk>" right after the header.
	if !bytes.Equal(data[4:17], append([]byte{0, 0, 0, 0, 5, 0, 0, 0}, "<unk>"...)) {
		t.Fatalf("first record = % x", data[4:17])
	}
	got, err := ParseLlama2Tokenizer(data, "x.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
	got2, err := ReadLlama2Tokenizer(bytes.NewReader(data), "x.bin")
	if err != nil || !reflect.DeepEqual(got2, want) {
		t.Fatalf("ReadLlama2Tokenizer: %v", err)
	}
}

func TestLlama2TokenizerErrors(t *testing.T) {
	good, err := sampleLlama2Tokenizer().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	patch := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "field max_token_length"},
		{"header only", good[:4], "no tokens"},
		{"zero max", patch(0, 0), "field max_token_length = 0"},
		{"negative max", patch(0, 0xffffffff), "field max_token_length = -1"},
		{"huge max", patch(0, 1<<30), "field max_token_length"},
		{"nan score", patch(4, math.Float32bits(float32(math.NaN()))), "token 0 at offset 4: field score"},
		{"inf score", patch(4, math.Float32bits(float32(math.Inf(1)))), "field score"},
		{"negative len", patch(8, 0xfffffffe), "token 0 at offset 8: field len = -2"},
		{"len over max", patch(8, 8), "field len = 8, want 0..max_token_length (7)"},
		{"truncated bytes", good[:15], "token 0 at offset 12: field bytes"},
		{"truncated record", good[:19], "token 1 at offset 17: fields score and len"},
	} {
		_, err := ParseLlama2Tokenizer(c.data, "tok.bin")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "tok.bin: ") {
			t.Errorf("%s: error %v, want one naming tok.bin and containing %q", c.name, err, c.want)
		}
	}
}

// TestLlama2TokenizerShared reads the Llama 2 tokenizer.bin, if present.
func TestLlama2TokenizerShared(t *testing.T) {
	path := filepath.Join(sharedtest.Dir(t), "data", "llama2-tokenizer.bin")
	tok, err := ReadLlama2TokenizerFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Tokens) != 32000 || tok.MaxTokenLength != 27 {
		t.Fatalf("%d tokens, max_token_length %d; want 32000, 27", len(tok.Tokens), tok.MaxTokenLength)
	}
	if string(tok.Tokens[1]) != "\n<s>\n" || string(tok.Tokens[260]) != " t" || tok.Scores[260] != -1 {
		t.Errorf("tokens 1, 260 = %q, %q (score %v)", tok.Tokens[1], tok.Tokens[260], tok.Scores[260])
	}
	data, err := tok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(path)
	if !bytes.Equal(data, orig) {
		t.Errorf("MarshalBinary does not reproduce the file")
	}
}

func FuzzLlama2TokenizerBin(f *testing.F) {
	good, err := sampleLlama2Tokenizer().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:19])
	f.Add([]byte{10, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseLlama2Tokenizer(data, "fuzz.bin")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.bin: llama2 tokenizer.bin: ") {
				t.Fatalf("error does not name the file and format: %v", err)
			}
			return
		}
		out, err := tok.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a parsed file: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("MarshalBinary does not reproduce the input")
		}
	})
}
