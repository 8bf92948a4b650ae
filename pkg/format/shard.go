package format

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// Token shard layout (docs/FORMATS.md, "Token shard", is the specification;
// all integers little-endian):
//
//	offset  size  field
//	0       8     magic "ANETOKEN"
//	8       2     version (1)
//	10      1     token width in bytes: 2 or 4
//	11      1     flags: bit 0 = zstd frames; other bits zero
//	12      4     vocab size: every id is < vocab size
//	16      8     token count, or 0xFFFFFFFFFFFFFFFF = "until EOF"
//	24      4     data offset: header length, a multiple of 8
//	28      4     frame tokens (zstd: tokens per frame; else 0)
//	32      2     identity length L (<= MaxIdentity)
//	34      6     reserved, zero
//	40      L     tokenizer identity, UTF-8
//	40+L    pad   zero bytes up to the data offset
//	data offset:  the ids, width bytes each (uncompressed), or
//	              zstd frames followed by the seek index (flag bit 0).
const (
	ShardMagic   = "ANETOKEN"
	ShardVersion = 1

	// CountUntilEOF in the count field means the writer did not know the
	// count: the ids run to the end of the file (or to the seek index).
	CountUntilEOF = ^uint64(0)

	// FlagZstd marks a body of independent zstd frames with a seek index.
	FlagZstd = 1

	// MaxIdentity bounds the tokenizer identity string.
	MaxIdentity = 1024

	// DefaultFrameTokens is the number of tokens per zstd frame written
	// when ShardOptions.FrameTokens is 0; MaxFrameTokens bounds it.
	DefaultFrameTokens = 1 << 16
	MaxFrameTokens     = 1 << 24

	shardFixed = 40

	// Seek index (a zstd skippable frame, so the body after the header is
	// a valid zstd stream):
	//	uint32  0x184D2A5E  skippable frame magic
	//	uint32  8*N + 20    skippable frame size
	//	N x { uint32 compressed size of frame i; uint32 tokens in frame i }
	//	uint64  total tokens
	//	uint32  N
	//	[8]byte "ANETOKIX"
	skippableMagic = 0x184D2A5E
	indexMagic     = "ANETOKIX"
	indexFooter    = 20
)

