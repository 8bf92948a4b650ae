package bpe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"sync"

	tiktokenassets "github.com/pkoukk/tiktoken-go-loader/assets"
)

// TiktokenBPE is a byte-level BPE tokenizer with tiktoken's semantics: text
// is cut into pieces by a pre-tokenizer (see pretok.go) and each piece is
// encoded by merging byte pairs in rank order. It serves OpenAI's encodings
// (Tiktoken), .tiktoken files (LoadTiktokenFile) and vocabularies learned by
// Train.
//
// Encode is tiktoken's encode_ordinary: the text of a special token such as
// "<|endoftext|>" is encoded as ordinary text, never as the special id. Every
// byte sequence can be encoded, since all 256 single bytes are tokens; for
// text that is not valid UTF-8, see the note on invalid UTF-8 in pretok.go.
//
// A TiktokenBPE is immutable and safe for concurrent use.
type TiktokenBPE struct {
	name     string
	ranks    map[string]uint32 // tokens longer than tkMaxPacked -> rank (id)
	arena    string            // the bytes of all tokens
	off      []uint32          // token id is arena[off[2id]:off[2id+1]]; empty: no token
	byteRank [256]uint32
	pairRank *[1 << 16]uint32 // rank of each 2-byte token, tkNoRank if none
	short    tkTable          // tokens of up to tkMaxPacked bytes
	cache    *tkCache
	maxLen   int               // longest token, in bytes
	specials map[string]uint32 // literal -> id
	special  map[uint32]string // id -> literal
	vocab    int
	pretok   func(text []byte, i int) int
	gpt2     bool // r50k/p50k pre-tokenization (affects SplitPoint)
	identity string
}

var (
	_ Tokenizer = (*TiktokenBPE)(nil)
	_ Splitter  = (*TiktokenBPE)(nil)
)

// tiktokenSpec describes one of OpenAI's encodings.
type tiktokenSpec struct {
	pretok   func([]byte, int) int
	gpt2     bool
	specials map[string]uint32
}

var tiktokenSpecs = map[string]tiktokenSpec{
	"r50k_base": {pretokR50K, true, map[string]uint32{"<|endoftext|>": 50256}},
	"p50k_base": {pretokR50K, true, map[string]uint32{"<|endoftext|>": 50256}},
	"cl100k_base": {pretokCL100K, false, map[string]uint32{
		"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
		"<|fim_suffix|>": 100260, "<|endofprompt|>": 100276,
	}},
	"o200k_base": {pretokO200K, false, map[string]uint32{
		"<|endoftext|>": 199999, "<|endofprompt|>": 200018,
	}},
}

// TiktokenNames lists the names Tiktoken accepts.
var TiktokenNames = []string{"r50k_base", "gpt2", "p50k_base", "cl100k_base", "o200k_base"}

var tiktokenCache sync.Map // name -> *tiktokenOnce

type tiktokenOnce struct {
	once sync.Once
	t    *TiktokenBPE
	err  error
}

// Tiktoken returns one of OpenAI's encodings: "r50k_base" (also called
// "gpt2"), "p50k_base", "cl100k_base" or "o200k_base". The ranks are embedded
// in the binary (github.com/pkoukk/tiktoken-go-loader); nothing is
// downloaded. Each encoding is parsed once per process and shared.
//
// Special tokens are the encoding's own with their real ids (cl100k_base:
// <|endoftext|> 100257, <|fim_prefix|> 100258, <|fim_middle|> 100259,
// <|fim_suffix|> 100260, <|endofprompt|> 100276). These encodings have no
// separate begin and end tokens: Special("bos") and Special("eos") both
// return <|endoftext|>, the document separator GPT models were trained with.
// VocabSize is the largest id plus one (r50k 50257, p50k 50281, cl100k
// 100277, o200k 200019); ids in the holes of that range (cl100k 100256,
// 100261-100275, ...) belong to no token and Decode rejects them.
//
// The identity is "tiktoken:<name>:<hash>", hash being the first 16 hex
// digits of the sha256 of the ranks in the .tiktoken text form, which is the
// sha256 of the file OpenAI publishes.
func Tiktoken(name string) (*TiktokenBPE, error) {
	if name == "gpt2" {
		name = "r50k_base"
	}
	spec, ok := tiktokenSpecs[name]
	if !ok {
		return nil, fmt.Errorf("bpe: unknown tiktoken encoding %q (valid: %s)", name, strings.Join(TiktokenNames, ", "))
	}
	v, _ := tiktokenCache.LoadOrStore(name, new(tiktokenOnce))
	o := v.(*tiktokenOnce)
	o.once.Do(func() {
		file := name + ".tiktoken"
		data, err := tiktokenassets.Assets.ReadFile(file)
		if err != nil {
			o.err = fmt.Errorf("bpe: embedded %s: %v", file, err)
			return
		}
		tokens, err := parseTiktoken(data, file)
		if err != nil {
			o.err = err
			return
		}
		t, err := newTiktokenBPE(name, tokens, spec.specials, spec.pretok)
		if err != nil {
			o.err = fmt.Errorf("bpe: embedded %s: %v", file, err)
			return
		}
		t.gpt2 = spec.gpt2
		if tkCanonical(data) {
			// The file is byte for byte what tiktokenHash would hash.
			sum := sha256.Sum256(data)
			t.identity = "tiktoken:" + name + ":" + hex.EncodeToString(sum[:8])
		} else {
			t.identity = "tiktoken:" + name + ":" + tiktokenHash(tokens, nil)
		}
		o.t = t
	})
	return o.t, o.err
}

