package model

import (
	"fmt"
	"math"
)

// Decoder32 runs the model one token at a time in float32 with a key/value
// cache, as llama2.c's run.c does: the path for sampling. It follows the
// same conventions as the float64 reference (Forward) and is tested against
// it. A Decoder32 is not safe for concurrent use.
type Decoder32 struct {
	c Config
	w *Weights[float32]

	x, xb, xb2   []float32 // [dim] residual stream and scratch
	q            []float32 // [n_heads*head_dim]
	att          []float32 // [seq_len] scores of one head
	hb, hb2      []float32 // [hidden_dim]
	logits       []float32 // [vocab_size]
	kcache       []float32 // [n_layers][seq_len][kv_dim], keys after RoPE
	vcache       []float32 // [n_layers][seq_len][kv_dim]
	cos, sin     []float32 // [seq_len][head_dim/2] RoPE tables
	alpha, eps   float32
	attnScale    float32
	kvDim, qDim  int
	seqLen, next int
}

// NewDecoder32 prepares a decoder for c and w; the weights are used in
// place, not copied.
func NewDecoder32(c Config, w *Weights[float32]) (*Decoder32, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := w.Check(c); err != nil {
		return nil, err
	}
	hd := c.HeadDim
	d := &Decoder32{
		c: c, w: w,
		x: make([]float32, c.Dim), xb: make([]float32, max(c.Dim, c.QDim())), xb2: make([]float32, c.Dim),
		q: make([]float32, c.QDim()), att: make([]float32, c.SeqLen),
		hb: make([]float32, c.HiddenDim), hb2: make([]float32, c.HiddenDim),
		logits: make([]float32, c.VocabSize),
		kcache: make([]float32, c.NLayers*c.SeqLen*c.KVDim()),
		vcache: make([]float32, c.NLayers*c.SeqLen*c.KVDim()),
		cos:    make([]float32, c.SeqLen*hd/2), sin: make([]float32, c.SeqLen*hd/2),
		alpha: float32(c.Alpha()), eps: float32(c.NormEps),
		attnScale: float32(1 / math.Sqrt(float64(hd))),
		kvDim:     c.KVDim(), qDim: c.QDim(), seqLen: c.SeqLen,
	}
	for p := 0; p < c.SeqLen; p++ {
		for i := 0; i < hd/2; i++ {
			a := float64(p) * math.Pow(c.RopeTheta, -float64(2*i)/float64(hd))
			d.cos[p*hd/2+i] = float32(math.Cos(a))
			d.sin[p*hd/2+i] = float32(math.Sin(a))
		}
	}
	return d, nil
}