// A FormatError reports a malformed file: which file, which field, where,
// and what is wrong.
type FormatError struct {
	File   string // file name as given to the reader
	Field  string // the field or region at fault, e.g. "magic", "ids"
	Offset int64  // byte offset of the field in the file, or -1
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: %s (offset %d): %s", e.File, e.Field, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// ShardHeader is the decoded header of a token shard.
type ShardHeader struct {
	Version     int
	Width       int    // bytes per token: 2 or 4
	Vocab       int    // every id is < Vocab
	Count       uint64 // token count, or CountUntilEOF
	Zstd        bool   // body is zstd frames with a seek index
	FrameTokens int    // tokens per zstd frame (0 unless Zstd)
	Identity    string // tokenizer identity ("" in a headerless file)
	DataOffset  int    // header length in bytes (0 in a headerless file)
}

// WidthFor returns the token width a shard uses for a vocabulary: 2 bytes
// up to 65536 ids, 4 beyond.
func WidthFor(vocab int) int {
	if vocab <= 1<<16 {
		return 2
	}
	return 4
}

// marshal returns the header bytes, padding included.
func (h *ShardHeader) marshal() []byte {
	n := headerLen(len(h.Identity))
	b := make([]byte, n)
	copy(b, ShardMagic)
	binary.LittleEndian.PutUint16(b[8:], uint16(h.Version))
	b[10] = byte(h.Width)
	if h.Zstd {
		b[11] |= FlagZstd
	}
	binary.LittleEndian.PutUint32(b[12:], uint32(h.Vocab))
	binary.LittleEndian.PutUint64(b[16:], h.Count)
	binary.LittleEndian.PutUint32(b[24:], uint32(n))
	binary.LittleEndian.PutUint32(b[28:], uint32(h.FrameTokens))
	binary.LittleEndian.PutUint16(b[32:], uint16(len(h.Identity)))
	copy(b[shardFixed:], h.Identity)
	return b
}

func headerLen(identity int) int { return (shardFixed + identity + 7) &^ 7 }

// parseShardHeader decodes and validates the header at the start of b.
func parseShardHeader(b []byte, name string) (*ShardHeader, error) {
	ferr := func(field string, off int64, format string, a ...any) error {
		return &FormatError{File: name, Field: field, Offset: off, Msg: fmt.Sprintf(format, a...)}
	}
	if len(b) == 0 {
		return nil, ferr("magic", 0, "empty file")
	}
	if len(b) < len(ShardMagic) || string(b[:len(ShardMagic)]) != ShardMagic {
		m := b[:min(len(b), len(ShardMagic))]
		return nil, ferr("magic", 0, "foreign magic %q, want %q: not an anekit token shard (a headerless llama2.c .bin needs its vocab size given)", m, ShardMagic)
	}
	if len(b) < shardFixed {
		return nil, ferr("header", -1, "truncated: %d bytes, the fixed header is %d", len(b), shardFixed)
	}
	h := &ShardHeader{
		Version:     int(binary.LittleEndian.Uint16(b[8:])),
		Width:       int(b[10]),
		Vocab:       int(binary.LittleEndian.Uint32(b[12:])),
		Count:       binary.LittleEndian.Uint64(b[16:]),
		FrameTokens: int(binary.LittleEndian.Uint32(b[28:])),
		DataOffset:  int(binary.LittleEndian.Uint32(b[24:])),
	}
	flags := b[11]
	idLen := int(binary.LittleEndian.Uint16(b[32:]))
	switch {
	case h.Version != ShardVersion:
		return nil, ferr("version", 8, "unsupported version %d (this reader knows %d)", h.Version, ShardVersion)
	case h.Width != 2 && h.Width != 4:
		return nil, ferr("width", 10, "token width %d, want 2 or 4", h.Width)
	case flags&^FlagZstd != 0:
		return nil, ferr("flags", 11, "unknown flag bits %#02x", flags&^FlagZstd)
	case h.Vocab == 0:
		return nil, ferr("vocab", 12, "vocab size 0")
	case h.Width == 2 && h.Vocab > 1<<16:
		return nil, ferr("vocab", 12, "vocab size %d does not fit token width 2", h.Vocab)
	case idLen > MaxIdentity:
		return nil, ferr("identity length", 32, "%d bytes, at most %d", idLen, MaxIdentity)
	case h.DataOffset != headerLen(idLen):
		return nil, ferr("data offset", 24, "%d, want %d for an identity of %d bytes", h.DataOffset, headerLen(idLen), idLen)
	}
	for _, c := range b[34:40] {
		if c != 0 {
			return nil, ferr("reserved", 34, "reserved bytes are not zero")
		}
	}
	h.Zstd = flags&FlagZstd != 0
	if h.Zstd && (h.FrameTokens < 1 || h.FrameTokens > MaxFrameTokens) {
		return nil, ferr("frame tokens", 28, "%d tokens per frame, want 1..%d", h.FrameTokens, MaxFrameTokens)
	}
	if !h.Zstd && h.FrameTokens != 0 {
		return nil, ferr("frame tokens", 28, "%d in an uncompressed shard, want 0", h.FrameTokens)
	}
	if len(b) < h.DataOffset {
		return nil, ferr("identity", shardFixed, "truncated: header needs %d bytes, file has %d", h.DataOffset, len(b))
	}
	id := b[shardFixed : shardFixed+idLen]
	if !utf8.Valid(id) {
		return nil, ferr("identity", shardFixed, "not valid UTF-8")
	}
	h.Identity = string(id)
	for _, c := range b[shardFixed+idLen : h.DataOffset] {
		if c != 0 {
			return nil, ferr("padding", int64(shardFixed+idLen), "header padding is not zero")
		}
	}
	return h, nil
}

// ShardOptions describes the shard a ShardWriter writes.
type ShardOptions struct {
	Vocab    int    // vocabulary size, > 0; chooses the token width
	Identity string // tokenizer identity (bpe.Tokenizer.Identity)
	Zstd     bool   // compress in independent frames with a seek index
	// FrameTokens is the number of tokens per zstd frame; 0 means
	// DefaultFrameTokens.
	FrameTokens int
	// Level is the zstd encoder level; 0 means zstd.SpeedDefault.
	Level zstd.EncoderLevel
}

// A ShardWriter writes a token shard as a stream: header first (with the
// count "until EOF"), ids as they come, and on Close the seek index (zstd)
// and, when the destination is seekable, the real count patched into the
// header. It never seeks otherwise, so the destination may be a pipe.
type ShardWriter struct {
	w     io.Writer
	bw    *bufio.Writer
	h     ShardHeader
	start int64 // header offset in a seekable destination, or -1
	count uint64
	buf   []byte
	enc   *zstd.Encoder
	frame []byte   // zstd: raw ids of the current frame
	index []uint32 // zstd: compressed size, tokens, per frame
	err   error
}

// NewShardWriter writes the header of a shard to w and returns a writer for
// its ids. The caller must Close it (which does not close w).
func NewShardWriter(w io.Writer, o ShardOptions) (*ShardWriter, error) {
	if o.Vocab <= 0 || int64(o.Vocab) > 1<<32-1 {
		return nil, fmt.Errorf("format: shard vocab size %d out of range", o.Vocab)
	}
	if len(o.Identity) > MaxIdentity || !utf8.ValidString(o.Identity) {
		return nil, fmt.Errorf("format: shard identity must be UTF-8 of at most %d bytes", MaxIdentity)
	}
	sw := &ShardWriter{
		w: w, start: -1,
		h: ShardHeader{Version: ShardVersion, Width: WidthFor(o.Vocab), Vocab: o.Vocab,
			Count: CountUntilEOF, Identity: o.Identity, Zstd: o.Zstd},
	}
	if o.Zstd {
		sw.h.FrameTokens = o.FrameTokens
		if sw.h.FrameTokens == 0 {
			sw.h.FrameTokens = DefaultFrameTokens
		}
		if sw.h.FrameTokens < 1 || sw.h.FrameTokens > MaxFrameTokens {
			return nil, fmt.Errorf("format: %d tokens per zstd frame, want 1..%d", sw.h.FrameTokens, MaxFrameTokens)
		}
		level := o.Level
		if level == 0 {
			level = zstd.SpeedDefault
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		sw.enc = enc
		sw.frame = make([]byte, 0, sw.h.FrameTokens*sw.h.Width)
	}
	if s, ok := w.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			sw.start = off
		}
	}
	sw.h.DataOffset = headerLen(len(o.Identity))
	sw.bw = bufio.NewWriterSize(w, 256<<10)
	if _, err := sw.bw.Write(sw.h.marshal()); err != nil {
		return nil, err
	}
	return sw, nil
}