// newTiktokenBPE builds a tokenizer from tokens indexed by rank (nil where a
// rank is unused) and specials (literal -> id, ids not used by tokens).
func newTiktokenBPE(name string, tokens [][]byte, specials map[string]uint32, pretok func([]byte, int) int) (*TiktokenBPE, error) {
	size := 0
	for _, tok := range tokens {
		size += len(tok)
	}
	var arena strings.Builder
	arena.Grow(size)
	for _, tok := range tokens {
		arena.Write(tok)
	}
	t := &TiktokenBPE{
		name:     name,
		ranks:    make(map[string]uint32),
		arena:    arena.String(),
		specials: make(map[string]uint32, len(specials)),
		special:  make(map[uint32]string, len(specials)),
		vocab:    len(tokens),
		pretok:   pretok,
		cache:    &tkCache{seed: maphash.MakeSeed()},
	}
	t.off = make([]uint32, 2*len(tokens))
	pos := uint32(0)
	for id, tok := range tokens {
		t.off[2*id], t.off[2*id+1] = pos, pos+uint32(len(tok))
		if len(tok) > tkMaxPacked {
			t.ranks[t.arena[pos:pos+uint32(len(tok))]] = uint32(id)
		}
		t.maxLen = max(t.maxLen, len(tok))
		pos += uint32(len(tok))
	}
	t.pairRank = new([1 << 16]uint32)
	for i := range t.pairRank {
		t.pairRank[i] = tkNoRank
	}
	nshort := 0
	for _, tok := range tokens {
		if len(tok) > 0 && len(tok) <= tkMaxPacked {
			nshort++
		}
	}
	t.short = newTkTable(nshort)
	for id, tok := range tokens {
		if len(tok) == 2 {
			t.pairRank[uint16(tok[0])<<8|uint16(tok[1])] = uint32(id)
		}
		if len(tok) > 0 && len(tok) <= tkMaxPacked {
			lo, hi := tkKey(tok)
			t.short.insert(lo, hi, uint32(id))
		}
	}
	for b := 0; b < 256; b++ {
		r := t.short.lookup(tkKey([]byte{byte(b)}))
		if r == tkNoRank {
			return nil, fmt.Errorf("no token for the single byte 0x%02x (every byte must be a token)", b)
		}
		t.byteRank[b] = r
	}
	for lit, id := range specials {
		if int(id) < len(tokens) && len(tokens[id]) > 0 {
			return nil, fmt.Errorf("special token %q has id %d, which is the rank of a token", lit, id)
		}
		t.specials[lit] = id
		t.special[id] = lit
		if int(id)+1 > t.vocab {
			t.vocab = int(id) + 1
		}
	}
	return t, nil
}

