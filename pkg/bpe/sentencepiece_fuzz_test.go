package bpe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anekit/anekit/pkg/format"
)

// FuzzSentencePieceRoundTrip encodes arbitrary bytes with the synthetic
// byte-fallback model and, when /work/shared is present, with Llama 2:
// Encode must not panic, must agree with the plain (uncut, uncached)
// algorithm and with any split point, and Decode(Encode(x)) must give x
// back (with "▁" read as a space; for invalid UTF-8 too, thanks to byte
// fallback).
func FuzzSentencePieceRoundTrip(f *testing.F) {
	b, err := synthModel(true).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	synth, err := ParseSentencePiece(b, "synth")
	if err != nil {
		f.Fatal(err)
	}
	toks := []*SentencePiece{synth}
	if llama, err := loadLlama2IfPresent(); err == nil {
		toks = append(toks, llama)
	}
	for _, s := range []string{"", " ", "Hello  world", "abcd a b", "a\xffb", "日本 語\n", "x y<u>", "▁a", "\xe2\x96", "emoji 🤖🚀 end"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, tok := range toks {
			ids := tok.Encode(nil, text)
			if ref := tok.encodeWhole(nil, text, true); !slices.Equal(ids, ref) {
				t.Fatalf("%s: Encode(%q) = %v, plain algorithm %v", tok.Identity(), text, ids, ref)
			}
			if sp := tok.SplitPoint(text); sp > 0 {
				if got := tok.EncodeTail(tok.Encode(nil, text[:sp]), text[sp:]); !slices.Equal(got, ids) {
					t.Fatalf("%s: %q split at %d: %v, want %v", tok.Identity(), text, sp, got, ids)
				}
			}
			got, err := tok.Decode(nil, ids)
			if err != nil {
				t.Fatal(err)
			}
			// "▁" decodes as a space, in valid and invalid UTF-8 alike.
			if want := strings.ReplaceAll(string(text), "\u2581", " "); string(got) != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", tok.Identity(), text, got)
			}
		}
	})
}

func loadLlama2IfPresent() (*SentencePiece, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, os.ErrNotExist
		}
		dir = parent
	}
	return LoadSentencePiece(filepath.Join(dir, "..", "shared", "data", "llama2-tokenizer.model"))
}

// FuzzSentencePieceParse feeds arbitrary bytes to ParseSentencePiece (which
// sniffs tokenizer.bin or tokenizer.model): it must return a tokenizer or
// an error naming the file, never panic, and a tokenizer it returns must
// encode and decode without panicking.
func FuzzSentencePieceParse(f *testing.F) {
	for _, bf := range []bool{true, false} {
		b, err := synthModel(bf).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bin := &format.Llama2Tokenizer{MaxTokenLength: 6}
	for i, s := range []string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x41>", " ", "a", " a", "ab", "b"} {
		bin.Tokens = append(bin.Tokens, []byte(s))
		bin.Scores = append(bin.Scores, float32(-i))
	}
	b, err := bin.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseSentencePiece(data, "fuzz-file")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz-file") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range []string{"", "a b ab  A\xff", "<s> é"} {
			ids := tok.Encode(nil, []byte(s))
			if _, err := tok.Decode(nil, ids); err != nil {
				t.Fatal(err)
			}
			tok.SplitPoint([]byte(s))
		}
	})
}
