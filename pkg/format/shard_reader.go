package format

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A Shard is an open token shard, read-only and safe for concurrent use.
// Files are memory-mapped, never read whole into the heap; ids are checked
// against the vocab size as they are read (Window) or all at once
// (Validate).
type Shard struct {
	Header ShardHeader

	name  string
	data  []byte       // the whole file
	unmap func() error // releases data; nil for memory the caller owns
	n     int64        // number of tokens
	body  []byte       // uncompressed: the ids

	// zstd
	frameOff []int64 // byte offset of frame i in data; len = frames+1
	dec      *zstd.Decoder
	mu       sync.Mutex
	cacheIdx int // frame held in cache, or -1
	cache    []byte
}

// OpenShard opens and validates the token shard at path: the header, the
// file size against the count, and for zstd shards the seek index. Ids are
// validated lazily (Window) or by Validate.
func OpenShard(path string) (*Shard, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseShard(data, path)
	if err != nil {
		unmap()
		return nil, err
	}
	s.unmap = unmap
	return s, nil
}

// OpenRawShard opens a headerless file of little-endian uint16 ids (the
// llama2.c / TinyStories .bin convention) whose ids are < vocab.
func OpenRawShard(path string, vocab int) (*Shard, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseRawShard(data, path, vocab)
	if err != nil {
		unmap()
		return nil, err
	}
	s.unmap = unmap
	return s, nil
}

// ParseRawShard is OpenRawShard for a file held in memory; name is used in
// errors.
func ParseRawShard(data []byte, name string, vocab int) (*Shard, error) {
	if vocab <= 0 || vocab > 1<<16 {
		return nil, fmt.Errorf("%s: a headerless uint16 shard needs a vocab size in 1..65536, got %d", name, vocab)
	}
	if len(data)%2 != 0 {
		return nil, &FormatError{File: name, Field: "ids", Offset: int64(len(data) - 1),
			Msg: fmt.Sprintf("file size %d is odd: not a flat uint16 token file (truncated?)", len(data))}
	}
	n := int64(len(data) / 2)
	return &Shard{
		Header: ShardHeader{Width: 2, Vocab: vocab, Count: uint64(n)},
		name:   name, data: data, n: n, body: data, cacheIdx: -1,
	}, nil
}

// ParseShard validates a token shard held in memory (data is retained, not
// copied); name is used in errors.
func ParseShard(data []byte, name string) (*Shard, error) {
	h, err := parseShardHeader(data, name)
	if err != nil {
		return nil, err
	}
	s := &Shard{Header: *h, name: name, data: data, cacheIdx: -1}
	if h.Zstd {
		if err := s.parseIndex(); err != nil {
			return nil, err
		}
		return s, nil
	}
	body := data[h.DataOffset:]
	w := int64(h.Width)
	n := int64(len(body)) / w
	if int64(len(body))%w != 0 {
		return nil, &FormatError{File: name, Field: "ids", Offset: int64(len(data)) - int64(len(body))%w,
			Msg: fmt.Sprintf("%d bytes of data is not a whole number of %d-byte tokens (truncated or trailing garbage)", len(body), w)}
	}
	if h.Count != CountUntilEOF && uint64(n) != h.Count {
		if uint64(n) < h.Count {
			return nil, &FormatError{File: name, Field: "ids", Offset: int64(len(data)),
				Msg: fmt.Sprintf("truncated: header says %d tokens, file holds %d", h.Count, n)}
		}
		return nil, &FormatError{File: name, Field: "ids", Offset: int64(h.DataOffset) + int64(h.Count)*w,
			Msg: fmt.Sprintf("trailing garbage: %d bytes after the %d tokens the header counts", (uint64(n)-h.Count)*uint64(w), h.Count)}
	}
	s.n, s.body = n, body
	return s, nil
}

// parseIndex reads and checks the seek index of a zstd shard.
func (s *Shard) parseIndex() error {
	h, data, name := &s.Header, s.data, s.name
	ferr := func(off int64, format string, a ...any) error {
		return &FormatError{File: name, Field: "seek index", Offset: off, Msg: fmt.Sprintf(format, a...)}
	}
	size := int64(len(data))
	if size < int64(h.DataOffset)+8+indexFooter {
		return ferr(size, "truncated: no room for the seek index after the header")
	}
	foot := data[size-indexFooter:]
	if string(foot[12:]) != indexMagic {
		return ferr(size-8, "missing index magic %q at the end of the file (truncated or trailing garbage)", indexMagic)
	}
	total := binary.LittleEndian.Uint64(foot)
	nf := int64(binary.LittleEndian.Uint32(foot[8:]))
	ixStart := size - indexFooter - 8*nf - 8
	if ixStart < int64(h.DataOffset) {
		return ferr(size-12, "%d frames do not fit in the file", nf)
	}
	if binary.LittleEndian.Uint32(data[ixStart:]) != skippableMagic ||
		int64(binary.LittleEndian.Uint32(data[ixStart+4:])) != 8*nf+indexFooter {
		return ferr(ixStart, "bad skippable frame header")
	}
	if h.Count != CountUntilEOF && h.Count != total {
		return ferr(size-indexFooter, "index counts %d tokens, header %d", total, h.Count)
	}
	s.frameOff = make([]int64, nf+1)
	off := int64(h.DataOffset)
	var tokens uint64
	for i := int64(0); i < nf; i++ {
		e := data[ixStart+8+8*i:]
		csize := int64(binary.LittleEndian.Uint32(e))
		nt := int(binary.LittleEndian.Uint32(e[4:]))
		if csize == 0 || nt < 1 || nt > h.FrameTokens || (nt != h.FrameTokens && i != nf-1) {
			return ferr(ixStart+8+8*i, "frame %d: %d bytes, %d tokens (frames hold %d tokens, the last 1..%[4]d)", i, csize, nt, h.FrameTokens)
		}
		s.frameOff[i] = off
		off += csize
		tokens += uint64(nt)
		if off > ixStart {
			return ferr(ixStart+8+8*i, "frame %d runs past the seek index", i)
		}
	}
	s.frameOff[nf] = off
	if off != ixStart {
		return ferr(off, "%d bytes between the last frame and the seek index (truncated or garbage)", ixStart-off)
	}
	if tokens != total {
		return ferr(size-indexFooter, "frames hold %d tokens, index total says %d", tokens, total)
	}
	s.n = int64(total)
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(h.FrameTokens*h.Width)+1<<10))
	if err != nil {
		return err
	}
	s.dec = dec
	return nil
}

