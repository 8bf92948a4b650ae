package bpe

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/anekit/anekit/pkg/format"
)

// SentencePiece is a SentencePiece BPE tokenizer (model_type BPE with the
// identity normalization), as used by Llama 2 and llama2.c. Its Encode
// gives the ids of sentencepiece's EncodeAsIds, id for id, on valid UTF-8,
// and its Decode the text of DecodeIds, with two deliberate departures
// that the Tokenizer contract requires:
//
//   - Input that is not valid UTF-8: sentencepiece replaces each invalid
//     byte with U+FFFD before encoding; SentencePiece encodes each invalid
//     byte through byte fallback (<0xXX>), so nothing is lost.
//   - Byte pieces that do not form valid UTF-8: sentencepiece decodes each
//     to U+FFFD; Decode writes the raw bytes.
//
// So Decode(Encode(x)) == x for every x, valid UTF-8 or not, except that a
// literal "▁" in x comes back as a space (as in sentencepiece).
//
// Encoding follows sentencepiece: the text is normalized (a dummy-prefix
// "▁" (U+2581) is put in front if the model says add_dummy_prefix, every
// space becomes "▁"), split into characters (user-defined pieces are
// matched whole and never merged), and then, repeatedly, the adjacent pair
// of symbols whose concatenation is a piece with the highest score is
// merged, the leftmost pair winning ties. A final symbol that is not a
// piece becomes its UTF-8 bytes as <0xXX> pieces (byte fallback) or, in a
// model without byte pieces, <unk> (consecutive unknowns giving one <unk>).
//
// Speed: a boundary between two characters that no piece holds side by
// side (for Llama 2: before every "▁" that follows a non-space) can never
// be crossed by a merge, so the text is cut there into segments whose
// encodings are independent; segments are encoded once and kept in a
// lock-free cache shared by all goroutines.
//
// A SentencePiece is safe for concurrent use.
type SentencePiece struct {
	name     string
	identity string

	n      int
	scores []float32
	types  []format.SPPieceType

	merge     map[string]int32 // mergeable pieces (NORMAL, USER_DEFINED, UNUSED) -> id
	reserved  map[string]int32 // the others (CONTROL, UNKNOWN, BYTE) -> id
	user      map[string]int32 // USER_DEFINED pieces -> id
	asciiID   [128]int32       // symbol id of an ASCII character (see chars), or -1
	chars     map[string]int32 // symbol id of a non-ASCII character in some piece
	pairs     spPairTable      // (left symbol id, right symbol id) -> merged piece id
	byteID    [256]int32       // id of <0xXX>, or the unknown id
	unkID     int32
	maxPiece  int // longest mergeable piece in bytes
	maxUser   int // longest user-defined piece in bytes
	hasUnused bool

	byteFallback   bool
	addDummyPrefix bool

	// joinable[a][b] reports whether some mergeable piece holds a character
	// of class a immediately followed by one of class b. Where it is false
	// the text can be cut (see charClass).
	joinable [numClasses][numClasses]bool
	segment  bool // encode segment by segment (with the cache)
	split    bool // SplitPoint may return split points

	specials map[string]uint32

	// Decoding tables.
	decKind    []uint8
	decOff     []uint32 // piece id's text is decText[decOff[id]:decOff[id+1]]
	decText    []byte
	unkSurface []byte

	cache      []atomic.Pointer[spCacheEntry]
	cacheShift uint // 64 - log2(len(cache))
	scratch    sync.Pool
}

// Character classes for cut points: ASCII bytes are their own class,
// except the space, which normalizes to "▁" and shares its class.
const (
	classWS      = 128 // ' ' or U+2581
	classOther   = 129 // any other valid non-ASCII character
	classInvalid = 130 // a byte that is not part of valid UTF-8
	numClasses   = 131
)

// Decoding kinds.
const (
	decNormal  = iota // text, "▁" as " "
	decWSStart        // as decNormal, and the piece starts with "▁"
	decControl        // nothing
	decUnknown        // the unknown surface, " ⁇ " by default
	decByte           // one raw byte
)

const (
	spaceSymbol      = "\u2581"
	spCacheBits      = 16
	spCacheMaxKey    = 16 // longest segment (bytes) the cache keeps
	spCacheMaxIDs    = 7  // most ids of a cached segment
	spCacheFirstSalt = 0x9e3779b97f4a7c15
	fnvOffset        = 14695981039346656037
	fnvPrime         = 1099511628211
)

// spCacheEntry is one cached segment, in one allocation so that a lookup
// touches as little memory as possible. Entries are immutable once stored.
type spCacheEntry struct {
	hash       uint64 // FNV-1a of the key, xor spCacheFirstSalt if first
	klen, nids uint8
	first      bool
	key        [spCacheMaxKey]byte
	ids        [spCacheMaxIDs]uint32
}

