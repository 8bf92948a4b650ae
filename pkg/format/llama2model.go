package format

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Llama2Header is the 28-byte header of a llama2.c model file ("legacy"
// version 0 export, read by run.c): seven little-endian int32. The layout is
// specified in docs/formats/llama2-model.md.
type Llama2Header struct {
	Dim       int // model width D
	HiddenDim int // SwiGLU width H
	NLayers   int
	NHeads    int
	NKVHeads  int
	VocabSize int // |vocab_size| as stored
	SeqLen    int
	// SharedClassifier is true when the stored vocab_size is positive: the
	// classifier is the token embedding and no wcls follows.
	SharedClassifier bool
}

// Llama2HeaderSize is the size in bytes of the header.
const Llama2HeaderSize = 7 * 4

// HeadDim is the per-head width Dim / NHeads (the format has no other).
func (h Llama2Header) HeadDim() int { return h.Dim / h.NHeads }

// Validate checks that h describes a model run.c could run.
func (h Llama2Header) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"dim", h.Dim}, {"hidden_dim", h.HiddenDim}, {"n_layers", h.NLayers}, {"n_heads", h.NHeads},
		{"n_kv_heads", h.NKVHeads}, {"vocab_size", h.VocabSize}, {"seq_len", h.SeqLen}} {
		if f.v <= 0 {
			return fmt.Errorf("header field %s = %d, want a positive number", f.name, f.v)
		}
	}
	if h.NKVHeads > h.NHeads || h.NHeads%h.NKVHeads != 0 {
		return fmt.Errorf("header field n_kv_heads = %d does not divide n_heads = %d", h.NKVHeads, h.NHeads)
	}
	if h.Dim%h.NHeads != 0 {
		return fmt.Errorf("header field dim = %d is not divisible by n_heads = %d", h.Dim, h.NHeads)
	}
	if h.HeadDim()%2 != 0 {
		return fmt.Errorf("header fields dim/n_heads = %d/%d give an odd head size %d (RoPE needs pairs)",
			h.Dim, h.NHeads, h.HeadDim())
	}
	return nil
}

// Llama2Model is the content of a llama2.c model file: the header and every
// weight as float32, row-major, per-layer tensors stacked along a leading
// layer axis. Matrices are [out][in] (y = W·x). The RoPE tables the format
// carries after rms_final are not kept: they are a function of the header
// (run.c ignores them too), and the writer regenerates them.
type Llama2Model struct {
	Llama2Header
	TokenEmbedding []float32 // [VocabSize, Dim]
	RMSAtt         []float32 // [NLayers, Dim]
	Wq             []float32 // [NLayers, NHeads*HeadDim, Dim]
	Wk             []float32 // [NLayers, NKVHeads*HeadDim, Dim]
	Wv             []float32 // [NLayers, NKVHeads*HeadDim, Dim]
	Wo             []float32 // [NLayers, Dim, NHeads*HeadDim]
	RMSFFN         []float32 // [NLayers, Dim]
	W1             []float32 // [NLayers, HiddenDim, Dim]
	W2             []float32 // [NLayers, Dim, HiddenDim]
	W3             []float32 // [NLayers, HiddenDim, Dim]
	RMSFinal       []float32 // [Dim]
	Classifier     []float32 // [VocabSize, Dim]; nil when SharedClassifier
}

// llama2Section is one array of the file, in file order.
type llama2Section struct {
	name string
	n    int64            // float32 count
	dst  *[]float32       // nil: skipped on read (freq_cis)
	gen  func() []float32 // writer's source for skipped sections
}

func (m *Llama2Model) sections() []llama2Section {
	h := m.Llama2Header
	d, hd, l := int64(h.Dim), int64(h.HiddenDim), int64(h.NLayers)
	v, s, kd := int64(h.VocabSize), int64(h.SeqLen), int64(h.HeadDim())
	q, kv := int64(h.NHeads)*kd, int64(h.NKVHeads)*kd
	l, q, kv = max(l, 0), max(q, 0), max(kv, 0)
	n := func(xs ...int64) int64 { return satMul(xs...) }
	secs := []llama2Section{
		{name: "token_embedding", n: n(v, d), dst: &m.TokenEmbedding},
		{name: "rms_att", n: n(l, d), dst: &m.RMSAtt},
		{name: "wq", n: n(l, q, d), dst: &m.Wq},
		{name: "wk", n: n(l, kv, d), dst: &m.Wk},
		{name: "wv", n: n(l, kv, d), dst: &m.Wv},
		{name: "wo", n: n(l, d, q), dst: &m.Wo},
		{name: "rms_ffn", n: n(l, d), dst: &m.RMSFFN},
		{name: "w1", n: n(l, hd, d), dst: &m.W1},
		{name: "w2", n: n(l, d, hd), dst: &m.W2},
		{name: "w3", n: n(l, hd, d), dst: &m.W3},
		{name: "rms_final", n: n(d), dst: &m.RMSFinal},
		{name: "freq_cis_real", n: n(s, kd/2), gen: func() []float32 { return m.freqCis(math.Cos) }},
		{name: "freq_cis_imag", n: n(s, kd/2), gen: func() []float32 { return m.freqCis(math.Sin) }},
	}
	if !h.SharedClassifier {
		secs = append(secs, llama2Section{name: "wcls", n: n(v, d), dst: &m.Classifier})
	}
	return secs
}

