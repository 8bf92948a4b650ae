package model

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/anekit/anekit/pkg/format"
)

// Float is the element type of weights: float32 for training and sampling,
// float64 for the reference math.
type Float interface{ ~float32 | ~float64 }

// Weights are a model's parameters. Matrices are row-major [out][in], so a
// projection is y = W·x. The llama-style name of each tensor (as in Meta's
// and llama2.c's checkpoints) is given beside it; Tensors lists them all.
type Weights[T Float] struct {
	TokenEmbedding []T // tok_embeddings.weight [vocab_size, dim]
	Layers         []Layer[T]
	RMSFinal       []T // norm.weight [dim]
	Classifier     []T // output.weight [vocab_size, dim]; nil when tied
}

// Layer holds one transformer block's parameters.
type Layer[T Float] struct {
	RMSAtt []T // layers.N.attention_norm.weight [dim]
	Wq     []T // layers.N.attention.wq.weight [n_heads*head_dim, dim]
	Wk     []T // layers.N.attention.wk.weight [n_kv_heads*head_dim, dim]
	Wv     []T // layers.N.attention.wv.weight [n_kv_heads*head_dim, dim]
	Wo     []T // layers.N.attention.wo.weight [dim, n_heads*head_dim]
	QNorm  []T // layers.N.attention.q_norm.weight [head_dim]; nil unless qk_norm
	KNorm  []T // layers.N.attention.k_norm.weight [head_dim]; nil unless qk_norm
	RMSFFN []T // layers.N.ffn_norm.weight [dim]
	W1     []T // layers.N.feed_forward.w1.weight [hidden_dim, dim] (gate)
	W2     []T // layers.N.feed_forward.w2.weight [dim, hidden_dim] (down)
	W3     []T // layers.N.feed_forward.w3.weight [hidden_dim, dim] (up)
}

// Tensor is one named parameter: a view of the Weights' storage.
type Tensor[T Float] struct {
	Name  string
	Shape []int
	Data  []T
}

// NewWeights allocates zeroed weights of the shapes c gives.
func NewWeights[T Float](c Config) *Weights[T] {
	w := &Weights[T]{Layers: make([]Layer[T], c.NLayers)}
	for _, t := range w.tensors(c, true) {
		*t.ptr = make([]T, t.size())
	}
	return w
}

type tensorRef[T Float] struct {
	name  string
	shape []int
	ptr   *[]T
}

func (t tensorRef[T]) size() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

func (w *Weights[T]) tensors(c Config, alloc bool) []tensorRef[T] {
	d, h, hd := c.Dim, c.HiddenDim, c.HeadDim
	ts := []tensorRef[T]{{"tok_embeddings.weight", []int{c.VocabSize, d}, &w.TokenEmbedding}}
	for i := range w.Layers {
		l := &w.Layers[i]
		p := fmt.Sprintf("layers.%d.", i)
		ts = append(ts,
			tensorRef[T]{p + "attention_norm.weight", []int{d}, &l.RMSAtt},
			tensorRef[T]{p + "attention.wq.weight", []int{c.QDim(), d}, &l.Wq},
			tensorRef[T]{p + "attention.wk.weight", []int{c.KVDim(), d}, &l.Wk},
			tensorRef[T]{p + "attention.wv.weight", []int{c.KVDim(), d}, &l.Wv},
			tensorRef[T]{p + "attention.wo.weight", []int{d, c.QDim()}, &l.Wo})
		if c.QKNorm {
			ts = append(ts,
				tensorRef[T]{p + "attention.q_norm.weight", []int{hd}, &l.QNorm},
				tensorRef[T]{p + "attention.k_norm.weight", []int{hd}, &l.KNorm})
		}
		ts = append(ts,
			tensorRef[T]{p + "ffn_norm.weight", []int{d}, &l.RMSFFN},
			tensorRef[T]{p + "feed_forward.w1.weight", []int{h, d}, &l.W1},
			tensorRef[T]{p + "feed_forward.w2.weight", []int{d, h}, &l.W2},
			tensorRef[T]{p + "feed_forward.w3.weight", []int{h, d}, &l.W3})
	}
	ts = append(ts, tensorRef[T]{"norm.weight", []int{d}, &w.RMSFinal})
	if !c.TiedEmbeddings {
		ts = append(ts, tensorRef[T]{"output.weight", []int{c.VocabSize, d}, &w.Classifier})
	}
	return ts
}

// Tensors lists every parameter of w in a fixed order (embedding, layers in
// order, final norm, classifier) under its llama-style name. The Data
// slices alias w.
func (w *Weights[T]) Tensors(c Config) []Tensor[T] {
	var out []Tensor[T]
	for _, t := range w.tensors(c, false) {
		out = append(out, Tensor[T]{Name: t.name, Shape: t.shape, Data: *t.ptr})
	}
	return out
}

// Check reports the first tensor of w whose length does not match c.
func (w *Weights[T]) Check(c Config) error {
	if len(w.Layers) != c.NLayers {
		return fmt.Errorf("weights have %d layers, config %d", len(w.Layers), c.NLayers)
	}
	for _, t := range w.tensors(c, false) {
		if len(*t.ptr) != t.size() {
			return fmt.Errorf("%s has %d values, want %d (shape %v)", t.name, len(*t.ptr), t.size(), t.shape)
		}
	}
	if c.TiedEmbeddings && w.Classifier != nil {
		return fmt.Errorf("output.weight is set but the config ties the embeddings")
	}
	return nil
}