// tiktokenHash returns the first 16 hex digits of the sha256 of the tokens
// written as a .tiktoken file, followed (when specials is not empty) by one
// line "<literal> <id>" per special token in id order.
func tiktokenHash(tokens [][]byte, specials map[string]uint32) string {
	h := sha256.New()
	writeTiktokenRanks(h, tokens)
	type sp struct {
		lit string
		id  uint32
	}
	var list []sp
	for lit, id := range specials {
		list = append(list, sp{lit, id})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	for _, s := range list {
		fmt.Fprintf(h, "%s %d\n", s.lit, s.id)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Name returns the encoding's name ("cl100k_base", ...) or "custom" for a
// vocabulary loaded from a file or trained.
func (t *TiktokenBPE) Name() string { return t.name }

// Encode appends the ids of text (tiktoken's encode_ordinary).
func (t *TiktokenBPE) Encode(dst []uint32, text []byte) []uint32 {
	for i := 0; i < len(text); {
		e := t.pretok(text, i)
		dst = t.encodePiece(dst, text[i:e])
		i = e
	}
	return dst
}

// EncodeTail is Encode: tiktoken adds nothing at the start of a text.
func (t *TiktokenBPE) EncodeTail(dst []uint32, text []byte) []uint32 {
	return t.Encode(dst, text)
}

// token returns the bytes of token id, or "" if id is not a mergeable token.
func (t *TiktokenBPE) token(id uint32) string {
	if int(id) >= len(t.off)/2 {
		return ""
	}
	return t.arena[t.off[2*id]:t.off[2*id+1]]
}

// Decode appends the bytes of ids to dst. Special tokens decode to their
// literal text. An id that names no token is an error.
func (t *TiktokenBPE) Decode(dst []byte, ids []uint32) ([]byte, error) {
	for _, id := range ids {
		if tok := t.token(id); tok != "" {
			dst = append(dst, tok...)
			continue
		}
		if lit, ok := t.special[id]; ok {
			dst = append(dst, lit...)
			continue
		}
		if int(id) >= t.vocab {
			return dst, fmt.Errorf("bpe: token id %d out of range (%s vocabulary size %d)", id, t.name, t.vocab)
		}
		return dst, fmt.Errorf("bpe: token id %d is not assigned in %s", id, t.name)
	}
	return dst, nil
}

// VocabSize is the largest id plus one, special tokens included.
func (t *TiktokenBPE) VocabSize() int { return t.vocab }

// Special returns the id of a special token, by literal ("<|endoftext|>")
// or by role: role r is the literal "<|r|>" if the vocabulary has it; "bos"
// and "eos" fall back to "<|endoftext|>" (OpenAI's encodings have only that).
func (t *TiktokenBPE) Special(name string) (uint32, bool) {
	if id, ok := t.specials[name]; ok {
		return id, true
	}
	switch name {
	case "bos", "eos", "pad", "unk":
		if id, ok := t.specials["<|"+name+"|>"]; ok {
			return id, true
		}
		if name == "bos" || name == "eos" {
			id, ok := t.specials["<|endoftext|>"]
			return id, ok
		}
	}
	return 0, false
}

// Specials returns the special tokens' literals in id order.
func (t *TiktokenBPE) Specials() []string {
	ids := make([]uint32, 0, len(t.special))
	for id := range t.special {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.special[id]
	}
	return out
}

// Identity is "tiktoken:<name>:<hash>" (see Tiktoken and LoadTiktokenFile).
func (t *TiktokenBPE) Identity() string { return t.identity }

// SplitPoint returns the last index i of text such that text[i-1] is '\n',
// text[i] is an ASCII letter, and, for r50k_base and p50k_base, text[i-2] is
// an ASCII character other than whitespace. It returns 0 if there is none.
//
// Why a piece boundary there is independent of what follows text, and why
// the pieces before it do not change when the text ends at i: the
// expressions have no lookbehind, so matching from i depends only on
// text[i:]. No piece can contain both text[i-1] ('\n') and text[i] (a
// letter): the optional one-character prefix of the letter alternatives
// excludes \r and \n (cl100k, o200k) or is a space (r50k), and every other
// alternative that can hold a '\n' ([\r\n]* and [\r\n/]* suffixes, \s runs)
// stops at a letter. So the whole text has a boundary at i. For the text
// cut at i, the only alternatives whose extent depends on the character at i
// are those same runs, which stop at a letter exactly as at the end of text;
// the one exception is \s+(?!\S), which keeps a whole run of whitespace at
// the end of text but gives back its last character before a letter. In
// cl100k and o200k a run ending in '\n' is always matched by \s*[\r\n]+
// first (ending after that '\n' either way); in r50k/p50k, which lack that
// alternative, requiring a non-space before the '\n' makes the run a single
// '\n', matched whole either way. Hence Encode(text) ==
// Encode(text[:i]) ++ Encode(text[i:]).
func (t *TiktokenBPE) SplitPoint(text []byte) int {
	return tiktokenSplitPoint(text, t.gpt2)
}

func tiktokenSplitPoint(text []byte, gpt2 bool) int {
	for j := len(text) - 1; j >= 1; j-- {
		c := text[j] | 0x20
		if c < 'a' || c > 'z' || text[j-1] != '\n' {
			continue
		}
		if gpt2 {
			if j < 2 {
				continue
			}
			if p := text[j-2]; p >= 0x80 || pretokASCII[p]&pcS != 0 {
				continue
			}
		}
		return j
	}
	return 0
}

// parseTiktoken reads the .tiktoken text form: one "base64(token) rank" line
// per token. It returns the tokens indexed by rank, nil at unused ranks.
// Errors name the file and line. Ranks need not be dense here (p50k_base
// leaves out 50256, its <|endoftext|>); LoadTiktokenFile requires it.
func parseTiktoken(data []byte, file string) ([][]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	type entry struct {
		tok  []byte
		rank uint32
		line int
	}
	// The tokens are decoded into one arena (base64 never grows), and
	// duplicates are found by an open-addressing set of entry indices.
	nlines := bytes.Count(data, []byte{'\n'}) + 1
	entries := make([]entry, 0, nlines)
	arena := make([]byte, 0, len(data)/4*3+3)
	seen := newTkSeen(nlines)
	maxRank := -1
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if k := bytes.IndexByte(data, '\n'); k >= 0 {
			l, data = data[:k], data[k+1:]
		} else {
			l, data = data, nil
		}
		sp := bytes.IndexByte(l, ' ')
		if sp < 0 {
			if len(l) == 0 {
				return nil, fmt.Errorf("%s:%d: empty line", file, line)
			}
			return nil, fmt.Errorf("%s:%d: want \"<base64 token> <rank>\", found no space", file, line)
		}
		b64, num := l[:sp], l[sp+1:]
		at := len(arena)
		n, err := tkBase64.Decode(arena[at:at+tkBase64.DecodedLen(len(b64))], b64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: token: bad base64: %v", file, line, err)
		}
		arena = arena[:at+n]
		tok := arena[at : at+n : at+n]
		if n == 0 {
			return nil, fmt.Errorf("%s:%d: token: empty", file, line)
		}
		rank, ok := tkParseRank(num)
		if !ok {
			return nil, fmt.Errorf("%s:%d: rank: %q is not a decimal number below 2^31", file, line, num)
		}
		if prev := seen.add(tok, int32(len(entries)), func(i int32) []byte { return entries[i].tok }); prev >= 0 {
			return nil, fmt.Errorf("%s:%d: token %q already has a rank on line %d", file, line, tok, entries[prev].line)
		}
		entries = append(entries, entry{tok, rank, line})
		if int(rank) > maxRank {
			maxRank = int(rank)
		}
	}
	if maxRank >= 2*len(entries)+1024 {
		return nil, fmt.Errorf("%s: rank %d is far above the number of tokens (%d)", file, maxRank, len(entries))
	}
	tokens := make([][]byte, maxRank+1)
	lines := make([]int, maxRank+1)
	for _, e := range entries {
		if tokens[e.rank] != nil {
			return nil, fmt.Errorf("%s:%d: rank %d already given on line %d", file, e.line, e.rank, lines[e.rank])
		}
		tokens[e.rank], lines[e.rank] = e.tok, e.line
	}
	return tokens, nil
}

// tkCanonical reports whether data, which parseTiktoken accepted, is
// already in the form writeTiktokenRanks writes: ranks strictly increasing
// line by line, every line ending in "\n", no "\r" (which base64 decoding
// would skip). Base64 and rank spellings are canonical in any accepted
// file (strict base64, no leading zeros).
func tkCanonical(data []byte) bool {
	if len(data) == 0 || data[len(data)-1] != '\n' || bytes.IndexByte(data, '\r') >= 0 {
		return false
	}
	prev := int64(-1)
	for len(data) > 0 {
		k := bytes.IndexByte(data, '\n')
		line := data[:k]
		data = data[k+1:]
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return false
		}
		r, ok := tkParseRank(line[sp+1:])
		if !ok || int64(r) <= prev {
			return false
		}
		prev = int64(r)
	}
	return true
}

// tkParseRank parses a decimal rank below 2^31 without sign or leading zeros.
func tkParseRank(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v >= 1<<31 {
		return 0, false
	}
	return uint32(v), true
}

// tkSeen is a set of byte strings for duplicate detection while parsing:
// open addressing over indices into the caller's list of strings, which
// costs no allocation per string (unlike a map[string]).
type tkSeen struct {
	slots []int32 // index+1 into the caller's strings; 0 is empty
	seed  maphash.Seed
}

func newTkSeen(n int) *tkSeen {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &tkSeen{slots: make([]int32, size), seed: maphash.MakeSeed()}
}

// add inserts b, the string with index i (get returns the string of an
// index), and returns -1, or the index of an equal string already there.
func (s *tkSeen) add(b []byte, i int32, get func(int32) []byte) int32 {
	mask := uint64(len(s.slots) - 1)
	for h := maphash.Bytes(s.seed, b) & mask; ; h = (h + 1) & mask {
		j := s.slots[h]
		if j == 0 {
			s.slots[h] = i + 1
			return -1
		}
		if bytes.Equal(get(j-1), b) {
			return j - 1
		}
	}
}