// satMul multiplies non-negative counts, saturating at 1<<56 so that sums of
// a few dozen such products (times 4 bytes) cannot overflow an int64.
func satMul(xs ...int64) int64 {
	const limit = 1 << 56
	p := int64(1)
	for _, x := range xs {
		if x < 0 {
			return limit
		}
		if x != 0 && p > limit/x {
			return limit
		}
		p *= x
	}
	return min(p, limit)
}

// freqCis is the legacy RoPE table [SeqLen, HeadDim/2] with θ = 10000, as
// llama2.c's export writes it.
func (m *Llama2Model) freqCis(f func(float64) float64) []float32 {
	hd := m.HeadDim()
	out := make([]float32, m.SeqLen*hd/2)
	for p := 0; p < m.SeqLen; p++ {
		for i := 0; i < hd/2; i++ {
			freq := 1 / math.Pow(10000, float64(2*i)/float64(hd))
			out[p*hd/2+i] = float32(f(float64(p) * freq))
		}
	}
	return out
}

// Size returns the exact file size in bytes the header implies.
func (h Llama2Header) Size() int64 {
	m := Llama2Model{Llama2Header: h}
	n := int64(Llama2HeaderSize)
	for _, s := range m.sections() {
		n += 4 * s.n
	}
	return n
}

// ReadLlama2Model reads the llama2.c model file at path.
func ReadLlama2Model(path string) (*Llama2Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return DecodeLlama2Model(f, st.Size(), path)
}

// DecodeLlama2Model reads a llama2.c model of exactly size bytes from r;
// name is used in errors. It validates the header and checks that size is
// exactly what the header implies before allocating anything, and rejects
// non-finite weights.
func DecodeLlama2Model(r io.Reader, size int64, name string) (*Llama2Model, error) {
	fail := func(format string, a ...any) (*Llama2Model, error) {
		return nil, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...))
	}
	var hb [Llama2HeaderSize]byte
	if size < Llama2HeaderSize {
		return fail("file is %d bytes, shorter than the %d-byte header", size, Llama2HeaderSize)
	}
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return fail("reading header: %v", err)
	}
	var f [7]int32
	for i := range f {
		f[i] = int32(binary.LittleEndian.Uint32(hb[4*i:]))
	}
	h := Llama2Header{Dim: int(f[0]), HiddenDim: int(f[1]), NLayers: int(f[2]), NHeads: int(f[3]),
		NKVHeads: int(f[4]), VocabSize: int(f[5]), SeqLen: int(f[6]), SharedClassifier: f[5] > 0}
	if h.VocabSize < 0 {
		h.VocabSize = -h.VocabSize
	}
	if err := h.Validate(); err != nil {
		return fail("%v", err)
	}
	m := &Llama2Model{Llama2Header: h}
	secs := m.sections()
	// Sizes first: every count is a product of int32s, so int64 holds it.
	off := int64(Llama2HeaderSize)
	for _, s := range secs {
		if off+4*s.n > size {
			return fail("truncated in %s: file is %d bytes, the header implies %d", s.name, size, h.Size())
		}
		off += 4 * s.n
	}
	if off != size {
		return fail("%d bytes of trailing garbage after the last array (%s): file is %d bytes, the header implies %d",
			size-off, secs[len(secs)-1].name, size, off)
	}
	if size > math.MaxInt {
		return fail("file of %d bytes is too large for this platform", size)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	var buf [4096]byte
	for _, s := range secs {
		var dst []float32
		if s.dst != nil {
			dst = make([]float32, s.n)
			*s.dst = dst
		}
		for i := int64(0); i < s.n; {
			k := min(int64(len(buf)/4), s.n-i)
			if _, err := io.ReadFull(br, buf[:4*k]); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fail("reading %s: %v", s.name, err)
			}
			if dst != nil {
				for j := int64(0); j < k; j++ {
					v := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						return fail("%s[%d] is %v; weights must be finite", s.name, i+j, v)
					}
					dst[i+j] = v
				}
			}
			i += k
		}
	}
	return m, nil
}

// Encode writes m in the llama2.c format. The RoPE tables are generated
// with θ = 10000 (run.c does not read them).
func (m *Llama2Model) Encode(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.SharedClassifier != (m.Classifier == nil) {
		return errors.New("llama2 model: Classifier must be nil exactly when SharedClassifier")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	vocab := int32(m.VocabSize)
	if !m.SharedClassifier {
		vocab = -vocab
	}
	var hb [Llama2HeaderSize]byte
	for i, v := range []int32{int32(m.Dim), int32(m.HiddenDim), int32(m.NLayers), int32(m.NHeads),
		int32(m.NKVHeads), vocab, int32(m.SeqLen)} {
		binary.LittleEndian.PutUint32(hb[4*i:], uint32(v))
	}
	if _, err := bw.Write(hb[:]); err != nil {
		return err
	}
	var b [4]byte
	for _, s := range m.sections() {
		var src []float32
		if s.dst != nil {
			src = *s.dst
		} else {
			src = s.gen()
		}
		if int64(len(src)) != s.n {
			return fmt.Errorf("llama2 model: %s has %d values, the header implies %d", s.name, len(src), s.n)
		}
		for _, v := range src {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			if _, err := bw.Write(b[:]); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// WriteLlama2Model writes m to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func WriteLlama2Model(path string, m *Llama2Model) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = m.Encode(tmp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