// Name returns the file name the shard was opened with.
func (s *Shard) Name() string { return s.name }

// Len returns the number of tokens in the shard.
func (s *Shard) Len() int64 { return s.n }

// Window appends the ids at positions [i, i+n) to dst. It fails if the
// window is not inside the shard or an id in it is >= the vocab size (a
// FormatError naming the file and position).
func (s *Shard) Window(dst []uint32, i int64, n int) ([]uint32, error) {
	if i < 0 || n < 0 || i > s.n || int64(n) > s.n-i {
		return dst, fmt.Errorf("%s: window [%d, %d) is outside the shard's %d tokens", s.name, i, i+int64(n), s.n)
	}
	start, pos := len(dst), i
	if s.dec == nil {
		dst = appendIDs(dst, s.body[i*int64(s.Header.Width):], n, s.Header.Width)
	} else {
		ft := int64(s.Header.FrameTokens)
		for n > 0 {
			f := int(i / ft)
			raw, err := s.frame(f)
			if err != nil {
				return dst, err
			}
			off := int(i - int64(f)*ft)
			k := min(n, len(raw)/s.Header.Width-off)
			dst = appendIDs(dst, raw[off*s.Header.Width:], k, s.Header.Width)
			i += int64(k)
			n -= k
		}
	}
	return dst, s.check(dst[start:], pos)
}

// check validates ids read from position pos.
func (s *Shard) check(ids []uint32, pos int64) error {
	v := uint32(s.Header.Vocab - 1)
	for j, id := range ids {
		if id > v {
			p := pos + int64(j)
			off := int64(s.Header.DataOffset) + p*int64(s.Header.Width)
			if s.dec != nil {
				off = -1
			}
			return &FormatError{File: s.name, Field: "ids", Offset: off,
				Msg: fmt.Sprintf("token %d is id %d, beyond the vocab size %d", p, id, s.Header.Vocab)}
		}
	}
	return nil
}

func appendIDs(dst []uint32, b []byte, n, width int) []uint32 {
	if width == 2 {
		b = b[:2*n]
		for j := 0; j < len(b); j += 2 {
			dst = append(dst, uint32(b[j])|uint32(b[j+1])<<8)
		}
		return dst
	}
	b = b[:4*n]
	for j := 0; j < len(b); j += 4 {
		dst = append(dst, binary.LittleEndian.Uint32(b[j:]))
	}
	return dst
}

// frame returns the decoded bytes of zstd frame f, caching the last one.
func (s *Shard) frame(f int) ([]byte, error) {
	s.mu.Lock()
	if s.cacheIdx == f {
		c := s.cache
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	want := s.Header.FrameTokens
	if f == len(s.frameOff)-2 {
		want = int(s.n - int64(f)*int64(s.Header.FrameTokens))
	}
	want *= s.Header.Width
	raw, err := s.dec.DecodeAll(s.data[s.frameOff[f]:s.frameOff[f+1]], make([]byte, 0, want))
	if err != nil {
		return nil, &FormatError{File: s.name, Field: "zstd frame", Offset: s.frameOff[f], Msg: fmt.Sprintf("frame %d: %v", f, err)}
	}
	if len(raw) != want {
		return nil, &FormatError{File: s.name, Field: "zstd frame", Offset: s.frameOff[f],
			Msg: fmt.Sprintf("frame %d decodes to %d bytes, the index says %d", f, len(raw), want)}
	}
	s.mu.Lock()
	s.cacheIdx, s.cache = f, raw
	s.mu.Unlock()
	return raw, nil
}

// Validate reads every id and checks it against the vocab size (and, for
// zstd shards, decodes every frame).
func (s *Shard) Validate() error {
	var buf []uint32
	const step = 1 << 16
	for i := int64(0); i < s.n; i += step {
		var err error
		if buf, err = s.Window(buf[:0], i, int(min(step, s.n-i))); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file mapping. The shard must not be used afterwards.
func (s *Shard) Close() error {
	if s.dec != nil {
		s.dec.Close()
	}
	if s.unmap != nil {
		err := s.unmap()
		s.unmap, s.data, s.body = nil, nil, nil
		return err
	}
	return nil
}

// mapFile maps the file at path read-only.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := fi.Size()
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	return mmap(f, int(size))
}
