package bpe

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
)

// Byte pair merging, as tiktoken does it: start from single bytes; while
// some adjacent pair of parts forms a token, merge the pair whose token has
// the lowest rank (the leftmost such pair on a tie). The result is the same
// as tiktoken's _byte_pair_merge for every piece.

const tkNoRank = ^uint32(0)

// tkShortPiece is the longest piece merged by the quadratic scan; longer
// pieces use a heap.
const tkShortPiece = 64

// tkMaxPacked is the longest token kept in the packed-key table; longer
// tokens are in a Go map.
const tkMaxPacked = 15

// tkPack8 packs up to 8 bytes little-endian into a uint64.
func tkPack8(b []byte) uint64 {
	n := len(b)
	switch {
	case n >= 8:
		return binary.LittleEndian.Uint64(b)
	case n >= 4:
		// two overlapping 4-byte loads; the shared bytes agree
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<(8*(n-4))
	}
	var k uint64
	for i := n - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	return k
}

// tkKey packs a token of 1..15 bytes and its length into two words; hi is
// never 0.
func tkKey(b []byte) (lo, hi uint64) {
	n := len(b)
	if n <= 8 {
		return tkPack8(b), uint64(n) << 56
	}
	return binary.LittleEndian.Uint64(b), tkPack8(b[8:]) | uint64(n)<<56
}

// tkTable maps the tokens of at most tkMaxPacked bytes to their ranks:
// open addressing with linear probing on packed keys, no allocation or
// byte comparison per lookup.
type tkTable struct {
	shift uint
	slots []tkSlot
}

type tkSlot struct {
	lo, hi uint64
	rank   uint32
}

func newTkTable(n int) tkTable {
	bits := uint(4)
	for 1<<bits < 2*n {
		bits++
	}
	return tkTable{shift: 64 - bits, slots: make([]tkSlot, 1<<bits)}
}

func tkHash(lo, hi uint64) uint64 {
	return (lo ^ (hi * 0xC2B2AE3D27D4EB4F)) * 0x9E3779B97F4A7C15
}

func (h *tkTable) insert(lo, hi uint64, rank uint32) {
	mask := uint64(len(h.slots) - 1)
	for i := tkHash(lo, hi) >> h.shift; ; i = (i + 1) & mask {
		if h.slots[i].hi == 0 {
			h.slots[i] = tkSlot{lo, hi, rank}
			return
		}
	}
}

func (h *tkTable) lookup(lo, hi uint64) uint32 {
	mask := uint64(len(h.slots) - 1)
	for i := tkHash(lo, hi) >> h.shift; ; i = (i + 1) & mask {
		s := &h.slots[i]
		if s.hi == hi && s.lo == lo {
			return s.rank
		}
		if s.hi == 0 {
			return tkNoRank
		}
	}
}

// rank returns the rank of token b, or tkNoRank.
func (t *TiktokenBPE) rank(b []byte) uint32 {
	if len(b) <= tkMaxPacked {
		if len(b) == 2 {
			return t.pairRank[uint16(b[0])<<8|uint16(b[1])]
		}
		return t.short.lookup(tkKey(b))
	}
	if len(b) > t.maxLen {
		return tkNoRank
	}
	if r, ok := t.ranks[string(b)]; ok {
		return r
	}
	return tkNoRank
}

// The piece cache: recently encoded pieces and their ids, in a small
// two-way set-associative table of atomic pointers to immutable entries.
// Lookups take no lock; a miss encodes the piece and publishes an entry,
// possibly replacing another (a racing writer simply wins). The cache is
// small enough to stay in the CPU caches, unlike the rank tables.
const (
	tkCacheBits     = 14
	tkCacheMaxPiece = 24
)

type tkCacheEntry struct {
	piece string
	ids   []uint32
}

type tkCache struct {
	seed  maphash.Seed
	slots [1 << tkCacheBits]atomic.Pointer[tkCacheEntry]
}

// encodePiece appends the ids of one pre-tokenized piece.
func (t *TiktokenBPE) encodePiece(dst []uint32, p []byte) []uint32 {
	if len(p) == 1 {
		return append(dst, t.byteRank[p[0]])
	}
	if r := t.rank(p); r != tkNoRank {
		return append(dst, r)
	}
	c := t.cache
	if len(p) > tkCacheMaxPiece || c == nil {
		return t.merge(dst, p)
	}
	// Only pieces that need merging are cached.
	h := maphash.Bytes(c.seed, p)
	i := h & (1<<tkCacheBits - 1)
	if e := c.slots[i].Load(); e != nil && e.piece == string(p) {
		return append(dst, e.ids...)
	}
	j := i ^ 1
	if e := c.slots[j].Load(); e != nil && e.piece == string(p) {
		return append(dst, e.ids...)
	}
	n := len(dst)
	dst = t.merge(dst, p)
	e := &tkCacheEntry{piece: string(p), ids: append([]uint32(nil), dst[n:]...)}
	if h>>63 == 0 {
		i = j
	}
	c.slots[i].Store(e)
	return dst
}

