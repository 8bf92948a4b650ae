package bpe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
)

// SepMode says how EncodeStream finds document boundaries.
type SepMode int

const (
	// SepNone treats the whole input as one text: it is encoded exactly as
	// Encode(input) would encode it, cut at split points when the tokenizer
	// is a Splitter, and wrapped once in BOS ... EOS.
	SepNone SepMode = iota
	// SepBlank ends a document at one or more blank lines (lines holding
	// only spaces, tabs or a carriage return). A document is its lines
	// joined by "\n", without the final newline.
	SepBlank
	// SepLine makes every line a document, without its "\n" (or "\r\n").
	SepLine
	// SepString separates documents by the literal StreamOptions.Sep.
	SepString
)

// StreamOptions configures EncodeStream. The zero value encodes the whole
// input as one text on all cores.
type StreamOptions struct {
	// Workers is the number of encoding goroutines; <= 0 means
	// runtime.NumCPU().
	Workers int
	// ChunkSize is the target number of input bytes per unit of parallel
	// work; <= 0 means DefaultChunkSize. It bounds memory: at most
	// 2*Workers+5 blocks (text and ids) are in flight; a block grows past
	// ChunkSize only to hold a document (or, in SepNone, a stretch without
	// a split point) longer than that.
	ChunkSize int
	// Mode selects how documents are delimited; Sep is the separator for
	// SepString.
	Mode SepMode
	Sep  string
	// BOS and EOS are prepended and appended to every document (in SepNone
	// mode, to the whole text). Nil means none.
	BOS, EOS []uint32
}

// A Batch is a run of consecutive output ids, handed to the emit function
// of EncodeStream in input order.
type Batch struct {
	// IDs are the token ids. They are valid only during the emit call.
	IDs []uint32
	// Ends holds, in document modes, the end offset in IDs of each document
	// of the batch (documents never straddle batches); it is nil in SepNone
	// mode.
	Ends []int
	// FirstDoc is the index (from 0, over the whole input) of the first
	// document in the batch.
	FirstDoc int64
}

// maxDocument is the longest document EncodeStream accepts in a document
// mode.
const maxDocument = 1 << 30

// EncodeStream reads all of r, encodes it with tok on opts.Workers
// goroutines and calls emit with the ids in input order, one batch at a
// time, never concurrently. The concatenation of all batches equals what a
// single goroutine would produce:
//
//   - SepNone: BOS ++ Encode(input) ++ EOS (nothing at all for an empty
//     input). A tokenizer that is not a Splitter is run on the whole input
//     at once, on one goroutine.
//   - document modes: for each non-empty document d, BOS ++ Encode(d) ++ EOS.
//
// The input is read in blocks of about ChunkSize bytes straight into
// reused buffers; documents are found in place (no copy per document) and
// a batch holds all the whole documents of one block. Buffers and batches
// are recycled once emit returns, so a long stream allocates little.
//
// EncodeStream stops at the first error of r, of emit or of ctx and returns
// it; batches emitted before the error stay emitted. When emit fails or ctx
// is cancelled it returns at once, even if r is blocked in Read: the
// goroutine reading r then ends when that Read returns.
func EncodeStream(ctx context.Context, tok Tokenizer, r io.Reader, opts StreamOptions, emit func(*Batch) error) error {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Mode == SepString && opts.Sep == "" {
		return errors.New("bpe: EncodeStream: empty document separator")
	}
	if opts.Mode < SepNone || opts.Mode > SepString {
		return fmt.Errorf("bpe: EncodeStream: unknown separator mode %d", opts.Mode)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s := &streamer{
		tok:   tok,
		opts:  opts,
		ctx:   ctx,
		jobs:  make(chan *job),
		order: make(chan *job, 2*opts.Workers+2),
	}
	s.split, _ = tok.(Splitter)

	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(s.jobs)
		defer close(s.order)
		switch {
		case opts.Mode == SepNone && s.split != nil:
			readErr = s.produceSplit(r)
		case opts.Mode == SepNone:
			readErr = s.produceWhole(r)
		default:
			readErr = s.produceDocs(r)
		}
	}()
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range s.jobs {
				s.encode(j)
				j.done <- struct{}{}
			}
		}()
	}

	var err error
	for err == nil {
		var j *job
		var ok bool
		select {
		case j, ok = <-s.order:
		case <-ctx.Done():
		}
		if !ok {
			break
		}
		done := false
		select {
		case <-j.done:
			done = true
		case <-ctx.Done():
		}
		if !done {
			break
		}
		err = emit(&j.batch)
		s.recycle(j)
	}
	if err == nil && parent.Err() == nil {
		// All input read and emitted: the goroutines are done or ending.
		wg.Wait()
		return readErr
	}
	// Emit failed or ctx was cancelled: return at once. The producer may be
	// blocked in r.Read; it and the workers end on their own, without
	// calling emit again.
	cancel()
	if err != nil {
		return err
	}
	return parent.Err()
}

