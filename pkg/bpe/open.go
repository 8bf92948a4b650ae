package bpe

import (
	"fmt"
	"strings"
)

// Forms lists the tokenizer specs Open accepts, for help texts and errors.
const Forms = `bytes | r50k_base (= gpt2) | p50k_base | cl100k_base | o200k_base | llama2:PATH (tokenizer.bin or tokenizer.model) | PATH.tiktoken | PATH.bin | PATH.model`

// Open resolves a user-facing tokenizer spec, as given to
// ane-tokenize --tokenizer, to a Tokenizer:
//
//	bytes                        raw bytes (NewBytes)
//	r50k_base, gpt2, p50k_base,  the embedded tiktoken encodings (Tiktoken)
//	cl100k_base, o200k_base
//	llama2:PATH                  a llama2.c tokenizer.bin or a SentencePiece
//	                             tokenizer.model (LoadSentencePiece)
//	PATH.tiktoken                a tiktoken rank file, e.g. one written by
//	                             ane-tokenize train (LoadTiktokenFile)
//	PATH.bin, PATH.model         as llama2:PATH
//
// An unknown spec gives an error that lists the valid forms; a missing or
// corrupt file gives the loader's error, which names the file.
func Open(spec string) (Tokenizer, error) {
	switch {
	case spec == "bytes":
		return NewBytes(), nil
	case isTiktokenName(spec):
		return openTiktoken(spec)
	case strings.HasPrefix(spec, "llama2:"):
		path := strings.TrimPrefix(spec, "llama2:")
		if path == "" {
			return nil, fmt.Errorf("bpe: tokenizer %q: missing PATH after llama2: (valid forms: %s)", spec, Forms)
		}
		return openSentencePiece(path)
	case strings.HasSuffix(spec, ".tiktoken"):
		return openTiktokenFile(spec)
	case strings.HasSuffix(spec, ".bin"), strings.HasSuffix(spec, ".model"):
		return openSentencePiece(spec)
	}
	return nil, fmt.Errorf("bpe: unknown tokenizer %q (valid forms: %s)", spec, Forms)
}

func isTiktokenName(s string) bool {
	switch s {
	case "r50k_base", "gpt2", "p50k_base", "cl100k_base", "o200k_base":
		return true
	}
	return false
}