// knownSentencePieceVocabs names vocabularies by their hash, so that the
// identity of a tokenizer does not depend on its file name.
var knownSentencePieceVocabs = map[string]string{
	"384cbd0ad560909d": "llama2",
}

// LoadSentencePiece reads a SentencePiece BPE vocabulary from path: either a
// llama2.c tokenizer.bin or a sentencepiece tokenizer.model (protobuf); the
// format is sniffed from the content, not the name.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bpe: %w", err)
	}
	return ParseSentencePiece(data, path)
}

// ParseSentencePiece builds a SentencePiece from the bytes of a
// tokenizer.bin or tokenizer.model; name (usually the file name) is used in
// errors only.
func ParseSentencePiece(data []byte, name string) (*SentencePiece, error) {
	// A ModelProto starts with field 1 (pieces), wire type 2: byte 0x0A. A
	// tokenizer.bin starts with max_token_length as int32; 10 would also
	// give 0x0A, so a failed parse falls back to the other format.
	if len(data) > 0 && data[0] == 0x0A {
		m, merr := format.ParseSPModel(data, name)
		if merr == nil {
			return NewSentencePiece(m, name)
		}
		if b, err := format.ParseLlama2Tokenizer(data, name); err == nil {
			return NewSentencePieceFromLlama2(b, name)
		}
		return nil, fmt.Errorf("bpe: %w", merr)
	}
	b, berr := format.ParseLlama2Tokenizer(data, name)
	if berr == nil {
		return NewSentencePieceFromLlama2(b, name)
	}
	if m, err := format.ParseSPModel(data, name); err == nil {
		return NewSentencePiece(m, name)
	}
	return nil, fmt.Errorf("bpe: %w", berr)
}

// NewSentencePieceFromLlama2 builds a SentencePiece from a llama2.c
// tokenizer.bin. The file holds only pieces and scores, so the rest is what
// llama2.c's exporter implies: spaces in tokens are "▁", "\n<s>\n" and
// "\n</s>\n" are the CONTROL pieces <s> and </s>, "<unk>" is UNKNOWN,
// "<0xXX>" are BYTE pieces (byte fallback), the rest NORMAL; normalization
// is identity with add_dummy_prefix and without remove_extra_whitespaces.
// name is used in errors.
func NewSentencePieceFromLlama2(b *format.Llama2Tokenizer, name string) (*SentencePiece, error) {
	m := &format.SPModel{
		Trainer:    format.DefaultSPTrainerSpec(),
		Normalizer: format.DefaultSPNormalizerSpec(),
	}
	m.Trainer.ModelType = format.SPBPE
	m.Trainer.VocabSize = int32(len(b.Tokens))
	m.Trainer.UnkID, m.Trainer.BosID, m.Trainer.EosID, m.Trainer.PadID = -1, -1, -1, -1
	m.Normalizer.Name = "identity"
	m.Normalizer.RemoveExtraWhitespaces = false
	m.Pieces = make([]format.SPPiece, len(b.Tokens))
	haveUnk := false
	for i, tok := range b.Tokens {
		p := format.SPPiece{Score: b.Scores[i], Type: format.SPNormal}
		s := string(tok)
		switch {
		case s == "\n<s>\n":
			p.Piece, p.Type = "<s>", format.SPControl
		case s == "\n</s>\n":
			p.Piece, p.Type = "</s>", format.SPControl
		case s == "<unk>" && !haveUnk:
			p.Piece, p.Type = s, format.SPUnknown
			haveUnk = true
		case isBytePiece(s):
			p.Piece, p.Type = s, format.SPByte
			m.Trainer.ByteFallback = true
		default:
			if s == "" {
				return nil, fmt.Errorf("bpe: %s: llama2 tokenizer.bin: token %d is empty", name, i)
			}
			p.Piece = string(bytes.ReplaceAll(tok, []byte(" "), []byte(spaceSymbol)))
		}
		m.Pieces[i] = p
	}
	return NewSentencePiece(m, name)
}

