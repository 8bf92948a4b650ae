// Package bpe holds anekit's tokenizers behind one interface.
//
// Families:
//   - SentencePiece-style BPE read from a llama2.c tokenizer.bin (or the
//     Llama 2 tokenizer.model protobuf), equal id for id to sentencepiece;
//   - the tiktoken encodings r50k_base, p50k_base, cl100k_base and
//     o200k_base, embedded (never downloaded), equal id for id to tiktoken;
//   - byte-level BPE learned from a corpus and stored as a .tiktoken file;
//   - raw bytes (256 ids plus specials), the zero-configuration default.
//
// Open resolves a user-facing name (as given to ane-tokenize --tokenizer)
// to a Tokenizer.
package bpe

// Tokenizer turns text into token ids and back.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Tokenizer interface {
	// Encode appends the ids of text to dst and returns the extended slice.
	// No BOS/EOS is added. Text that is not valid UTF-8 is still encoded
	// (through byte fallback or byte-level tokens), never dropped.
	Encode(dst []uint32, text []byte) []uint32

	// Decode appends the bytes of ids to dst. An id >= VocabSize is an error.
	// Special tokens decode to their literal text (for example "<|eos|>")
	// except where the family defines otherwise (SentencePiece BOS/EOS
	// decode to nothing, as in sentencepiece).
	Decode(dst []byte, ids []uint32) ([]byte, error)

	// VocabSize is one more than the largest id the tokenizer can produce,
	// specials included.
	VocabSize() int

	// Special returns the id of a special token by role ("bos", "eos",
	// "pad", "unk") or by literal ("<|endoftext|>"), and whether it exists.
	Special(name string) (uint32, bool)

	// Identity is a stable string naming the tokenizer and its vocabulary:
	// "<family>:<name>:<first 16 hex digits of sha256 of the vocabulary>".
	// Two tokenizers with equal identities produce equal ids.
	Identity() string
}

// Splitter is implemented by tokenizers whose encoding of a long text can be
// cut into pieces that are encoded independently (in parallel) and
// concatenated, giving exactly Encode(text).
type Splitter interface {
	// SplitPoint returns an index i in (0, len(text)] such that, for every
	// possible continuation of text after len(text),
	//   Encode(whole) == Encode(whole[:i]) ++ EncodeTail(whole[i:]),
	// or 0 if text holds no such point. It looks only at text.
	SplitPoint(text []byte) int

	// EncodeTail appends the ids of text that starts at a split point of a
	// longer text (for SentencePiece: without the dummy-prefix space that
	// Encode adds at the start of a text).
	EncodeTail(dst []uint32, text []byte) []uint32
}