// DefaultChunkSize is the ChunkSize used when StreamOptions.ChunkSize is 0:
// large enough that handing a block to a worker costs well under 1% of
// encoding it, small enough that two workers share a 1 MB input evenly.
const DefaultChunkSize = 64 << 10

// A job is one unit of parallel work: a piece of text (SepNone) or a block
// holding whole documents. Jobs and their buffers are recycled through
// jobPool once emitted.
type job struct {
	text     []byte
	spans    []int // document modes: start, end offset in text of each document
	first    bool  // SepNone: the text starts the input
	last     bool  // SepNone: the text ends the input
	firstDoc int64
	ids      []uint32
	ends     []int
	batch    Batch
	done     chan struct{} // receives one value when the job is encoded
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

// maxPooled bounds the buffers a recycled job keeps (a huge document must
// not pin its memory for the rest of the process).
const maxPooled = 16 << 20

type streamer struct {
	tok   Tokenizer
	split Splitter
	opts  StreamOptions
	ctx   context.Context
	jobs  chan *job
	order chan *job
}

func newJob() *job {
	j := jobPool.Get().(*job)
	j.text, j.spans = j.text[:0], j.spans[:0]
	j.first, j.last, j.firstDoc = false, false, 0
	return j
}

// recycle returns an emitted job to the pool.
func (s *streamer) recycle(j *job) {
	j.batch = Batch{}
	if cap(j.text) > maxPooled {
		j.text = nil
	}
	if cap(j.ids) > maxPooled/4 {
		j.ids = nil
	}
	if cap(j.ends) > maxPooled/8 {
		j.ends = nil
		j.spans = nil
	}
	jobPool.Put(j)
}

// send queues j for a worker and for the emitter, in that order of
// registration, so the emitter sees jobs in input order.
func (s *streamer) send(j *job) error {
	select {
	case s.order <- j:
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
	select {
	case s.jobs <- j:
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
	return nil
}

// encode fills j.batch, reusing j's id buffers.
func (s *streamer) encode(j *job) {
	o := &s.opts
	ids := j.ids[:0]
	if o.Mode == SepNone {
		ids = slices.Grow(ids, len(j.text)/3+len(o.BOS)+len(o.EOS)+16)
		if j.first {
			ids = append(ids, o.BOS...)
			ids = s.tok.Encode(ids, j.text)
		} else {
			ids = s.split.EncodeTail(ids, j.text)
		}
		if j.last {
			ids = append(ids, o.EOS...)
		}
		j.ids = ids
		j.batch = Batch{IDs: ids}
		return
	}
	n := len(j.spans) / 2
	ids = slices.Grow(ids, len(j.text)/3+n*(len(o.BOS)+len(o.EOS))+16)
	ends := j.ends[:0]
	for i := 0; i < len(j.spans); i += 2 {
		ids = append(ids, o.BOS...)
		ids = s.tok.Encode(ids, j.text[j.spans[i]:j.spans[i+1]])
		ids = append(ids, o.EOS...)
		ends = append(ends, len(ids))
	}
	j.ids, j.ends = ids, ends
	j.batch = Batch{IDs: ids, Ends: ends, FirstDoc: j.firstDoc}
}

// fill appends input to buf until it holds want bytes or r ends. It
// returns eof = true when r is exhausted.
func fill(r io.Reader, buf []byte, want int) ([]byte, bool, error) {
	buf = slices.Grow(buf, want-len(buf))
	n, err := io.ReadFull(r, buf[len(buf):want])
	buf = buf[:len(buf)+n]
	switch err {
	case nil:
		return buf, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return buf, true, nil
	}
	return buf, false, err
}

// produceSplit cuts the input into chunks of about ChunkSize bytes at the
// tokenizer's split points.
func (s *streamer) produceSplit(r io.Reader) error {
	chunk := s.opts.ChunkSize
	j := newJob()
	j.first = true
	want := chunk
	for {
		var eof bool
		var err error
		j.text, eof, err = fill(r, j.text, want)
		if err != nil {
			return err
		}
		if eof {
			if j.first && len(j.text) == 0 {
				return nil // empty input: no tokens at all
			}
			j.last = true
			return s.send(j)
		}
		sp := s.split.SplitPoint(j.text)
		if sp <= 0 || sp > len(j.text) {
			// No split point yet: read on, doubling the block.
			want = 2 * len(j.text)
			continue
		}
		next := newJob()
		next.text = append(next.text, j.text[sp:]...)
		j.text = j.text[:sp]
		if err := s.send(j); err != nil {
			return err
		}
		j = next
		want = len(j.text) + chunk
	}
}

// produceWhole reads the input whole, for a tokenizer that cannot be split.
func (s *streamer) produceWhole(r io.Reader) error {
	text, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(text) == 0 {
		return nil
	}
	j := newJob()
	j.text, j.first, j.last = text, true, true
	return s.send(j)
}

// produceDocs reads the input in blocks of about ChunkSize bytes, finds the
// documents in each block in place, and sends every block that holds whole
// documents; the unfinished document at its end is carried to the next.
func (s *streamer) produceDocs(r io.Reader) error {
	chunk := s.opts.ChunkSize
	c := docCutter{mode: s.opts.Mode, sep: []byte(s.opts.Sep)}
	c.reset()
	var doc int64
	j := newJob()
	for {
		var eof bool
		var err error
		j.text, eof, err = fill(r, j.text, len(j.text)+chunk)
		if err != nil {
			return err
		}
		j.spans = c.cut(j.text, eof, j.spans)
		if !eof && len(j.text)-c.tail > maxDocument {
			return fmt.Errorf("bpe: document %d is longer than %d bytes", doc+int64(len(j.spans)/2), maxDocument)
		}
		if eof {
			if len(j.spans) == 0 {
				return nil
			}
			j.firstDoc = doc
			return s.send(j)
		}
		if len(j.spans) == 0 {
			// Not one whole document yet: read on into the same block.
			continue
		}
		next := newJob()
		next.text = append(next.text, j.text[c.tail:]...)
		c.shift(c.tail)
		j.firstDoc = doc
		doc += int64(len(j.spans) / 2)
		if err := s.send(j); err != nil {
			return err
		}
		j = next
	}
}

// docCutter finds documents in a growing block of text, resuming where it
// stopped. Offsets are into the block; shift rebases them when the
// unfinished tail moves to the front of a new block.
type docCutter struct {
	mode SepMode
	sep  []byte
	// tail is the start of what is not yet part of a finished document:
	// the unfinished document or, between documents, the current line.
	tail int
	// line is the start of the current, unfinished line (SepLine and
	// SepBlank); next is where the search for the next line end (or
	// separator) resumes.
	line, next int
	// SepBlank: the unfinished document starts at docStart (-1: none) and
	// its content so far ends at docEnd (before the end of its last line);
	// cr says that one of its lines before the last ended in "\r\n".
	docStart, docEnd int
	cr               bool
}

func (c *docCutter) reset() { *c = docCutter{mode: c.mode, sep: c.sep, docStart: -1} }

func (c *docCutter) shift(k int) {
	c.tail -= k
	c.line -= k
	c.next -= k
	if c.docStart >= 0 {
		c.docStart -= k
		c.docEnd -= k
	}
}

// cut appends to spans the start and end offsets of each document that
// text finishes (of all the rest, when eof), as bufio.ScanLines (SepLine,
// SepBlank) or a plain search for the separator (SepString) would find
// them. It may rewrite the bytes of a finished document in place: SepBlank
// joins the lines of a document with "\n", so the "\r" of an inner "\r\n"
// is removed.
func (c *docCutter) cut(text []byte, eof bool, spans []int) []int {
	if c.mode == SepString {
		for {
			i := bytes.Index(text[c.next:], c.sep)
			if i < 0 {
				break
			}
			end := c.next + i
			if end > c.tail {
				spans = append(spans, c.tail, end)
			}
			c.tail = end + len(c.sep)
			c.next = c.tail
		}
		if eof {
			if len(text) > c.tail {
				spans = append(spans, c.tail, len(text))
			}
			c.tail, c.next = len(text), len(text)
			return spans
		}
		c.next = max(c.tail, len(text)-len(c.sep)+1)
		return spans
	}
	for {
		i := bytes.IndexByte(text[c.next:], '\n')
		if i < 0 {
			break
		}
		nl := c.next + i
		spans = c.endLine(text, nl, spans)
		c.line, c.next = nl+1, nl+1
		if c.docStart < 0 {
			c.tail = c.line
		}
	}
	c.next = len(text)
	if eof {
		if len(text) > c.line {
			spans = c.endLine(text, len(text), spans)
		}
		if c.docStart >= 0 {
			spans = c.finish(text, spans)
		}
		c.tail, c.line, c.next = len(text), len(text), len(text)
	}
	return spans
}

// endLine handles the line from c.line to nl (its "\n", or the end of the
// input).
func (c *docCutter) endLine(text []byte, nl int, spans []int) []int {
	start, end := c.line, nl
	if end > start && text[end-1] == '\r' {
		end--
	}
	if c.mode == SepLine {
		if end > start {
			spans = append(spans, start, end)
		}
		return spans
	}
	if isBlank(text[start:end]) {
		if c.docStart >= 0 {
			spans = c.finish(text, spans)
		}
		return spans
	}
	if c.docStart < 0 {
		c.docStart, c.cr = start, false
	} else if text[c.docEnd] == '\r' {
		c.cr = true // the previous line ended in "\r\n"
	}
	c.docEnd = end
	return spans
}

// finish ends the SepBlank document being built.
func (c *docCutter) finish(text []byte, spans []int) []int {
	s, e := c.docStart, c.docEnd
	if c.cr {
		w := s
		for i := s; i < e; i++ {
			if text[i] == '\r' && i+1 < e && text[i+1] == '\n' {
				continue
			}
			text[w] = text[i]
			w++
		}
		e = w
	}
	c.docStart, c.cr = -1, false
	return append(spans, s, e)
}

// isBlank reports whether a line holds only spaces, tabs and carriage
// returns.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