// isBytePiece reports whether s is "<0xXX>" with upper-case hex digits, the
// form sentencepiece gives byte pieces.
func isBytePiece(s string) bool {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return false
	}
	for _, c := range []byte(s[3:5]) {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// NewSentencePiece builds a SentencePiece from a parsed tokenizer.model.
// It supports what SentencePiece BPE models such as Llama 2's use: model
// type BPE, identity normalization (no precompiled charsmap, no
// denormalizer), escaped whitespace, no removal of extra whitespace, no
// whitespace-as-suffix. Other models are rejected with an error that says
// which field is unsupported. name is used in errors.
func NewSentencePiece(m *format.SPModel, name string) (*SentencePiece, error) {
	fail := func(format string, args ...any) (*SentencePiece, error) {
		return nil, fmt.Errorf("bpe: %s: sentencepiece: "+format, append([]any{name}, args...)...)
	}
	switch {
	case m.Trainer.ModelType != format.SPBPE:
		return fail("unsupported trainer_spec.model_type %d (only BPE, 2, is supported)", m.Trainer.ModelType)
	case len(m.Normalizer.PrecompiledCharsmap) > 0:
		return fail("unsupported normalizer_spec.precompiled_charsmap (normalization %q; only identity is supported)", m.Normalizer.Name)
	case m.HasDenormalizer && len(m.Denormalizer.PrecompiledCharsmap) > 0:
		return fail("unsupported denormalizer_spec.precompiled_charsmap")
	case m.Normalizer.RemoveExtraWhitespaces:
		return fail("unsupported normalizer_spec.remove_extra_whitespaces = true")
	case !m.Normalizer.EscapeWhitespaces:
		return fail("unsupported normalizer_spec.escape_whitespaces = false")
	case m.Trainer.TreatWhitespaceAsSuffix:
		return fail("unsupported trainer_spec.treat_whitespace_as_suffix = true")
	case len(m.Pieces) == 0:
		return fail("no pieces")
	case len(m.Pieces) > 1<<30:
		return fail("too many pieces")
	}
	n := len(m.Pieces)
	t := &SentencePiece{
		n:              n,
		scores:         make([]float32, n),
		types:          make([]format.SPPieceType, n),
		merge:          make(map[string]int32, n),
		reserved:       make(map[string]int32),
		unkID:          -1,
		byteFallback:   m.Trainer.ByteFallback,
		addDummyPrefix: m.Normalizer.AddDummyPrefix,
		unkSurface:     []byte(m.Trainer.UnkSurface),
		specials:       make(map[string]uint32),
		decKind:        make([]uint8, n),
		decOff:         make([]uint32, n+1),
	}
	for i := range t.asciiID {
		t.asciiID[i] = -1
	}
	byteSeen := [256]bool{}
	for i, p := range m.Pieces {
		id := int32(i)
		if p.Piece == "" {
			return fail("piece %d is empty", i)
		}
		if s := float64(p.Score); math.IsNaN(s) || math.IsInf(s, 0) {
			return fail("piece %d (%q): score %v is not finite", i, p.Piece, p.Score)
		}
		t.scores[i], t.types[i] = p.Score, p.Type
		if _, dup := t.merge[p.Piece]; dup {
			return fail("piece %d (%q) is defined twice", i, p.Piece)
		}
		if _, dup := t.reserved[p.Piece]; dup {
			return fail("piece %d (%q) is defined twice", i, p.Piece)
		}
		switch p.Type {
		case format.SPNormal, format.SPUserDefined, format.SPUnused:
			if !utf8.ValidString(p.Piece) {
				// Can never be formed from text; keep it for decoding only.
				t.reserved[p.Piece] = id
				break
			}
			t.merge[p.Piece] = id
			t.maxPiece = max(t.maxPiece, len(p.Piece))
			if len(p.Piece) == 1 && p.Piece[0] < 0x80 {
				t.asciiID[p.Piece[0]] = id
			}
			if p.Type == format.SPUserDefined {
				if t.user == nil {
					t.user = make(map[string]int32)
				}
				t.user[p.Piece] = id
				t.maxUser = max(t.maxUser, len(p.Piece))
				t.specials[p.Piece] = uint32(id)
			}
			if p.Type == format.SPUnused {
				t.hasUnused = true
			}
			t.markJoinable(p.Piece)
		case format.SPUnknown:
			if t.unkID >= 0 {
				return fail("pieces %d and %d are both UNKNOWN", t.unkID, i)
			}
			t.unkID = id
			t.reserved[p.Piece] = id
			t.specials[p.Piece] = uint32(id)
		case format.SPControl:
			t.reserved[p.Piece] = id
			t.specials[p.Piece] = uint32(id)
		case format.SPByte:
			if !t.byteFallback {
				return fail("byte piece %d (%q) but trainer_spec.byte_fallback is false", i, p.Piece)
			}
			if !isBytePiece(p.Piece) {
				return fail("byte piece %d is %q, want <0xXX>", i, p.Piece)
			}
			v, _ := strconv.ParseUint(p.Piece[3:5], 16, 8)
			byteSeen[v] = true
			t.byteID[v] = id
			t.reserved[p.Piece] = id
		default:
			return fail("piece %d (%q) has unknown type %d", i, p.Piece, p.Type)
		}
	}
	if t.unkID < 0 {
		return fail("no UNKNOWN piece (<unk>)")
	}
	t.buildPairs(m.Pieces)
	for b := range t.byteID {
		if !byteSeen[b] {
			t.byteID[b] = t.unkID
		}
	}

	// Specials by role: the trainer_spec ids when they name a piece of the
	// right type, else the conventional piece names.
	t.specials["unk"] = uint32(t.unkID)
	role := func(r string, id int32, piece string) {
		if id >= 0 && int(id) < n && (t.types[id] == format.SPControl || t.types[id] == format.SPUserDefined) {
			t.specials[r] = uint32(id)
			return
		}
		if id, ok := t.reserved[piece]; ok && t.types[id] == format.SPControl {
			t.specials[r] = uint32(id)
		}
	}
	role("bos", m.Trainer.BosID, m.Trainer.BosPiece)
	role("eos", m.Trainer.EosID, m.Trainer.EosPiece)
	role("pad", m.Trainer.PadID, m.Trainer.PadPiece)

	// Decoding tables.
	for i, p := range m.Pieces {
		switch p.Type {
		case format.SPControl:
			t.decKind[i] = decControl
		case format.SPUnknown:
			t.decKind[i] = decUnknown
		case format.SPByte:
			v, _ := strconv.ParseUint(p.Piece[3:5], 16, 8)
			t.decKind[i] = decByte
			t.decText = append(t.decText, byte(v))
		default:
			t.decKind[i] = decNormal
			if len(p.Piece) >= len(spaceSymbol) && p.Piece[:len(spaceSymbol)] == spaceSymbol {
				t.decKind[i] = decWSStart
			}
			t.decText = append(t.decText, bytes.ReplaceAll([]byte(p.Piece), []byte(spaceSymbol), []byte(" "))...)
		}
		t.decOff[i+1] = uint32(len(t.decText))
	}

	// Merges never cross a cut point, so segments are independent, except
	// that the resegmentation of UNUSED pieces looks at the whole text, and
	// that without byte fallback consecutive unknowns collapse into one
	// <unk> (handled where segments join in Encode, but not across
	// SplitPoint).
	t.segment = !t.hasUnused
	t.split = t.segment && t.byteFallback
	if t.segment {
		// About four slots per piece, at most 1<<spCacheBits.
		bits := 10
		for bits < spCacheBits && 1<<bits < 4*n {
			bits++
		}
		t.cache = make([]atomic.Pointer[spCacheEntry], 1<<bits)
		t.cacheShift = uint(64 - bits)
	}
	t.scratch.New = func() any { return new(spScratch) }

	// Identity: a canonical serialization of the vocabulary and of the
	// normalizer setting that changes ids.
	h := sha256.New()
	h.Write([]byte("anekit sentencepiece vocabulary v1\n"))
	var buf []byte
	for i, p := range m.Pieces {
		buf = binary.AppendUvarint(buf[:0], uint64(len(p.Piece)))
		buf = append(buf, p.Piece...)
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(t.scores[i]))
		buf = append(buf, byte(p.Type))
		h.Write(buf)
	}
	h.Write([]byte{boolByte(t.addDummyPrefix), boolByte(t.byteFallback)})
	sum := hex.EncodeToString(h.Sum(nil)[:8])
	t.name = knownSentencePieceVocabs[sum]
	if t.name == "" {
		t.name = "sp" + strconv.Itoa(n)
	}
	t.identity = "sentencepiece:" + t.name + ":" + sum
	return t, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// buildPairs prepares the merge lookups by symbol id. A symbol is a single
// character or a mergeable piece; a character that appears in some piece
// without being a piece itself gets a pseudo id >= n, so that every symbol
// that can take part in a merge has an id. Then the pair (A, B) merges into
// the piece A+B, for every way of cutting a piece in two at a character
// boundary.
func (t *SentencePiece) buildPairs(pieces []format.SPPiece) {
	t.chars = make(map[string]int32)
	next := int32(t.n)
	charID := func(c string) int32 {
		if len(c) == 1 && c[0] < 0x80 {
			if t.asciiID[c[0]] < 0 {
				t.asciiID[c[0]] = next
				next++
			}
			return t.asciiID[c[0]]
		}
		id, ok := t.chars[c]
		if !ok {
			c = strings.Clone(c) // c may be a substring of a piece
			if pid, isPiece := t.merge[c]; isPiece {
				id = pid
			} else {
				id = next
				next++
			}
			t.chars[c] = id
		}
		return id
	}
	// Every character of every mergeable piece gets an id first, so that a
	// single-character half below is found.
	for p := range t.merge {
		for k, r := range p {
			if r != utf8.RuneError {
				charID(p[k : k+utf8.RuneLen(r)])
			}
		}
	}
	symbolID := func(x string) int32 {
		if id, ok := t.merge[x]; ok {
			return id
		}
		if _, size := utf8.DecodeRuneInString(x); size == len(x) {
			if len(x) == 1 && x[0] < 0x80 {
				return t.asciiID[x[0]]
			}
			if id, ok := t.chars[x]; ok {
				return id
			}
		}
		return -1
	}
	npairs := 0
	for p := range t.merge {
		npairs += len(p) - 1
	}
	keys := make([]uint64, 0, npairs)
	vals := make([]int32, 0, npairs)
	for p, id := range t.merge {
		for k := range p {
			if k == 0 || !utf8.RuneStart(p[k]) {
				continue
			}
			a, b := symbolID(p[:k]), symbolID(p[k:])
			if a < 0 || b < 0 {
				continue
			}
			keys = append(keys, spPairKey(a, b))
			vals = append(vals, id)
		}
	}
	t.pairs.init(keys, vals)
}

// spPairTable is an open-addressing hash table from a pair of symbol ids
// to the id of the piece they merge into. Immutable after init.
type spPairTable struct {
	keys  []uint64
	vals  []int32
	shift uint
}

const spEmptyKey = ^uint64(0) // ids are < 1<<31, so no real key is all ones

func spPairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (p *spPairTable) init(keys []uint64, vals []int32) {
	bits := uint(4)
	for 1<<bits < 2*len(keys) {
		bits++
	}
	p.shift = 64 - bits
	p.keys = make([]uint64, 1<<bits)
	p.vals = make([]int32, 1<<bits)
	for i := range p.keys {
		p.keys[i] = spEmptyKey
	}
	mask := uint64(1)<<bits - 1
	for i, k := range keys {
		h := (k * 0x9E3779B97F4A7C15) >> p.shift
		for p.keys[h] != spEmptyKey && p.keys[h] != k {
			h = (h + 1) & mask
		}
		p.keys[h], p.vals[h] = k, vals[i]
	}
}

// get returns the merged piece id of the pair (a, b), or -1.
func (p *spPairTable) get(a, b int32) int32 {
	k := spPairKey(a, b)
	mask := uint64(len(p.keys) - 1)
	for h := (k * 0x9E3779B97F4A7C15) >> p.shift; ; h = (h + 1) & mask {
		switch p.keys[h] {
		case k:
			return p.vals[h]
		case spEmptyKey:
			return -1
		}
	}
}

// charClass returns the class of the character at the start of s and its
// length in bytes. The literal U+2581 shares the class of the space because
// normalization turns spaces into it.
func charClass(s []byte) (class, size int) {
	c := s[0]
	if c < 0x80 {
		if c == ' ' {
			return classWS, 1
		}
		return int(c), 1
	}
	if c == 0xE2 && len(s) >= 3 && s[1] == 0x96 && s[2] == 0x81 {
		return classWS, 3
	}
	r, size := utf8.DecodeRune(s)
	if r == utf8.RuneError && size == 1 {
		return classInvalid, 1
	}
	return classOther, size
}

// markJoinable records the adjacent character classes of a mergeable piece.
func (t *SentencePiece) markJoinable(piece string) {
	s := []byte(piece)
	prev := -1
	for len(s) > 0 {
		c, size := charClass(s)
		if c == classWS && s[0] == ' ' {
			// A literal space in a piece never matches normalized text,
			// where spaces are "▁"; give it a class of its own.
			c = ' '
		}
		if prev >= 0 {
			t.joinable[prev][c] = true
		}
		prev = c
		s = s[size:]
	}
}

// Name returns the tokenizer's name: a known vocabulary's ("llama2") or
// "sp<vocab size>".
func (t *SentencePiece) Name() string { return t.name }

// Identity returns "sentencepiece:<name>:<hash>", where hash is the first 16
// hex digits of the SHA-256 of a canonical serialization of the pieces,
// scores and types (and of the add_dummy_prefix and byte_fallback
// settings). A tokenizer.bin and the tokenizer.model it was exported from
// have the same identity.
func (t *SentencePiece) Identity() string { return t.identity }

// VocabSize returns the number of pieces.
func (t *SentencePiece) VocabSize() int { return t.n }

// Special returns the id of "bos", "eos", "unk" or "pad" (by role), or of a
// CONTROL, UNKNOWN or USER_DEFINED piece by its literal ("<s>").
func (t *SentencePiece) Special(name string) (uint32, bool) {
	id, ok := t.specials[name]
	return id, ok
}

// Score returns the score of piece id (0 if id is out of range).
func (t *SentencePiece) Score(id uint32) float32 {
	if int(id) >= t.n {
		return 0
	}
	return t.scores[id]
}

// Decode appends the text of ids to dst, as sentencepiece's DecodeIds
// does: "▁" becomes a space, except that the leading "▁" of the first piece
// that produces text is dropped (the dummy prefix); control pieces (<s>,
// </s>) give nothing, <unk> gives the unknown surface (" ⁇ " by default),
// byte pieces give their byte. Unlike sentencepiece, byte pieces that do
// not form valid UTF-8 are written raw, not as U+FFFD, so that
// Decode(Encode(x)) == x for any x. An id >= VocabSize is an error; the
// text decoded before it is returned with the error.
func (t *SentencePiece) Decode(dst []byte, ids []uint32) ([]byte, error) {
	start := len(dst)
	bosWS := t.addDummyPrefix // a leading "▁" may still be consumed
	seen := false             // the previous piece consumed one
	for i, id := range ids {
		if int(id) >= t.n {
			return dst, fmt.Errorf("bpe: %s: id %d at index %d is beyond the vocabulary (size %d)", t.identity, id, i, t.n)
		}
		kind := t.decKind[id]
		if kind == decByte {
			dst = append(dst, t.decText[t.decOff[id]])
			continue
		}
		if seen || len(dst) > start {
			bosWS = false
		}
		seen = false
		switch kind {
		case decControl:
		case decUnknown:
			dst = append(dst, t.unkSurface...)
		default:
			text := t.decText[t.decOff[id]:t.decOff[id+1]]
			if bosWS && kind == decWSStart {
				text = text[1:]
				seen = true
			}
			dst = append(dst, text...)
		}
	}
	return dst, nil
}

// Encode appends the ids of text to dst, with the dummy prefix, as
// sentencepiece's EncodeAsIds (see the type's documentation for the
// handling of invalid UTF-8). No BOS/EOS is added.
func (t *SentencePiece) Encode(dst []uint32, text []byte) []uint32 {
	return t.encode(dst, text, t.addDummyPrefix)
}

// EncodeTail appends the ids of text that continues a longer text at one of
// its split points: as Encode but without the dummy prefix.
func (t *SentencePiece) EncodeTail(dst []uint32, text []byte) []uint32 {
	return t.encode(dst, text, false)
}

// SplitPoint returns the last index i in (0, len(text)) where text[i-1] and
// text[i] are ASCII characters that no piece holds side by side (for
// Llama 2: a non-space followed by a space, or either side of a newline),
// or 0 if there is none. No merge crosses such a point, whatever follows
// text, so Encode(whole) == Encode(whole[:i]) ++ EncodeTail(whole[i:]).
// It returns 0 for models where that does not hold (with UNUSED pieces, or
// without byte fallback).
func (t *SentencePiece) SplitPoint(text []byte) int {
	if !t.split {
		return 0
	}
	for i := len(text) - 1; i >= 1; i-- {
		a, b := text[i-1], text[i]
		if a < 0x80 && b < 0x80 && !t.joinable[asciiClass(a)][asciiClass(b)] {
			return i
		}
	}
	return 0
}

func asciiClass(c byte) int {
	if c == ' ' {
		return classWS
	}
	return int(c)
}

// encode cuts text into independent segments and encodes each, through the
// cache. prefix says whether the dummy prefix goes in front.
func (t *SentencePiece) encode(dst []uint32, text []byte, prefix bool) []uint32 {
	if len(text) == 0 {
		return dst
	}
	s := t.scratch.Get().(*spScratch)
	defer t.putScratch(s)
	s.base = len(dst)
	if !t.segment {
		s.segBase = s.base
		return t.encodeSegment(s, dst, text, prefix)
	}
	first := prefix // the next segment carries the dummy prefix
	prev := -1
	if prefix {
		prev = classWS
	}
	start := 0
	h := uint64(fnvOffset) // FNV-1a of text[start:i], for the cache
	for i := 0; i < len(text); {
		b := text[i]
		var c, size int
		if b < 0x80 {
			c, size = asciiClass(b), 1
		} else {
			c, size = charClass(text[i:])
		}
		if prev >= 0 && !t.joinable[prev][c] {
			dst = t.encodeCached(s, dst, text[start:i], h, first)
			first = false
			start = i
			h = fnvOffset
		}
		h = (h ^ uint64(b)) * fnvPrime
		for k := 1; k < size; k++ {
			h = (h ^ uint64(text[i+k])) * fnvPrime
		}
		prev = c
		i += size
	}
	return t.encodeCached(s, dst, text[start:], h, first)
}

// encodeWhole encodes text as one segment, without the cut points and the
// cache: the plain algorithm, which tests compare encode with.
func (t *SentencePiece) encodeWhole(dst []uint32, text []byte, prefix bool) []uint32 {
	if len(text) == 0 {
		return dst
	}
	s := t.scratch.Get().(*spScratch)
	defer t.putScratch(s)
	s.base, s.segBase = len(dst), len(dst)
	return t.encodeSegment(s, dst, text, prefix)
}

// encodeCached appends the ids of one segment, from the cache if it holds
// them. h is the FNV-1a hash of seg.
func (t *SentencePiece) encodeCached(s *spScratch, dst []uint32, seg []byte, h uint64, first bool) []uint32 {
	n0 := len(dst)
	s.segBase = n0
	if len(seg) <= spCacheMaxKey && t.cache != nil {
		if first {
			h ^= spCacheFirstSalt
		}
		// Two-way: the entry is in one of the two slots of a pair.
		i := (h * 0x9E3779B97F4A7C15) >> t.cacheShift
		slot := &t.cache[i]
		e := slot.Load()
		if e == nil || e.hash != h {
			slot = &t.cache[i^1]
			e = slot.Load()
		}
		if e != nil && e.hash == h && int(e.klen) == len(seg) && e.first == first && string(e.key[:len(seg)]) == string(seg) {
			dst = append(dst, e.ids[:e.nids]...)
		} else {
			dst = t.encodeSegment(s, dst, seg, first)
			if ids := dst[n0:]; len(ids) <= spCacheMaxIDs {
				e := &spCacheEntry{hash: h, klen: uint8(len(seg)), nids: uint8(len(ids)), first: first}
				copy(e.key[:], seg)
				copy(e.ids[:], ids)
				// Fill an empty slot of the pair, else replace one of them
				// (chosen by a hash bit, so both get their turn).
				slot = &t.cache[i]
				if slot.Load() != nil {
					if other := &t.cache[i^1]; other.Load() == nil || h>>7&1 == 1 {
						slot = other
					}
				}
				slot.Store(e)
			}
		}
	} else {
		dst = t.encodeSegment(s, dst, seg, first)
	}
	// Without byte fallback, an unknown ending the previous segment and one
	// starting this one are a single <unk>, as in sentencepiece.
	if !t.byteFallback && n0 > s.base && n0 < len(dst) && dst[n0-1] == uint32(t.unkID) && dst[n0] == uint32(t.unkID) {
		dst = append(dst[:n0], dst[n0+1:]...)
	}
	return dst
}

// putScratch returns s to the pool, dropping buffers grown for a huge
// segment so that the pool does not keep them alive.
func (t *SentencePiece) putScratch(s *spScratch) {
	const keep = 1 << 16
	if cap(s.norm) > 3*keep || cap(s.syms) > keep || cap(s.heap) > keep {
		*s = spScratch{}
	}
	t.scratch.Put(s)
}

// spScratch is the per-call working memory of the encoder.
type spScratch struct {
	norm    []byte
	syms    []spSymbol
	heap    []spPair
	rev     map[string][2]string // for UNUSED pieces: merged -> its two parts
	base    int                  // len(dst) when the Encode call started
	segBase int                  // len(dst) when the current segment started
}

type spSymbol struct {
	start, end int32 // bytes of the normalized text; empty once merged away
	prev, next int32 // neighbours, -1 at the ends
	id         int32 // piece id, pseudo id >= n of a character that is not a piece, or -1
	frozen     bool  // user-defined piece or invalid byte: never merged
}

type spPair struct {
	score       float32
	left, right int32
	size        int32 // bytes of the merged piece, to detect stale pairs
	id          int32
}

// before orders the agenda: higher score first, then the leftmost pair.
func (a *spPair) before(b *spPair) bool {
	return a.score > b.score || a.score == b.score && a.left < b.left
}

func (s *spScratch) push(p spPair) {
	h := append(s.heap, p)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].before(&h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	s.heap = h
}

func (s *spScratch) pop() spPair {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}

// encodeSegment normalizes seg and runs the BPE merges on it, appending the
// ids to dst.
func (t *SentencePiece) encodeSegment(s *spScratch, dst []uint32, seg []byte, first bool) []uint32 {
	norm := s.norm[:0]
	if first {
		norm = append(norm, spaceSymbol...)
	}
	for _, c := range seg {
		if c == ' ' {
			norm = append(norm, spaceSymbol...)
		} else {
			norm = append(norm, c)
		}
	}
	s.norm = norm
	if len(norm) == 0 {
		return dst
	}

	// Split into characters (and user-defined pieces).
	syms := s.syms[:0]
	for i := 0; i < len(norm); {
		sym := spSymbol{start: int32(i), prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1, id: -1}
		size := 0
		if t.maxUser > 0 {
			for l := min(t.maxUser, len(norm)-i); l >= 1; l-- {
				if id, ok := t.user[string(norm[i:i+l])]; ok {
					size, sym.id, sym.frozen = l, id, true
					break
				}
			}
		}
		if size == 0 {
			if c := norm[i]; c < 0x80 {
				size, sym.id = 1, t.asciiID[c]
			} else {
				r, n := utf8.DecodeRune(norm[i:])
				size = n
				if r == utf8.RuneError && n == 1 {
					sym.frozen = true
				} else if id, ok := t.chars[string(norm[i:i+n])]; ok {
					sym.id = id
				}
			}
		}
		sym.end = int32(i + size)
		syms = append(syms, sym)
		i += size
	}
	syms[len(syms)-1].next = -1
	s.syms = syms
	if len(syms) <= spSmall && !t.hasUnused {
		return t.mergeSmall(s, dst, norm)
	}

	if t.hasUnused && s.rev != nil {
		clear(s.rev)
	}
	s.heap = s.heap[:0]
	for i := 1; i < len(syms); i++ {
		t.tryPair(s, norm, int32(i-1), int32(i))
	}
	for len(s.heap) > 0 {
		p := s.pop()
		l, r := &syms[p.left], &syms[p.right]
		if l.start == l.end || r.start == r.end || (l.end-l.start)+(r.end-r.start) != p.size {
			continue // stale
		}
		l.end = r.end
		l.id = p.id
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = p.left
		}
		r.end = r.start
		t.tryPair(s, norm, l.prev, p.left)
		t.tryPair(s, norm, p.left, l.next)
	}

	for i := int32(0); i != -1; i = syms[i].next {
		sym := &syms[i]
		if sym.id >= 0 && int(sym.id) < t.n && t.types[sym.id] == format.SPUnused {
			dst = t.resegment(s, dst, string(norm[sym.start:sym.end]))
			continue
		}
		dst = t.emit(s, dst, norm[sym.start:sym.end], sym.id)
	}
	return dst
}

