package bpe

import "container/heap"

// Byte pair merging, as tiktoken does it: start from single bytes; while
// some adjacent pair of parts forms a token, merge the pair whose token has
// the lowest rank (the leftmost such pair on a tie). The result is the same
// as tiktoken's _byte_pair_merge for every piece.

const tkNoRank = ^uint32(0)

// tkShortPiece is the longest piece merged by the quadratic scan; longer
// pieces use a heap.
const tkShortPiece = 64

// rank returns the rank of token b, or tkNoRank.
func (t *TiktokenBPE) rank(b []byte) uint32 {
	if r, ok := t.ranks[string(b)]; ok {
		return r
	}
	return tkNoRank
}

// encodePiece appends the ids of one pre-tokenized piece.
func (t *TiktokenBPE) encodePiece(dst []uint32, p []byte) []uint32 {
	if len(p) == 1 {
		return append(dst, t.byteRank[p[0]])
	}
	if r, ok := t.ranks[string(p)]; ok {
		return append(dst, r)
	}
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
		dst = append(dst, t.ranks[string(p[start[i]:start[i+1]])])
	}
	return dst
}

// tkPair is a candidate merge of the part starting at pos with the part
// after it; end is where that next part ends.
type tkPair struct {
	rank     uint32
	pos, end int32
}

type tkPairHeap []tkPair

func (h tkPairHeap) Len() int { return len(h) }
func (h tkPairHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h tkPairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *tkPairHeap) Push(x any)   { *h = append(*h, x.(tkPair)) }
func (h *tkPairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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
	heap.Init(&h)
	for h.Len() > 0 {
		c := heap.Pop(&h).(tkPair)
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
				heap.Push(&h, tkPair{r, c.pos, next[c.end]})
			}
		}
		if c.pos > 0 {
			q := prev[c.pos]
			if r := t.rank(p[q:c.end]); r != tkNoRank {
				heap.Push(&h, tkPair{r, q, c.end})
			}
		}
	}
	for i := int32(0); i < n; i = next[i] {
		dst = append(dst, t.ranks[string(p[i:next[i]])])
	}
	return dst
}
