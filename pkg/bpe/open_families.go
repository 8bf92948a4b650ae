package bpe

// Loaders behind Open, one per family.

func openTiktoken(name string) (Tokenizer, error) {
	if name == "gpt2" {
		name = "r50k_base"
	}
	t, err := Tiktoken(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func openTiktokenFile(path string) (Tokenizer, error) {
	t, err := LoadTiktokenFile(path, nil)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func openSentencePiece(path string) (Tokenizer, error) {
	t, err := LoadSentencePiece(path)
	if err != nil {
		return nil, err
	}
	return t, nil
}
