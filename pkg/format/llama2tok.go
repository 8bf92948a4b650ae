package format

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// Llama2Tokenizer is the content of a llama2.c tokenizer.bin: a list of
// tokens (byte strings) with a float32 merge score each. The file does not
// store the number of tokens; it is everything up to the end of the file.
//
// Layout (all integers and floats little-endian, no padding), specified in
// docs/formats/llama2-tokenizer.md:
//
//	int32   max_token_length
//	repeat until EOF:
//	  float32 score
//	  int32   len
//	  [len]byte token
//
// llama2.c's exporter writes the SentencePiece pieces with "▁" (U+2581)
// replaced by a space, BOS as "\n<s>\n" and EOS as "\n</s>\n".
type Llama2Tokenizer struct {
	MaxTokenLength int       // the header field; every token is at most this long
	Tokens         [][]byte  // token i's bytes
	Scores         []float32 // token i's score, finite
}

// Limits the reader enforces, so that a corrupt header cannot make it
// allocate without bound.
const (
	// MaxLlama2TokenLength bounds the max_token_length header field.
	MaxLlama2TokenLength = 1 << 16
	// MaxLlama2Tokens bounds the number of tokens in a tokenizer.bin.
	MaxLlama2Tokens = 1 << 24
)

// ReadLlama2TokenizerFile reads and validates the tokenizer.bin at path.
func ReadLlama2TokenizerFile(path string) (*Llama2Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLlama2Tokenizer(data, path)
}

// ReadLlama2Tokenizer reads a whole tokenizer.bin from r. name is used in
// errors (usually the file name).
func ReadLlama2Tokenizer(r io.Reader, name string) (*Llama2Tokenizer, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ParseLlama2Tokenizer(data, name)
}

// ParseLlama2Tokenizer parses and validates a tokenizer.bin held in data.
// Every field is checked: max_token_length in [1, MaxLlama2TokenLength],
// each score finite, each len in [0, max_token_length] and within the file,
// at least one token. Errors name the file (name), the token index and the
// field. The returned tokens alias data.
func ParseLlama2Tokenizer(data []byte, name string) (*Llama2Tokenizer, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("%s: llama2 tokenizer.bin: field max_token_length: file is %d bytes, need at least 4", name, len(data))
	}
	maxLen := int32(binary.LittleEndian.Uint32(data))
	if maxLen < 1 || maxLen > MaxLlama2TokenLength {
		return nil, fmt.Errorf("%s: llama2 tokenizer.bin: field max_token_length = %d, want 1..%d", name, maxLen, MaxLlama2TokenLength)
	}
	t := &Llama2Tokenizer{MaxTokenLength: int(maxLen)}
	off := 4
	for off < len(data) {
		i := len(t.Tokens)
		if i >= MaxLlama2Tokens {
			return nil, fmt.Errorf("%s: llama2 tokenizer.bin: more than %d tokens", name, MaxLlama2Tokens)
		}
		if len(data)-off < 8 {
			return nil, fmt.Errorf("%s: llama2 tokenizer.bin: token %d at offset %d: fields score and len: %d bytes left, need 8", name, i, off, len(data)-off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		if math.IsNaN(float64(score)) || math.IsInf(float64(score), 0) {
			return nil, fmt.Errorf("%s: llama2 tokenizer.bin: token %d at offset %d: field score = %v, want a finite number", name, i, off, score)
		}
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		if n < 0 || n > maxLen {
			return nil, fmt.Errorf("%s: llama2 tokenizer.bin: token %d at offset %d: field len = %d, want 0..max_token_length (%d)", name, i, off+4, n, maxLen)
		}
		off += 8
		if len(data)-off < int(n) {
			return nil, fmt.Errorf("%s: llama2 tokenizer.bin: token %d at offset %d: field bytes: len is %d but only %d bytes left", name, i, off, n, len(data)-off)
		}
		t.Tokens = append(t.Tokens, data[off:off+int(n):off+int(n)])
		t.Scores = append(t.Scores, score)
		off += int(n)
	}
	if len(t.Tokens) == 0 {
		return nil, fmt.Errorf("%s: llama2 tokenizer.bin: no tokens after max_token_length", name)
	}
	return t, nil
}

// MarshalBinary encodes t in the tokenizer.bin layout. It fails if t is not
// something ParseLlama2Tokenizer would accept.
func (t *Llama2Tokenizer) MarshalBinary() ([]byte, error) {
	if len(t.Tokens) != len(t.Scores) {
		return nil, fmt.Errorf("llama2 tokenizer.bin: %d tokens but %d scores", len(t.Tokens), len(t.Scores))
	}
	if len(t.Tokens) == 0 {
		return nil, fmt.Errorf("llama2 tokenizer.bin: no tokens")
	}
	if t.MaxTokenLength < 1 || t.MaxTokenLength > MaxLlama2TokenLength {
		return nil, fmt.Errorf("llama2 tokenizer.bin: max_token_length = %d, want 1..%d", t.MaxTokenLength, MaxLlama2TokenLength)
	}
	size := 4
	for i, tok := range t.Tokens {
		if len(tok) > t.MaxTokenLength {
			return nil, fmt.Errorf("llama2 tokenizer.bin: token %d is %d bytes, longer than max_token_length %d", i, len(tok), t.MaxTokenLength)
		}
		s := float64(t.Scores[i])
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("llama2 tokenizer.bin: token %d: score %v is not finite", i, s)
		}
		size += 8 + len(tok)
	}
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint32(out, uint32(t.MaxTokenLength))
	for i, tok := range t.Tokens {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(t.Scores[i]))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(tok)))
		out = append(out, tok...)
	}
	return out, nil
}
