package bpe

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"sort"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the size of the vocabulary to learn, special tokens
	// included: the result has VocabSize-len(Specials) ranks (256 single
	// bytes, then one per merge) and the specials after them. It must leave
	// room for the 256 byte tokens.
	VocabSize int

	// Specials are the special tokens, given ids after the ranks in order.
	// nil means DefaultSpecials (<|bos|>, <|eos|>); an empty non-nil slice
	// means none.
	Specials []string

	// MinFrequency: a pair seen fewer times than this (counting each
	// occurrence in the corpus) is never merged; values below 2 mean 2, as
	// merging a pair seen once learns nothing. When no pair is frequent
	// enough, training stops early with a smaller vocabulary.
	MinFrequency int

	// Progress, if not nil, is called after each merge with the number of
	// merges done and the number planned.
	Progress func(merges, total int)
}

// Train learns a byte-level BPE vocabulary from corpus.
//
// The corpus is cut into pieces by the cl100k_base pre-tokenizer, so no
// token spans two pieces, and each distinct piece is counted once. Ranks 0
// to 255 are the single bytes in byte order (tiktoken needs every byte to be
// a token). Then, repeatedly, the most frequent adjacent pair of tokens
// within pieces is merged into a new token with the next rank; a tie goes to
// the pair whose left token has the lowest rank, then the right. If the
// bytes of a merged pair are already a token (reached by another pair), the
// existing token is used and no rank is added. The result depends only on
// the corpus and the options: the same corpus gives the same file.
//
// The tokenizer encodes with tiktoken's rules, so the vocabulary written by
// WriteTiktoken works with any tiktoken implementation (with the cl100k_base
// pattern). Its identity is "tiktoken:custom:<hash>", as for LoadTiktokenFile.
func Train(corpus io.Reader, opts TrainOptions) (*TiktokenBPE, error) {
	specials := opts.Specials
	if specials == nil {
		specials = DefaultSpecials
	}
	nranks := opts.VocabSize - len(specials)
	if nranks < 256 {
		return nil, fmt.Errorf("bpe: train: vocabulary size %d leaves %d ranks after %d special tokens; at least 256 (one per byte) are needed",
			opts.VocabSize, nranks, len(specials))
	}
	if nranks > 1<<30 {
		return nil, fmt.Errorf("bpe: train: vocabulary size %d is too large", opts.VocabSize)
	}
	minFreq := int64(opts.MinFrequency)
	if minFreq < 2 {
		minFreq = 2
	}
	counts, err := trainCountPieces(corpus)
	if err != nil {
		return nil, err
	}
	if len(counts) == 0 {
		return nil, errTrainEmpty
	}
	tokens := trainMerge(counts, nranks, minFreq, opts.Progress)
	t, err := newCustomTiktoken(tokens, specials)
	if err != nil {
		return nil, fmt.Errorf("bpe: train: %v", err)
	}
	return t, nil
}

// trainCountPieces pre-tokenizes corpus block by block, cutting blocks
// where pre-tokenization cannot merge across (see SplitPoint), and counts
// each distinct piece.
func trainCountPieces(r io.Reader) (map[string]int64, error) {
	block := trainBlock
	counts := make(map[string]int64)
	buf := make([]byte, 0, 2*block)
	eof := false
	for !eof {
		if cap(buf)-len(buf) < block {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadFull(r, buf[len(buf):len(buf)+block])
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return nil, fmt.Errorf("bpe: train: reading corpus: %v", err)
		}
		end := len(buf)
		if !eof {
			end = tiktokenSplitPoint(buf, false)
		}
		for i := 0; i < end; {
			e := pretokCL100K(buf[:end], i)
			counts[string(buf[i:e])]++
			i = e
		}
		buf = buf[:copy(buf, buf[end:])]
	}
	return counts, nil
}

// trainBlock is the size of the corpus reads (a variable for tests).
var trainBlock = 1 << 20

// trainWord is a distinct piece as a sequence of token ids, with its count.
type trainWord struct {
	syms  []uint32
	count int64
}

