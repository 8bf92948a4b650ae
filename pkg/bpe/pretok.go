package bpe

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// Pre-tokenizers.
//
// A pre-tokenizer cuts text into pieces; byte pair encoding then runs on each
// piece on its own, so no token ever spans two pieces. tiktoken defines the
// pieces of each encoding by a regular expression matched repeatedly from the
// left (leftmost-first alternation, as a backtracking engine would). The
// functions here are hand-written equivalents of those expressions: each
// takes text and the start i of a piece (i < len(text)) and returns the end
// of that piece, looking only at text[i:] (the expressions have lookahead
// but no lookbehind). They are tested against the expressions themselves,
// run by regexp2 (FuzzPretokenize*).
//
// Character classes follow the Unicode tables of the Go release: \s is the
// White_Space property (the same set as regexp2's and Rust regex's \s),
// \p{L}, \p{N}, \p{M}, \p{Lu}, ... the general categories.
//
// Invalid UTF-8: tiktoken itself never sees it (Python and Rust strings are
// valid Unicode; tiktoken-go turns each invalid byte into U+FFFD and so
// changes the text). Here each byte that does not start a valid UTF-8
// sequence is classified as if it were U+FFFD (a symbol: not a letter,
// number, mark or space) and stays in its piece as the byte itself, so byte
// pair encoding sees, and decoding gives back, the original bytes. Piece
// boundaries are therefore exactly those tiktoken finds in the text with
// every invalid byte replaced by U+FFFD.

// Character class bits.
const (
	pcL  uint8 = 1 << iota // \p{L}
	pcN                    // \p{N}
	pcS                    // \s (White_Space)
	pcNL                   // \r or \n
	pcU                    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k "upper")
	pcW                    // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k "lower")
)

// pretokASCII holds the classes of the ASCII characters.
var pretokASCII = func() (t [128]uint8) {
	for r := rune(0); r < 128; r++ {
		t[r] = pretokClassSlow(r)
	}
	return t
}()

// pretokBMP holds the classes of U+0000..U+FFFF, built on first use.
var (
	pretokBMPOnce sync.Once
	pretokBMP     *[0x10000]uint8
)

func pretokBuildBMP() {
	t := new([0x10000]uint8)
	set := func(tab *unicode.RangeTable, bit uint8) {
		for _, r := range tab.R16 {
			for c := uint32(r.Lo); c <= uint32(r.Hi); c += uint32(r.Stride) {
				t[c] |= bit
			}
		}
	}
	set(unicode.L, pcL)
	set(unicode.N, pcN)
	set(unicode.White_Space, pcS)
	for _, tab := range []*unicode.RangeTable{unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M} {
		set(tab, pcU)
	}
	for _, tab := range []*unicode.RangeTable{unicode.Ll, unicode.Lm, unicode.Lo, unicode.M} {
		set(tab, pcW)
	}
	t['\r'] |= pcNL
	t['\n'] |= pcNL
	pretokBMP = t
}

// pretokClassSlow computes the class bits of r from the Unicode tables.
func pretokClassSlow(r rune) uint8 {
	var c uint8
	if unicode.IsLetter(r) {
		c |= pcL
	}
	if unicode.IsNumber(r) {
		c |= pcN
	}
	if unicode.Is(unicode.White_Space, r) {
		c |= pcS
	}
	if r == '\r' || r == '\n' {
		c |= pcNL
	}
	if unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M) {
		c |= pcU
	}
	if unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M) {
		c |= pcW
	}
	return c
}

// pretokClass returns the class bits and the width in bytes of the
// character at t[i], or (0, 0) at the end of t. A byte that does not start
// a valid UTF-8 sequence is one character of class 0 (as U+FFFD would be).
func pretokClass(t []byte, i int) (uint8, int) {
	if i >= len(t) {
		return 0, 0
	}
	if b := t[i]; b < utf8.RuneSelf {
		return pretokASCII[b], 1
	}
	r, w := utf8.DecodeRune(t[i:])
	if r < 0x10000 {
		if pretokBMP == nil {
			pretokBMPOnce.Do(pretokBuildBMP)
		}
		return pretokBMP[r], w // U+FFFD has class 0, like an invalid byte
	}
	return pretokClassSlow(r), w
}

