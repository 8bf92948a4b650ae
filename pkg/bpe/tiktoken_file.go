package bpe

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
)

// The .tiktoken format (docs/formats/tiktoken.md): a text file with one line
// per mergeable token, "<base64 of the token's bytes> <rank>\n", standard
// base64 with padding, ranks in increasing order. The rank is the token id.
// Special tokens are not in the file.

var tkBase64 = base64.StdEncoding.Strict()

// DefaultSpecials are the special tokens of a loaded or trained vocabulary
// when the caller declares none: ids n and n+1 for a file of n ranks.
var DefaultSpecials = []string{"<|bos|>", "<|eos|>"}

// tiktokenMaxFile bounds the size of a .tiktoken file (o200k_base is 3.6 MB).
const tiktokenMaxFile = 256 << 20

// LoadTiktokenFile reads a vocabulary in the .tiktoken format. The ranks
// must be exactly 0..n-1, every token distinct and non-empty, and the 256
// single bytes must all be tokens (so any input can be encoded). specials
// are declared by the caller and get ids n, n+1, ... in order; nil means
// DefaultSpecials (<|bos|> = n, <|eos|> = n+1), the convention of
// vocabularies made by Train.
//
// Text is pre-tokenized with the cl100k_base expression (pretokCL100K), the
// same one Train uses. The identity is "tiktoken:custom:<hash>", hash being
// the first 16 hex digits of the sha256 of the ranks in .tiktoken form
// followed by one "<literal> <id>\n" line per special token.
func LoadTiktokenFile(path string, specials []string) (*TiktokenBPE, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bpe: %v", err)
	}
	defer f.Close()
	return ReadTiktoken(f, path, specials)
}

// ReadTiktoken is LoadTiktokenFile reading from r; name is used in errors.
func ReadTiktoken(r io.Reader, name string, specials []string) (*TiktokenBPE, error) {
	data, err := io.ReadAll(io.LimitReader(r, tiktokenMaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("bpe: %s: %v", name, err)
	}
	if len(data) > tiktokenMaxFile {
		return nil, fmt.Errorf("bpe: %s: larger than %d bytes", name, tiktokenMaxFile)
	}
	tokens, err := parseTiktoken(data, name)
	if err != nil {
		return nil, fmt.Errorf("bpe: %v", err)
	}
	for rank, tok := range tokens {
		if tok == nil {
			return nil, fmt.Errorf("bpe: %s: rank %d is missing (ranks must be 0..%d)", name, rank, len(tokens)-1)
		}
	}
	t, err := newCustomTiktoken(tokens, specials)
	if err != nil {
		return nil, fmt.Errorf("bpe: %s: %v", name, err)
	}
	return t, nil
}

// newCustomTiktoken builds a file or trained vocabulary: dense tokens, then
// specials (nil: DefaultSpecials) at ids len(tokens), len(tokens)+1, ...
func newCustomTiktoken(tokens [][]byte, specials []string) (*TiktokenBPE, error) {
	if specials == nil {
		specials = DefaultSpecials
	}
	sp := make(map[string]uint32, len(specials))
	for i, lit := range specials {
		if lit == "" {
			return nil, fmt.Errorf("special token %d is empty", i)
		}
		if _, dup := sp[lit]; dup {
			return nil, fmt.Errorf("special token %q declared twice", lit)
		}
		sp[lit] = uint32(len(tokens) + i)
	}
	t, err := newTiktokenBPE("custom", tokens, sp, pretokCL100K)
	if err != nil {
		return nil, err
	}
	t.identity = "tiktoken:custom:" + tiktokenHash(tokens, sp)
	return t, nil
}

// WriteTiktoken writes the mergeable tokens in the .tiktoken format, which
// tiktoken and other implementations load. Special tokens are not written;
// whoever loads the file declares them again (for a trained vocabulary,
// LoadTiktokenFile with the same specials, by default <|bos|> and <|eos|>).
// Unused ranks (p50k_base's 50256) are skipped, so such a file is not
// accepted back by LoadTiktokenFile, which requires dense ranks.
func (t *TiktokenBPE) WriteTiktoken(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := len(t.off) / 2
	tokens := make([][]byte, n)
	for id := 0; id < n; id++ {
		if tok := t.token(uint32(id)); tok != "" {
			tokens[id] = []byte(tok)
		}
	}
	if err := writeTiktokenRanks(bw, tokens); err != nil {
		return err
	}
	return bw.Flush()
}

// writeTiktokenRanks writes tokens (indexed by rank, nil skipped) as
// .tiktoken lines.
func writeTiktokenRanks(w io.Writer, tokens [][]byte) error {
	var line []byte
	for rank, tok := range tokens {
		if tok == nil {
			continue
		}
		line = tkBase64.AppendEncode(line[:0], tok)
		line = append(line, ' ')
		line = strconv.AppendInt(line, int64(rank), 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}
