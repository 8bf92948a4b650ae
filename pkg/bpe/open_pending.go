package bpe

import "fmt"

// These loaders are wired to the tiktoken and SentencePiece families when
// their files land in this package.

func openTiktoken(name string) (Tokenizer, error) {
	return nil, fmt.Errorf("bpe: tokenizer %q: the tiktoken family is not built into this binary yet", name)
}

func openTiktokenFile(path string) (Tokenizer, error) {
	return nil, fmt.Errorf("bpe: tokenizer %q: the tiktoken family is not built into this binary yet", path)
}

func openSentencePiece(path string) (Tokenizer, error) {
	return nil, fmt.Errorf("bpe: tokenizer %q: the SentencePiece family is not built into this binary yet", path)
}