// pretokSpan returns the end of the run of characters from i whose class
// has a bit of mask.
func pretokSpan(t []byte, i int, mask uint8) int {
	for i < len(t) {
		if b := t[i]; b < utf8.RuneSelf {
			if pretokASCII[b]&mask == 0 {
				return i
			}
			i++
			continue
		}
		c, w := pretokClass(t, i)
		if c&mask == 0 {
			return i
		}
		i += w
	}
	return i
}

// pretokSpanNot returns the end of the run of characters from i whose class
// has no bit of mask.
func pretokSpanNot(t []byte, i int, mask uint8) int {
	for i < len(t) {
		if b := t[i]; b < utf8.RuneSelf {
			if pretokASCII[b]&mask != 0 {
				return i
			}
			i++
			continue
		}
		c, w := pretokClass(t, i)
		if c&mask != 0 {
			return i
		}
		i += w
	}
	return i
}

// pretokSpanN returns the end of at most max characters of class \p{N}.
func pretokSpanN(t []byte, i, max int) int {
	for k := 0; k < max; k++ {
		c, w := pretokClass(t, i)
		if c&pcN == 0 {
			return i
		}
		i += w
	}
	return i
}

// pretokSpaces matches the whitespace alternatives at i, where t[i] is \s:
// with newlines true, `\s*[\r\n]+|\s+(?!\S)|\s+` (cl100k, o200k), else
// `\s+(?!\S)|\s+` (r50k, p50k).
func pretokSpaces(t []byte, i int, newlines bool) int {
	j, last, afterNL := i, i, -1
	for j < len(t) {
		c, w := pretokClass(t, j)
		if c&pcS == 0 {
			break
		}
		last = j
		j += w
		if c&pcNL != 0 {
			afterNL = j
		}
	}
	if newlines && afterNL > 0 {
		return afterNL // \s*[\r\n]+ ends after the run's last \r or \n
	}
	if j == len(t) || last == i {
		return j // \s+(?!\S) at the end of text, or a single \s by \s+
	}
	return last // \s+(?!\S) gives back the last space before a \S
}

// pretokFoldContraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i and returns
// its end, or -1. Case-insensitive matching uses Unicode simple case folding
// as Rust regex does, so U+017F (long s) matches 's'.
func pretokFoldContraction(t []byte, i int) int {
	if i+1 >= len(t) || t[i] != '\'' {
		return -1
	}
	switch t[i+1] {
	case 's', 'S', 't', 'T', 'm', 'M', 'd', 'D':
		return i + 2
	case 'r', 'R', 'v', 'V':
		if i+2 < len(t) && t[i+2]|0x20 == 'e' {
			return i + 3
		}
	case 'l', 'L':
		if i+2 < len(t) && t[i+2]|0x20 == 'l' {
			return i + 3
		}
	case 0xC5: // U+017F LATIN SMALL LETTER LONG S is C5 BF
		if i+2 < len(t) && t[i+2] == 0xBF {
			return i + 3
		}
	}
	return -1
}

// pretokR50K is the pre-tokenizer of r50k_base (gpt2) and p50k_base:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func pretokR50K(t []byte, i int) int {
	c0 := t[i]
	if c0 == '\'' && i+1 < len(t) {
		switch t[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(t) && t[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(t) && t[i+2] == 'l' {
				return i + 3
			}
		}
	}
	s := i
	if c0 == ' ' {
		s = i + 1
	}
	c, w := pretokClass(t, s)
	switch {
	case w == 0:
		// a space at the end of text: whitespace below
	case c&pcL != 0:
		return pretokSpan(t, s+w, pcL)
	case c&pcN != 0:
		return pretokSpan(t, s+w, pcN)
	case c&pcS == 0:
		return pretokSpanNot(t, s+w, pcS|pcL|pcN)
	}
	return pretokSpaces(t, i, false)
}