// Header returns the header being written (Count is CountUntilEOF until
// Close).
func (sw *ShardWriter) Header() ShardHeader { return sw.h }

// Count returns the number of ids written so far.
func (sw *ShardWriter) Count() uint64 { return sw.count }

// Write appends ids to the shard. An id >= the vocab size is an error and
// nothing of ids is written.
//
// Uncompressed ids go as little-endian bytes straight into the writer's
// 256 KiB buffer: no allocation, one pass over ids.
func (sw *ShardWriter) Write(ids []uint32) error {
	if sw.err != nil {
		return sw.err
	}
	if sw.enc == nil {
		return sw.writeRaw(ids)
	}
	if i := overVocab(ids, uint64(sw.h.Vocab)); i >= 0 {
		return sw.vocabError(ids, i)
	}
	for len(ids) > 0 {
		n := min(len(ids), sw.h.FrameTokens-len(sw.frame)/sw.h.Width)
		sw.frame = putIDs(sw.frame, ids[:n], sw.h.Width)
		if len(sw.frame) == cap(sw.frame) {
			if sw.err = sw.flushFrame(); sw.err != nil {
				return sw.err
			}
		}
		sw.count += uint64(n)
		ids = ids[n:]
	}
	return nil
}

// writeRaw writes ids uncompressed, converting and checking them in the
// same pass. So that a bad id leaves nothing of ids written, ids that fit
// the buffer go in one piece (after a flush if need be); longer slices are
// checked whole first.
func (sw *ShardWriter) writeRaw(ids []uint32) error {
	width := sw.h.Width
	vocab := uint64(sw.h.Vocab)
	if size := len(ids) * width; size > sw.bw.Size() {
		if i := overVocab(ids, vocab); i >= 0 {
			return sw.vocabError(ids, i)
		}
	} else if size > sw.bw.Available() {
		if sw.err = sw.bw.Flush(); sw.err != nil {
			return sw.err
		}
	}
	for len(ids) > 0 {
		if sw.bw.Available() < width {
			if sw.err = sw.bw.Flush(); sw.err != nil {
				return sw.err
			}
		}
		buf := sw.bw.AvailableBuffer()
		n := min(len(ids), cap(buf)/width)
		buf = buf[:n*width]
		var top uint32
		if width == 2 {
			for i, id := range ids[:n] {
				top = max(top, id)
				binary.LittleEndian.PutUint16(buf[2*i:], uint16(id))
			}
		} else {
			for i, id := range ids[:n] {
				top = max(top, id)
				binary.LittleEndian.PutUint32(buf[4*i:], id)
			}
		}
		if uint64(top) >= vocab {
			return sw.vocabError(ids, overVocab(ids, vocab))
		}
		if _, sw.err = sw.bw.Write(buf); sw.err != nil {
			return sw.err
		}
		sw.count += uint64(n)
		ids = ids[n:]
	}
	return nil
}

