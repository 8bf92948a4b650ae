package mil

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a problem in a program. Line and Col (1-based, columns counted
// in bytes) locate it in the text when it was parsed; they are zero for
// programs made in memory.
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("mil: %d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return "mil: " + e.Msg
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tPunct // one of ( ) [ ] { } < > , = ; and "->"
)

type token struct {
	kind      tokKind
	text      string // identifier, number spelling, unquoted string, punctuation
	line, col int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

// lex splits src into tokens. Whitespace and comments (// to end of line)
// separate tokens and are otherwise ignored.
func lex(src []byte) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			adv(1)
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, string(src[i:j]), line, col})
			adv(j - i)
		case isDigit(c) || ((c == '-' || c == '+' || c == '.') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.')):
			j := i
			if c == '-' || c == '+' {
				j++
			}
			hex := j+1 < len(src) && src[j] == '0' && (src[j+1] == 'x' || src[j+1] == 'X')
			for j < len(src) {
				d := src[j]
				if isIdentChar(d) || d == '.' {
					j++
					continue
				}
				if (d == '-' || d == '+') && j > i {
					p := src[j-1]
					if (!hex && (p == 'e' || p == 'E')) || (hex && (p == 'p' || p == 'P')) {
						j++
						continue
					}
				}
				break
			}
			toks = append(toks, token{tNumber, string(src[i:j]), line, col})
			adv(j - i)
		case c == '"':
			l0, c0 := line, col
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				d := src[j]
				if d == '"' {
					closed = true
					break
				}
				if d == '\n' {
					break
				}
				if d == '\\' {
					if j+1 >= len(src) {
						break
					}
					switch e := src[j+1]; e {
					case '"', '\\':
						sb.WriteByte(e)
					case 'n':
						sb.WriteByte('\n')
					case 't':
						sb.WriteByte('\t')
					default:
						return nil, &Error{line, col + (j - i), fmt.Sprintf("unknown escape \\%c in string", e)}
					}
					j += 2
					continue
				}
				sb.WriteByte(d)
				j++
			}
			if !closed {
				return nil, &Error{l0, c0, "unterminated string"}
			}
			toks = append(toks, token{tString, sb.String(), l0, c0})
			adv(j + 1 - i)
		case c == '-' && i+1 < len(src) && src[i+1] == '>':
			toks = append(toks, token{tPunct, "->", line, col})
			adv(2)
		case strings.IndexByte("()[]{}<>,=;", c) >= 0:
			toks = append(toks, token{tPunct, string(c), line, col})
			adv(1)
		default:
			return nil, &Error{line, col, fmt.Sprintf("unexpected character %q", rune(c))}
		}
	}
	toks = append(toks, token{tEOF, "", line, col})
	return toks, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
