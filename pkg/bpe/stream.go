package bpe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
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
	// work; <= 0 means 256 KiB. It bounds memory: at most about
	// 2*Workers+2 chunks (text and ids) are in flight.
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
// EncodeStream stops at the first error of r, of emit or of ctx and returns
// it; batches emitted before the error stay emitted. When emit fails or ctx
// is cancelled it returns at once, even if r is blocked in Read: the
// goroutine reading r then ends when that Read returns.
func EncodeStream(ctx context.Context, tok Tokenizer, r io.Reader, opts StreamOptions, emit func(*Batch) error) error {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 256 << 10
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
				j.out <- s.encode(j)
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
		var b *Batch
		select {
		case b = <-j.out:
		case <-ctx.Done():
		}
		if b == nil {
			break
		}
		err = emit(b)
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

// A job is one unit of parallel work: a piece of text (SepNone) or a run of
// whole documents.
type job struct {
	text     []byte
	ends     []int // document modes: end offsets of documents in text
	first    bool  // SepNone: the text starts the input
	last     bool  // SepNone: the text ends the input
	firstDoc int64
	out      chan *Batch
}

type streamer struct {
	tok   Tokenizer
	split Splitter
	opts  StreamOptions
	ctx   context.Context
	jobs  chan *job
	order chan *job
}

// send queues j for a worker and for the emitter, in that order of
// registration, so the emitter sees jobs in input order.
func (s *streamer) send(j *job) error {
	j.out = make(chan *Batch, 1)
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

func (s *streamer) encode(j *job) *Batch {
	o := &s.opts
	if j.ends == nil {
		ids := make([]uint32, 0, len(j.text)/3+len(o.BOS)+len(o.EOS)+16)
		if j.first {
			ids = append(ids, o.BOS...)
			ids = s.tok.Encode(ids, j.text)
		} else {
			ids = s.split.EncodeTail(ids, j.text)
		}
		if j.last {
			ids = append(ids, o.EOS...)
		}
		return &Batch{IDs: ids}
	}
	n := len(j.ends)
	ids := make([]uint32, 0, len(j.text)/3+n*(len(o.BOS)+len(o.EOS))+16)
	ends := make([]int, n)
	start := 0
	for i, end := range j.ends {
		ids = append(ids, o.BOS...)
		ids = s.tok.Encode(ids, j.text[start:end])
		ids = append(ids, o.EOS...)
		ends[i] = len(ids)
		start = end
	}
	return &Batch{IDs: ids, Ends: ends, FirstDoc: j.firstDoc}
}

// produceSplit cuts the input into chunks of about ChunkSize bytes at the
// tokenizer's split points.
func (s *streamer) produceSplit(r io.Reader) error {
	chunk := s.opts.ChunkSize
	limit := chunk
	var carry []byte
	first := true
	for {
		buf := make([]byte, limit)
		n := copy(buf, carry)
		m, err := io.ReadFull(r, buf[n:])
		buf = buf[:n+m]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return err
		}
		if eof {
			if first && len(buf) == 0 {
				return nil // empty input: no tokens at all
			}
			return s.send(&job{text: buf, first: first, last: true})
		}
		sp := s.split.SplitPoint(buf)
		if sp <= 0 || sp > len(buf) {
			// No split point yet: read on with a larger buffer.
			carry = buf
			limit = 2 * len(buf)
			continue
		}
		if err := s.send(&job{text: buf[:sp], first: first}); err != nil {
			return err
		}
		first = false
		carry = buf[sp:]
		limit = len(carry) + chunk
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
	return s.send(&job{text: text, first: true, last: true})
}

// produceDocs cuts the input into documents and groups whole documents into
// jobs of about ChunkSize bytes.
func (s *streamer) produceDocs(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxDocument)
	if s.opts.Mode == SepString {
		sc.Split(splitOn([]byte(s.opts.Sep)))
	} else {
		sc.Split(bufio.ScanLines)
	}
	var (
		cur     = &job{}
		doc     int64
		inBlank bool // SepBlank: cur has an unfinished document
	)
	flush := func() error {
		if len(cur.ends) == 0 {
			return nil
		}
		j := cur
		cur = &job{firstDoc: doc}
		return s.send(j)
	}
	endDoc := func() error {
		cur.ends = append(cur.ends, len(cur.text))
		doc++
		if len(cur.text) >= s.opts.ChunkSize {
			return flush()
		}
		return nil
	}
	for sc.Scan() {
		tok := sc.Bytes()
		if s.opts.Mode == SepBlank {
			if isBlank(tok) {
				if inBlank {
					inBlank = false
					if err := endDoc(); err != nil {
						return err
					}
				}
				continue
			}
			if inBlank {
				cur.text = append(cur.text, '\n')
			}
			inBlank = true
			cur.text = append(cur.text, tok...)
			if len(cur.text)-lastEnd(cur.ends) > maxDocument {
				return fmt.Errorf("bpe: document %d is longer than %d bytes", doc, maxDocument)
			}
			continue
		}
		if len(tok) == 0 {
			continue // empty documents are skipped
		}
		cur.text = append(cur.text, tok...)
		if err := endDoc(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("bpe: document %d is longer than %d bytes", doc, maxDocument)
		}
		return err
	}
	if inBlank {
		if err := endDoc(); err != nil {
			return err
		}
	}
	return flush()
}

func lastEnd(ends []int) int {
	if len(ends) == 0 {
		return 0
	}
	return ends[len(ends)-1]
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

// splitOn returns a bufio.SplitFunc that cuts at every occurrence of sep.
// It remembers how far it has searched, so a long document read in small
// pieces costs linear time.
func splitOn(sep []byte) bufio.SplitFunc {
	searched := 0
	return func(data []byte, atEOF bool) (int, []byte, error) {
		from := max(0, min(searched, len(data))-len(sep)+1)
		if i := bytes.Index(data[from:], sep); i >= 0 {
			searched = 0
			return from + i + len(sep), data[:from+i], nil
		}
		searched = len(data)
		if atEOF {
			searched = 0
			if len(data) == 0 {
				return 0, nil, nil
			}
			return len(data), data, nil
		}
		return 0, nil, nil
	}
}