// overVocab returns the index of the first id >= vocab, or -1.
func overVocab(ids []uint32, vocab uint64) int {
	for i, id := range ids {
		if uint64(id) >= vocab {
			return i
		}
	}
	return -1
}

func (sw *ShardWriter) vocabError(ids []uint32, i int) error {
	return fmt.Errorf("format: token id %d at position %d is beyond the vocab size %d", ids[i], sw.count+uint64(i), sw.h.Vocab)
}

func putIDs(dst []byte, ids []uint32, width int) []byte {
	if width == 2 {
		for _, id := range ids {
			dst = append(dst, byte(id), byte(id>>8))
		}
		return dst
	}
	for _, id := range ids {
		dst = binary.LittleEndian.AppendUint32(dst, id)
	}
	return dst
}

func (sw *ShardWriter) flushFrame() error {
	if len(sw.frame) == 0 {
		return nil
	}
	sw.buf = sw.enc.EncodeAll(sw.frame, sw.buf[:0])
	if uint64(len(sw.buf)) > 1<<32-1 {
		return errors.New("format: zstd frame larger than 4 GiB")
	}
	sw.index = append(sw.index, uint32(len(sw.buf)), uint32(len(sw.frame)/sw.h.Width))
	sw.frame = sw.frame[:0]
	_, err := sw.bw.Write(sw.buf)
	return err
}

// Close finishes the shard: the last zstd frame and the seek index, then,
// if the destination is seekable, the token count in the header. It does
// not close the destination.
func (sw *ShardWriter) Close() error {
	if sw.err != nil {
		return sw.err
	}
	sw.err = errors.New("format: ShardWriter is closed")
	if sw.enc != nil {
		if err := sw.flushFrame(); err != nil {
			return err
		}
		n := len(sw.index) / 2
		b := make([]byte, 0, 8+8*n+indexFooter)
		b = binary.LittleEndian.AppendUint32(b, skippableMagic)
		b = binary.LittleEndian.AppendUint32(b, uint32(8*n+indexFooter))
		for _, v := range sw.index {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		b = binary.LittleEndian.AppendUint64(b, sw.count)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = append(b, indexMagic...)
		if _, err := sw.bw.Write(b); err != nil {
			return err
		}
	}
	if err := sw.bw.Flush(); err != nil {
		return err
	}
	if sw.start < 0 {
		return nil
	}
	// Seekable: patch the count, then return to the end.
	s := sw.w.(io.WriteSeeker)
	end, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := s.Seek(sw.start+16, io.SeekStart); err != nil {
		return err
	}
	if _, err := s.Write(binary.LittleEndian.AppendUint64(nil, sw.count)); err != nil {
		return err
	}
	_, err = s.Seek(end, io.SeekStart)
	return err
}
