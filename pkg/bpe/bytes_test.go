package bpe

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	tok := NewBytes()
	var _ Splitter = tok
	text := []byte("héllo\x00\xff")
	ids := tok.Encode([]uint32{7}, text)
	if len(ids) != 1+len(text) || ids[0] != 7 || ids[2] != 0xc3 {
		t.Fatalf("Encode = %v", ids)
	}
	ids = append(ids, BytesBOS, BytesEOS)
	out, err := tok.Decode(nil, ids[1:])
	if err != nil || !bytes.Equal(out, append(text, "<|bos|><|eos|>"...)) {
		t.Fatalf("Decode = %q, %v", out, err)
	}
	if _, err := tok.Decode(nil, []uint32{258}); err == nil {
		t.Error("Decode accepted id 258")
	}
	if tok.VocabSize() != 258 {
		t.Error("VocabSize", tok.VocabSize())
	}
	for name, want := range map[string]uint32{"bos": 256, "eos": 257, "<|bos|>": 256, "<|eos|>": 257} {
		if id, ok := tok.Special(name); !ok || id != want {
			t.Errorf("Special(%q) = %d, %v", name, id, ok)
		}
	}
	if _, ok := tok.Special("pad"); ok {
		t.Error("Special(pad) exists")
	}
	if !regexp.MustCompile(`^bytes:bytes:[0-9a-f]{16}$`).MatchString(tok.Identity()) || tok.Identity() != NewBytes().Identity() {
		t.Errorf("Identity = %q", tok.Identity())
	}
	if tok.SplitPoint(text) != len(text) {
		t.Error("SplitPoint")
	}
}

func TestOpenErrors(t *testing.T) {
	for _, spec := range []string{"", "nope", "llama2:", "gpt-4"} {
		_, err := Open(spec)
		if err == nil {
			t.Errorf("Open(%q) succeeded", spec)
			continue
		}
		t.Logf("Open(%q): %v", spec, err)
	}
	if tok, err := Open("bytes"); err != nil || tok.VocabSize() != 258 {
		t.Errorf("Open(bytes) = %v, %v", tok, err)
	}
	for spec, vocab := range map[string]int{"gpt2": 50257, "r50k_base": 50257, "p50k_base": 50281, "cl100k_base": 100277, "o200k_base": 200019} {
		tok, err := Open(spec)
		if err != nil {
			t.Errorf("Open(%q): %v", spec, err)
			continue
		}
		if tok.VocabSize() < vocab-20 || tok.VocabSize() > vocab+20 {
			t.Errorf("Open(%q): vocab %d, about %d expected", spec, tok.VocabSize(), vocab)
		}
	}
	for _, spec := range []string{"llama2:/nonexistent/tokenizer.bin", "/nonexistent/v.tiktoken", "/nonexistent/tokenizer.model"} {
		if _, err := Open(spec); err == nil || !strings.Contains(err.Error(), "/nonexistent/") {
			t.Errorf("Open(%q): %v, want an error naming the file", spec, err)
		}
	}
}
