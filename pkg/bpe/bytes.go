package bpe

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// Ids of the special tokens of the raw-bytes tokenizer.
const (
	BytesBOS = 256 // "<|bos|>"
	BytesEOS = 257 // "<|eos|>"
)

// Bytes is the raw-bytes tokenizer: every byte of the text is one token
// (ids 0..255 are the byte values), plus two specials, 256 = "<|bos|>" and
// 257 = "<|eos|>". It needs no vocabulary file and never fails, which makes
// it the zero-configuration default of ane-tokenize.
//
// Bytes implements Tokenizer and Splitter; it is safe for concurrent use.
type Bytes struct {
	identity string
}

var bytesSpecials = [...]string{"<|bos|>", "<|eos|>"}

// NewBytes returns the raw-bytes tokenizer.
func NewBytes() *Bytes {
	// The vocabulary hashed for the identity is the piece of every id in
	// order, each followed by a newline byte: bytes 0x00..0xff, then the
	// specials' literals (see docs/FORMATS.md, "Tokenizer identity").
	h := sha256.New()
	for b := 0; b < 256; b++ {
		h.Write([]byte{byte(b), '\n'})
	}
	for _, s := range bytesSpecials {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	sum := h.Sum(nil)
	return &Bytes{identity: "bytes:bytes:" + hex.EncodeToString(sum[:8])}
}

// Encode appends one id per byte of text.
func (t *Bytes) Encode(dst []uint32, text []byte) []uint32 {
	dst = slices.Grow(dst, len(text))
	for _, b := range text {
		dst = append(dst, uint32(b))
	}
	return dst
}

// Decode appends the bytes of ids to dst; the specials decode to their
// literals. An id >= 258 is an error.
func (t *Bytes) Decode(dst []byte, ids []uint32) ([]byte, error) {
	for i, id := range ids {
		switch {
		case id < 256:
			dst = append(dst, byte(id))
		case id < 258:
			dst = append(dst, bytesSpecials[id-256]...)
		default:
			return dst, fmt.Errorf("bpe: bytes: id %d at index %d is beyond the vocabulary (size 258)", id, i)
		}
	}
	return dst, nil
}

// VocabSize returns 258.
func (t *Bytes) VocabSize() int { return 258 }

// Special knows "bos" and "eos", by role or by literal.
func (t *Bytes) Special(name string) (uint32, bool) {
	switch name {
	case "bos", "<|bos|>":
		return BytesBOS, true
	case "eos", "<|eos|>":
		return BytesEOS, true
	}
	return 0, false
}

// Identity returns "bytes:bytes:<hash>".
func (t *Bytes) Identity() string { return t.identity }

// SplitPoint returns len(text): every byte boundary is a split point.
func (t *Bytes) SplitPoint(text []byte) int { return len(text) }

// EncodeTail is Encode: raw bytes have no start-of-text behaviour.
func (t *Bytes) EncodeTail(dst []uint32, text []byte) []uint32 { return t.Encode(dst, text) }