// Step feeds token at position pos and returns the logits of the next
// token. Positions may not skip ahead: pos is at most the previous pos + 1
// (going back forgets the later positions). The returned slice is
// overwritten by the next call.
func (d *Decoder32) Step(token, pos int) ([]float32, error) {
	c := d.c
	if token < 0 || token >= c.VocabSize {
		return nil, fmt.Errorf("token %d is outside the vocabulary of %d", token, c.VocabSize)
	}
	if pos < 0 || pos >= d.seqLen || pos > d.next {
		return nil, fmt.Errorf("position %d: positions run in order from 0 up to seq_len %d", pos, d.seqLen)
	}
	d.next = pos + 1
	D, HD, kvDim := c.Dim, c.HeadDim, d.kvDim
	group := c.KVGroup()
	copy(d.x, d.w.TokenEmbedding[token*D:(token+1)*D])

	for li := range d.w.Layers {
		l := &d.w.Layers[li]
		rmsnorm32(d.xb[:D], d.x, l.RMSAtt, d.eps)

		// q into d.q; k and v straight into this position's cache rows.
		off := (li*d.seqLen + pos) * kvDim
		k, v := d.kcache[off:off+kvDim], d.vcache[off:off+kvDim]
		matvec32(d.q, l.Wq, d.xb[:D])
		matvec32(k, l.Wk, d.xb[:D])
		matvec32(v, l.Wv, d.xb[:D])
		if c.QKNorm {
			for h := 0; h < c.NHeads; h++ {
				rmsnorm32(d.q[h*HD:(h+1)*HD], d.q[h*HD:(h+1)*HD], l.QNorm, d.eps)
			}
			for h := 0; h < c.NKVHeads; h++ {
				rmsnorm32(k[h*HD:(h+1)*HD], k[h*HD:(h+1)*HD], l.KNorm, d.eps)
			}
		}
		d.rope(d.q, pos)
		d.rope(k, pos)

		// Attention of each query head over positions 0..pos.
		att := d.att[:pos+1]
		out := d.xb[:d.qDim]
		for h := 0; h < c.NHeads; h++ {
			kvOff := (h / group) * HD
			q := d.q[h*HD : (h+1)*HD]
			for s := 0; s <= pos; s++ {
				ks := d.kcache[(li*d.seqLen+s)*kvDim+kvOff:]
				att[s] = dot32(q, ks[:HD]) * d.attnScale
			}
			softmax32(att)
			o := out[h*HD : (h+1)*HD]
			clear(o)
			for s := 0; s <= pos; s++ {
				vs := d.vcache[(li*d.seqLen+s)*kvDim+kvOff:]
				axpy32(o, att[s], vs[:HD])
			}
		}
		matvec32(d.xb2, l.Wo, out)
		axpy32(d.x, d.alpha, d.xb2)

		// SwiGLU feed-forward.
		rmsnorm32(d.xb[:D], d.x, l.RMSFFN, d.eps)
		matvec32(d.hb, l.W1, d.xb[:D])
		matvec32(d.hb2, l.W3, d.xb[:D])
		for i, z := range d.hb {
			d.hb[i] = z / (1 + expf32(-z)) * d.hb2[i]
		}
		matvec32(d.xb2, l.W2, d.hb)
		axpy32(d.x, d.alpha, d.xb2)
	}
	rmsnorm32(d.x, d.x, d.w.RMSFinal, d.eps)
	matvec32(d.logits, classifier(c, d.w), d.x)
	return d.logits, nil
}

// rope rotates the pairs of every head of v for position pos.
func (d *Decoder32) rope(v []float32, pos int) {
	half := d.c.HeadDim / 2
	cos, sin := d.cos[pos*half:(pos+1)*half], d.sin[pos*half:(pos+1)*half]
	for h := 0; h < len(v); h += 2 * half {
		for i := 0; i < half; i++ {
			v0, v1 := v[h+2*i], v[h+2*i+1]
			v[h+2*i] = v0*cos[i] - v1*sin[i]
			v[h+2*i+1] = v0*sin[i] + v1*cos[i]
		}
	}
}

// Forward32 runs tokens through a fresh Decoder32 and returns the logits of
// every position (a convenience for tests and scoring).
func Forward32(c Config, w *Weights[float32], tokens []int) ([][]float32, error) {
	d, err := NewDecoder32(c, w)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(tokens))
	for p, tok := range tokens {
		l, err := d.Step(tok, p)
		if err != nil {
			return nil, err
		}
		out[p] = append([]float32(nil), l...)
	}
	return out, nil
}

// rmsnorm32 sets y = x·w/√(mean(x²)+eps); y may alias x.
func rmsnorm32(y, x, w []float32, eps float32) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	r := 1 / float32(math.Sqrt(float64(ss/float32(len(x))+eps)))
	for i, v := range x {
		y[i] = w[i] * (r * v)
	}
}

// matvec32 sets y = W·x for W of shape [len(y)][len(x)].
func matvec32(y, w, x []float32) {
	n := len(x)
	for i := range y {
		y[i] = dot32(w[i*n:(i+1)*n], x)
	}
}

func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy32(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// softmax32 replaces x by exp(x − max)/Σ in place.
func softmax32(x []float32) {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		e := expf32(v - m)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}