// spSmall is the most symbols mergeSmall handles.
const spSmall = 24

// mergeSmall runs the merges on a short symbol sequence (at most spSmall,
// and no UNUSED pieces in the model) by scanning for the best pair at each
// step, which for a few symbols is faster than the agenda. The merges are
// the same: the highest score first, the leftmost among equals.
func (t *SentencePiece) mergeSmall(s *spScratch, dst []uint32, norm []byte) []uint32 {
	syms := s.syms
	n := len(syms)
	var pid [spSmall]int32 // pid[i]: the piece syms[i] and syms[i+1] merge into, or -1
	pairOf := func(a, b *spSymbol) int32 {
		if a.frozen || b.frozen || a.id < 0 || b.id < 0 {
			return -1
		}
		return t.pairs.get(a.id, b.id)
	}
	for i := 0; i+1 < n; i++ {
		pid[i] = pairOf(&syms[i], &syms[i+1])
	}
	for {
		best := -1
		var bestScore float32
		for i := 0; i+1 < n; i++ {
			if id := pid[i]; id >= 0 && (best < 0 || t.scores[id] > bestScore) {
				best, bestScore = i, t.scores[id]
			}
		}
		if best < 0 {
			break
		}
		syms[best].id = pid[best]
		syms[best].end = syms[best+1].end
		copy(syms[best+1:n-1], syms[best+2:n])
		for j := best + 1; j < n-2; j++ {
			pid[j] = pid[j+1]
		}
		n--
		if best > 0 {
			pid[best-1] = pairOf(&syms[best-1], &syms[best])
		}
		if best+1 < n {
			pid[best] = pairOf(&syms[best], &syms[best+1])
		}
	}
	for i := range n {
		dst = t.emit(s, dst, norm[syms[i].start:syms[i].end], syms[i].id)
	}
	return dst
}