func trainPairKey(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

// trainEntry is a heap entry: a pair and its count when pushed. An entry
// is stale when the pair's count has changed since.
type trainEntry struct {
	count int64
	pair  uint64
}

type trainHeap []trainEntry

func (h trainHeap) Len() int { return len(h) }
func (h trainHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair
}
func (h trainHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *trainHeap) Push(x any)   { *h = append(*h, x.(trainEntry)) }
func (h *trainHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// trainMerge learns merges until there are nranks tokens or no pair is
// seen minFreq times, and returns the tokens by rank.
//
// Pair counts are kept up to date incrementally: a merge touches only the
// words that contain the pair (found through an index from pair to words),
// and each touched word's pairs are subtracted before and added after it
// changes. The heap holds (count, pair) entries; stale ones are skipped.
func trainMerge(counts map[string]int64, nranks int, minFreq int64, progress func(int, int)) [][]byte {
	pieces := make([]string, 0, len(counts))
	for p := range counts {
		pieces = append(pieces, p)
	}
	sort.Strings(pieces)
	words := make([]trainWord, len(pieces))
	for i, p := range pieces {
		syms := make([]uint32, len(p))
		for j := 0; j < len(p); j++ {
			syms[j] = uint32(p[j])
		}
		words[i] = trainWord{syms, counts[p]}
	}

	tokens := make([][]byte, 256, nranks)
	ids := make(map[string]uint32, nranks)
	for b := 0; b < 256; b++ {
		tokens[b] = []byte{byte(b)}
		ids[string(tokens[b])] = uint32(b)
	}

	pairCount := make(map[uint64]int64)
	pairWords := make(map[uint64][]int32)
	addIndex := func(k uint64, wi int32) {
		l := pairWords[k]
		if n := len(l); n == 0 || l[n-1] != wi {
			pairWords[k] = append(l, wi)
		}
	}
	for wi, w := range words {
		for j := 0; j+1 < len(w.syms); j++ {
			k := trainPairKey(w.syms[j], w.syms[j+1])
			pairCount[k] += w.count
			addIndex(k, int32(wi))
		}
	}
	h := make(trainHeap, 0, len(pairCount))
	for k, c := range pairCount {
		h = append(h, trainEntry{c, k})
	}
	heap.Init(&h)

	total := nranks - 256
	delta := make(map[uint64]int64)
	for len(tokens) < nranks && h.Len() > 0 {
		e := heap.Pop(&h).(trainEntry)
		if pairCount[e.pair] != e.count || e.count == 0 {
			continue
		}
		if e.count < minFreq {
			break
		}
		a, b := uint32(e.pair>>32), uint32(e.pair)
		merged := append(append(make([]byte, 0, len(tokens[a])+len(tokens[b])), tokens[a]...), tokens[b]...)
		z, ok := ids[string(merged)]
		if !ok {
			z = uint32(len(tokens))
			tokens = append(tokens, merged)
			ids[string(merged)] = z
		}
		clear(delta)
		for _, wi := range pairWords[e.pair] {
			w := &words[wi]
			if !trainHasPair(w.syms, a, b) {
				continue // stale index entry
			}
			for j := 0; j+1 < len(w.syms); j++ {
				delta[trainPairKey(w.syms[j], w.syms[j+1])] -= w.count
			}
			w.syms = trainMergeWord(w.syms, a, b, z)
			for j := 0; j+1 < len(w.syms); j++ {
				k := trainPairKey(w.syms[j], w.syms[j+1])
				delta[k] += w.count
				if w.syms[j] == z || w.syms[j+1] == z {
					addIndex(k, wi)
				}
			}
		}
		delete(pairWords, e.pair)
		for k, d := range delta {
			if d == 0 {
				continue
			}
			c := pairCount[k] + d
			if c == 0 {
				delete(pairCount, k)
				continue
			}
			pairCount[k] = c
			heap.Push(&h, trainEntry{c, k})
		}
		if progress != nil {
			progress(len(tokens)-256, total)
		}
	}
	return tokens
}

func trainHasPair(s []uint32, a, b uint32) bool {
	for j := 0; j+1 < len(s); j++ {
		if s[j] == a && s[j+1] == b {
			return true
		}
	}
	return false
}

// trainMergeWord replaces, left to right, each non-overlapping occurrence
// of (a, b) in s by z, in place.
func trainMergeWord(s []uint32, a, b, z uint32) []uint32 {
	out := s[:0]
	for j := 0; j < len(s); j++ {
		if j+1 < len(s) && s[j] == a && s[j+1] == b {
			out = append(out, z)
			j++
			continue
		}
		out = append(out, s[j])
	}
	return out
}

var errTrainEmpty = errors.New("bpe: train: empty corpus")