// pretokCL100K is the pre-tokenizer of cl100k_base, and of vocabularies
// loaded from .tiktoken files or trained by Train:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func pretokCL100K(t []byte, i int) int {
	if t[i] == '\'' {
		if e := pretokFoldContraction(t, i); e > 0 {
			return e
		}
	}
	c, w := pretokClass(t, i)
	if c&pcL != 0 {
		return pretokSpan(t, i+w, pcL)
	}
	if c&(pcNL|pcN) == 0 { // [^\r\n\p{L}\p{N}] then \p{L}+
		if c2, w2 := pretokClass(t, i+w); c2&pcL != 0 {
			return pretokSpan(t, i+w+w2, pcL)
		}
	}
	if c&pcN != 0 {
		return pretokSpanN(t, i+w, 2)
	}
	s := i
	if t[i] == ' ' {
		s = i + 1
	}
	if c2, w2 := pretokClass(t, s); w2 > 0 && c2&(pcS|pcL|pcN) == 0 {
		return pretokSpan(t, pretokSpanNot(t, s+w2, pcS|pcL|pcN), pcNL)
	}
	return pretokSpaces(t, i, true)
}

// pretokO200K is the pre-tokenizer of o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Write U for the first bracket ("upper") and W for the second ("lower").
// The first alternative, tried with the optional prefix and then without:
// the greedy U* takes the whole U-run s..k; if the character at k is in W,
// W+ takes the W-run from k. Otherwise U* backs off one character at a time
// and W+ succeeds at the last position j < k whose character is in W (Lm,
// Lo and M are in both classes); the character after j is not in W, so the
// match ends right after j. If no such j exists the alternative fails for
// this prefix choice. The optional contraction always succeeds, so there is
// no further backtracking.
func pretokO200K(t []byte, i int) int {
	c, w := pretokClass(t, i)
	prefix := c&(pcL|pcN|pcNL) == 0
	if prefix {
		if e := pretokO200KLower(t, i+w); e > 0 {
			return e
		}
	}
	if e := pretokO200KLower(t, i); e > 0 {
		return e
	}
	if prefix {
		if e := pretokO200KUpper(t, i+w); e > 0 {
			return e
		}
	}
	if e := pretokO200KUpper(t, i); e > 0 {
		return e
	}
	if c&pcN != 0 {
		return pretokSpanN(t, i+w, 2)
	}
	s := i
	if t[i] == ' ' {
		s = i + 1
	}
	if c2, w2 := pretokClass(t, s); w2 > 0 && c2&(pcS|pcL|pcN) == 0 {
		e := pretokSpanNot(t, s+w2, pcS|pcL|pcN)
		for e < len(t) && (t[e] == '\r' || t[e] == '\n' || t[e] == '/') {
			e++
		}
		return e
	}
	return pretokSpaces(t, i, true)
}

// pretokO200KLower matches U*W+(contraction)? at s; it returns the end or -1.
func pretokO200KLower(t []byte, s int) int {
	j, lastW := s, -1
	for {
		c, w := pretokClass(t, j)
		if c&pcU == 0 {
			if c&pcW != 0 {
				return pretokO200KSuffix(t, pretokSpan(t, j+w, pcW))
			}
			break
		}
		j += w
		if c&pcW != 0 {
			lastW = j
		}
	}
	if lastW < 0 {
		return -1
	}
	return pretokO200KSuffix(t, lastW)
}

// pretokO200KUpper matches U+W*(contraction)? at s; it returns the end or -1.
func pretokO200KUpper(t []byte, s int) int {
	k := pretokSpan(t, s, pcU)
	if k == s {
		return -1
	}
	return pretokO200KSuffix(t, pretokSpan(t, k, pcW))
}

func pretokO200KSuffix(t []byte, e int) int {
	if e < len(t) && t[e] == '\'' {
		if e2 := pretokFoldContraction(t, e); e2 > 0 {
			return e2
		}
	}
	return e
}
