package bpe

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func benchSetup(b *testing.B) (*SentencePiece, []byte) {
	d := sharedtest.Dir(b, "conformance/sentencepiece")
	tok, err := LoadSentencePiece(filepath.Join(d, "data", "llama2-tokenizer.model"))
	if err != nil {
		b.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(d, "data", "tinyshakespeare.txt"))
	if err != nil {
		b.Fatal(err)
	}
	return tok, text
}

// BenchmarkSentencePieceWhole encodes the whole of tinyshakespeare as one
// text, on one goroutine, with the segment cache warm after the first run.
func BenchmarkSentencePieceWhole(b *testing.B) {
	tok, text := benchSetup(b)
	var ids []uint32
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ids = tok.Encode(ids[:0], text)
	}
}

// BenchmarkSentencePieceWholeCold is BenchmarkSentencePieceWhole with a
// fresh tokenizer (empty cache) for every run.
func BenchmarkSentencePieceWholeCold(b *testing.B) {
	_, text := benchSetup(b)
	data, err := os.ReadFile(filepath.Join(sharedtest.Dir(b, "conformance/sentencepiece"), "data", "llama2-tokenizer.model"))
	if err != nil {
		b.Fatal(err)
	}
	var ids []uint32
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		b.StopTimer()
		tok, err := ParseSentencePiece(data, "llama2-tokenizer.model")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ids = tok.Encode(ids[:0], text)
	}
}

// BenchmarkSentencePieceLines encodes tinyshakespeare line by line (each
// line with its own dummy prefix), as the Python comparison does.
func BenchmarkSentencePieceLines(b *testing.B) {
	tok, text := benchSetup(b)
	lines := bytes.Split(text, []byte("\n"))
	var ids []uint32
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		for _, l := range lines {
			ids = tok.Encode(ids[:0], l)
		}
	}
}

// BenchmarkSentencePieceNoCache encodes the whole text segment by segment
// without the segment cache: the cost of the merges themselves.
func BenchmarkSentencePieceNoCache(b *testing.B) {
	tok, text := benchSetup(b)
	tok.cache = nil
	var ids []uint32
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ids = tok.Encode(ids[:0], text)
	}
}