// ConvertWeights copies src into a new Weights of another element type.
func ConvertWeights[D, S Float](c Config, src *Weights[S]) *Weights[D] {
	dst := NewWeights[D](c)
	st, dt := src.tensors(c, false), dst.tensors(c, false)
	for i := range st {
		for j, v := range *st[i].ptr {
			(*dt[i].ptr)[j] = D(v)
		}
	}
	return dst
}

// RandomWeights fills weights for c from a seeded generator: matrices
// uniform in ±1/√fan_in, norm weights 1, the embedding ±0.02·√3 (so a
// standard deviation of 0.02). It is a starting point for training and
// tests, not a claim about the best initialisation.
func RandomWeights[T Float](c Config, seed int64) *Weights[T] {
	w := NewWeights[T](c)
	rng := rand.New(rand.NewSource(seed))
	for _, t := range w.tensors(c, false) {
		x := *t.ptr
		switch {
		case len(t.shape) == 1:
			for i := range x {
				x[i] = 1
			}
		case t.name == "tok_embeddings.weight":
			for i := range x {
				x[i] = T(0.02 * math.Sqrt(3) * (2*rng.Float64() - 1))
			}
		default:
			s := 1 / math.Sqrt(float64(t.shape[1]))
			for i := range x {
				x[i] = T(s * (2*rng.Float64() - 1))
			}
		}
	}
	return w
}

// FromLlama2 converts a llama2.c model file into a configuration (llama2.c
// semantics: θ = 10000, ε = 1e-5, residual scale 1, no q/k norm) and weights.
func FromLlama2(m *format.Llama2Model, name string) (Config, *Weights[float32], error) {
	c := Config{
		Name: name, Dim: m.Dim, HiddenDim: m.HiddenDim, NLayers: m.NLayers, NHeads: m.NHeads,
		NKVHeads: m.NKVHeads, HeadDim: m.HeadDim(), VocabSize: m.VocabSize, SeqLen: m.SeqLen,
		RopeTheta: DefaultRopeTheta, NormEps: DefaultNormEps, TiedEmbeddings: m.SharedClassifier,
		ResidualScale: "1",
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &Weights[float32]{TokenEmbedding: m.TokenEmbedding, RMSFinal: m.RMSFinal,
		Classifier: m.Classifier, Layers: make([]Layer[float32], c.NLayers)}
	d, h, q, kv := c.Dim, c.HiddenDim, c.QDim(), c.KVDim()
	for i := range w.Layers {
		w.Layers[i] = Layer[float32]{
			RMSAtt: m.RMSAtt[i*d : (i+1)*d],
			Wq:     m.Wq[i*q*d : (i+1)*q*d],
			Wk:     m.Wk[i*kv*d : (i+1)*kv*d],
			Wv:     m.Wv[i*kv*d : (i+1)*kv*d],
			Wo:     m.Wo[i*d*q : (i+1)*d*q],
			RMSFFN: m.RMSFFN[i*d : (i+1)*d],
			W1:     m.W1[i*h*d : (i+1)*h*d],
			W2:     m.W2[i*d*h : (i+1)*d*h],
			W3:     m.W3[i*h*d : (i+1)*h*d],
		}
	}
	if err := w.Check(c); err != nil {
		return Config{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, w, nil
}

// ToLlama2 converts c and w into a llama2.c model file, for run.c. It fails
// for what the format cannot say: q/k norms, a head_dim other than
// dim/n_heads, a RoPE base other than 10000, a residual scale other than 1.
func ToLlama2(c Config, w *Weights[float32]) (*format.Llama2Model, error) {
	switch {
	case c.QKNorm:
		return nil, fmt.Errorf("llama2.c format has no q/k norm (qk_norm: true)")
	case c.HeadDim*c.NHeads != c.Dim:
		return nil, fmt.Errorf("llama2.c format needs head_dim = dim/n_heads, have %d != %d/%d", c.HeadDim, c.Dim, c.NHeads)
	case c.RopeTheta != DefaultRopeTheta:
		return nil, fmt.Errorf("llama2.c run.c uses rope_theta 10000, have %g", c.RopeTheta)
	case c.Alpha() != 1:
		return nil, fmt.Errorf("llama2.c run.c has residual scale 1, have %s", c.ResidualScale)
	}
	if err := w.Check(c); err != nil {
		return nil, err
	}
	m := &format.Llama2Model{Llama2Header: format.Llama2Header{
		Dim: c.Dim, HiddenDim: c.HiddenDim, NLayers: c.NLayers, NHeads: c.NHeads, NKVHeads: c.NKVHeads,
		VocabSize: c.VocabSize, SeqLen: c.SeqLen, SharedClassifier: c.TiedEmbeddings}}
	m.TokenEmbedding = append([]float32(nil), w.TokenEmbedding...)
	m.RMSFinal = append([]float32(nil), w.RMSFinal...)
	if !c.TiedEmbeddings {
		m.Classifier = append([]float32(nil), w.Classifier...)
	}
	for _, l := range w.Layers {
		m.RMSAtt = append(m.RMSAtt, l.RMSAtt...)
		m.Wq = append(m.Wq, l.Wq...)
		m.Wk = append(m.Wk, l.Wk...)
		m.Wv = append(m.Wv, l.Wv...)
		m.Wo = append(m.Wo, l.Wo...)
		m.RMSFFN = append(m.RMSFFN, l.RMSFFN...)
		m.W1 = append(m.W1, l.W1...)
		m.W2 = append(m.W2, l.W2...)
		m.W3 = append(m.W3, l.W3...)
	}
	return m, nil
}