// merge appends the ids of piece p, of at least 2 bytes and not a token.
func (t *TiktokenBPE) merge(dst []uint32, p []byte) []uint32 {
	if len(p) <= tkShortPiece {
		return t.mergeShort(dst, p)
	}
	return t.mergeLong(dst, p)
}

// mergeShort is tiktoken's quadratic merge loop on stack arrays.
func (t *TiktokenBPE) mergeShort(dst []uint32, p []byte) []uint32 {
	var start [tkShortPiece + 1]int32
	var rank [tkShortPiece + 1]uint32
	n := len(p) // parts 0..n-1 plus the end boundary at index n
	for i := 0; i < n; i++ {
		start[i] = int32(i)
	}
	start[n] = int32(n)
	for i := 0; i < n-1; i++ {
		rank[i] = t.rank(p[i : i+2])
	}
	rank[n-1] = tkNoRank
	for n > 1 {
		m, best := -1, tkNoRank
		for i := 0; i < n-1; i++ {
			if rank[i] < best {
				best, m = rank[i], i
			}
		}
		if m < 0 {
			break
		}
		// merge part m+1 into part m
		copy(start[m+1:n], start[m+2:n+1])
		copy(rank[m+1:n-1], rank[m+2:n])
		n--
		if m+1 < n {
			rank[m] = t.rank(p[start[m]:start[m+2]])
		} else {
			rank[m] = tkNoRank
		}
		if m > 0 {
			rank[m-1] = t.rank(p[start[m-1]:start[m+1]])
		}
	}
	for i := 0; i < n; i++ {
		dst = append(dst, t.rank(p[start[i]:start[i+1]]))
	}
	return dst
}

// tkPair is a candidate merge of the part starting at pos with the part
// after it; end is where that next part ends.
type tkPair struct {
	rank     uint32
	pos, end int32
}

// tkPairHeap is a binary min-heap of candidate merges ordered by (rank,
// position), typed to avoid the boxing of container/heap.
type tkPairHeap []tkPair

func (h tkPairHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h tkPairHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *tkPairHeap) push(p tkPair) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *tkPairHeap) pop() tkPair {
	s := *h
	top := s[0]
	s[0] = s[len(s)-1]
	*h = s[:len(s)-1]
	h.down(0)
	return top
}

// mergeLong gives the same result as mergeShort in O(n log n): the parts
// form a linked list by start offset and candidate pairs sit in a heap
// ordered by (rank, position), so the minimum is the pair the quadratic
// scan would pick. Stale candidates are recognised and dropped.
func (t *TiktokenBPE) mergeLong(dst []uint32, p []byte) []uint32 {
	n := int32(len(p))
	next := make([]int32, n+1) // next[i] = start of the part after the part at i
	prev := make([]int32, n+1)
	alive := make([]bool, n+1)
	for i := int32(0); i <= n; i++ {
		next[i], prev[i], alive[i] = i+1, i-1, true
	}
	h := make(tkPairHeap, 0, n)
	for i := int32(0); i+1 < n; i++ {
		if r := t.rank(p[i : i+2]); r != tkNoRank {
			h = append(h, tkPair{r, i, i + 2})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 0 {
		c := h.pop()
		if !alive[c.pos] || next[c.pos] >= n || next[next[c.pos]] != c.end {
			continue // one of the two parts has changed since c was pushed
		}
		// merge the part after c.pos into c.pos
		gone := next[c.pos]
		alive[gone] = false
		next[c.pos] = c.end
		prev[c.end] = c.pos
		if c.end < n {
			if r := t.rank(p[c.pos:next[c.end]]); r != tkNoRank {
				h.push(tkPair{r, c.pos, next[c.end]})
			}
		}
		if c.pos > 0 {
			q := prev[c.pos]
			if r := t.rank(p[q:c.end]); r != tkNoRank {
				h.push(tkPair{r, q, c.end})
			}
		}
	}
	for i := int32(0); i < n; i = next[i] {
		dst = append(dst, t.rank(p[i:next[i]]))
	}
	return dst
}