// tryPair puts the pair (left, right) on the agenda if their concatenation
// is a mergeable piece.
func (t *SentencePiece) tryPair(s *spScratch, norm []byte, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := &s.syms[left], &s.syms[right]
	if l.frozen || r.frozen || l.id < 0 || r.id < 0 {
		return
	}
	id := t.pairs.get(l.id, r.id)
	if id < 0 {
		return
	}
	s.push(spPair{score: t.scores[id], left: left, right: right, size: r.end - l.start, id: id})
	if t.types[id] == format.SPUnused {
		if s.rev == nil {
			s.rev = make(map[string][2]string)
		}
		s.rev[string(norm[l.start:r.end])] = [2]string{string(norm[l.start:l.end]), string(norm[r.start:r.end])}
	}
}

// resegment splits an UNUSED piece back into the pair it was merged from,
// recursively, as sentencepiece does.
func (t *SentencePiece) resegment(s *spScratch, dst []uint32, w string) []uint32 {
	id, ok := t.merge[w]
	if !ok || t.types[id] != format.SPUnused {
		if !ok {
			id = -1
		}
		return t.emit(s, dst, []byte(w), id)
	}
	parts, ok := s.rev[w]
	if !ok {
		return t.emit(s, dst, []byte(w), id)
	}
	dst = t.resegment(s, dst, parts[0])
	return t.resegment(s, dst, parts[1])
}

// emit appends the id of one final symbol: its piece, or a reserved piece
// of the same text, or byte fallback / <unk>.
func (t *SentencePiece) emit(s *spScratch, dst []uint32, piece []byte, id int32) []uint32 {
	if id >= int32(t.n) {
		id = -1 // a character that is not a piece
	}
	if id < 0 {
		if rid, ok := t.reserved[string(piece)]; ok {
			id = rid
		}
	}
	if id >= 0 && id != t.unkID {
		return append(dst, uint32(id))
	}
	if t.byteFallback {
		for _, b := range piece {
			dst = append(dst, uint32(t.byteID[b]))
		}
		return dst
	}
	if len(dst) > s.segBase && dst[len(dst)-1] == uint32(t.unkID) {
		return dst // consecutive unknowns are one <unk>
	}
	return append(dst, uint32(t.unkID))
}
