package model

import (
	"fmt"
	"math"
)

// This file is the float64 reference of the whole model: forward over a
// sequence, the cross-entropy loss and the full backward. It favours being
// read top to bottom (as llama2.c's run.c) over speed; every fast path in
// anekit is tested against it.
//
// Layout: one row per token, x[t][i] for token t and feature i. Matrices are
// [out][in]. Conventions (the same in both directions):
//   - RoPE rotates the interleaved pairs (2i, 2i+1) of each head by
//     pos·θ^(−2i/head_dim), as llama2.c does.
//   - Query head h reads key/value head h / (n_heads/n_kv_heads).
//   - Both residual branches are scaled by α = Config.Alpha().

// Forward returns the logits [len(tokens)][vocab_size] of every position.
// Like every function of the reference it panics on a token outside the
// vocabulary or more than seq_len positions: callers validate input first.
func Forward(c Config, w *Weights[float64], tokens []int) [][]float64 {
	return forward(c, w, embed(c, w, tokens)).logits
}

// Loss is the mean over positions of −log softmax(logits[t])[targets[t]].
func Loss(c Config, w *Weights[float64], tokens, targets []int) float64 {
	loss, _ := CrossEntropy(Forward(c, w, tokens), targets)
	return loss
}

// Grad returns the loss of Loss and its gradient with respect to every
// weight (in a new Weights) and to the input embeddings x0[t] =
// TokenEmbedding[tokens[t]] (dx0, which Grad also scatters into the
// embedding's gradient).
func Grad(c Config, w *Weights[float64], tokens, targets []int) (loss float64, g *Weights[float64], dx0 [][]float64) {
	tr := forward(c, w, embed(c, w, tokens))
	g = NewWeights[float64](c)
	loss, dx0 = backward(c, w, tr, targets, g)
	for t, tok := range tokens {
		axpy(g.TokenEmbedding[tok*c.Dim:(tok+1)*c.Dim], 1, dx0[t])
	}
	return loss, g, dx0
}

// CrossEntropy returns the mean over rows of −log softmax(logits[t])[targets[t]]
// and its gradient (softmax − onehot)/S.
func CrossEntropy(logits [][]float64, targets []int) (float64, [][]float64) {
	S := len(logits)
	if len(targets) != S {
		panic(fmt.Sprintf("model: %d targets for %d positions", len(targets), S))
	}
	var loss float64
	d := make([][]float64, S)
	for t, l := range logits {
		p := softmax(l)
		loss -= math.Log(p[targets[t]])
		p[targets[t]]--
		for i := range p {
			p[i] /= float64(S)
		}
		d[t] = p
	}
	return loss / float64(S), d
}

// trace keeps every activation the backward needs.
type trace struct {
	x0     [][]float64 // input embeddings
	layers []layerTrace
	xf     [][]float64 // input of the final norm
	rf     []float64   // its 1/rms per token
	nf     [][]float64 // final norm output
	logits [][]float64
}

type layerTrace struct {
	x       [][]float64   // layer input
	r1      []float64     // 1/rms of x
	n1      [][]float64   // attention_norm(x)
	q, k, v [][]float64   // projections
	rq, rk  [][]float64   // [t][head] 1/rms of each q/k head (qk_norm)
	qn, kn  [][]float64   // after q/k norm (= q, k without)
	qr, kr  [][]float64   // after RoPE
	att     [][][]float64 // [head][t][s] attention probabilities, s ≤ t
	a       [][]float64   // attention output, heads concatenated
	x2      [][]float64   // x + α·Wo·a
	r2      []float64
	n2      [][]float64 // ffn_norm(x2)
	h1, h3  [][]float64 // W1·n2, W3·n2
	gate    [][]float64 // silu(h1)·h3
}

func embed(c Config, w *Weights[float64], tokens []int) [][]float64 {
	x := make([][]float64, len(tokens))
	for t, tok := range tokens {
		if tok < 0 || tok >= c.VocabSize {
			panic(fmt.Sprintf("model: token %d at position %d is outside the vocabulary of %d", tok, t, c.VocabSize))
		}
		x[t] = append([]float64(nil), w.TokenEmbedding[tok*c.Dim:(tok+1)*c.Dim]...)
	}
	return x
}

func forward(c Config, w *Weights[float64], x0 [][]float64) *trace {
	S, D, H, HD := len(x0), c.Dim, c.HiddenDim, c.HeadDim
	NH, group := c.NHeads, c.KVGroup()
	alpha, eps := c.Alpha(), c.NormEps
	if S > c.SeqLen {
		panic(fmt.Sprintf("model: %d positions exceed seq_len %d", S, c.SeqLen))
	}
	tr := &trace{x0: x0}
	x := clone(x0)
	for li := range w.Layers {
		l := &w.Layers[li]
		lt := layerTrace{x: clone(x)}

		// Attention: RMSNorm, projections, optional q/k norm, RoPE.
		lt.n1, lt.r1 = rmsnormRows(x, l.RMSAtt, eps)
		lt.q = matmulRows(l.Wq, lt.n1, c.QDim())
		lt.k = matmulRows(l.Wk, lt.n1, c.KVDim())
		lt.v = matmulRows(l.Wv, lt.n1, c.KVDim())
		lt.qn, lt.kn = lt.q, lt.k
		if c.QKNorm {
			lt.qn, lt.rq = headNorm(lt.q, l.QNorm, HD, eps)
			lt.kn, lt.rk = headNorm(lt.k, l.KNorm, HD, eps)
		}
		lt.qr, lt.kr = clone(lt.qn), clone(lt.kn)
		for t := 0; t < S; t++ {
			rope(lt.qr[t], t, HD, c.RopeTheta, false)
			rope(lt.kr[t], t, HD, c.RopeTheta, false)
		}

		// Causal attention, query head h on key/value head h/group.
		lt.att = make([][][]float64, NH)
		lt.a = zeros(S, c.QDim())
		scale := 1 / math.Sqrt(float64(HD))
		for h := 0; h < NH; h++ {
			kvh := h / group
			lt.att[h] = make([][]float64, S)
			for t := 0; t < S; t++ {
				q := lt.qr[t][h*HD : (h+1)*HD]
				score := make([]float64, t+1)
				for s := 0; s <= t; s++ {
					score[s] = dot(q, lt.kr[s][kvh*HD:(kvh+1)*HD]) * scale
				}
				p := softmax(score)
				lt.att[h][t] = p
				out := lt.a[t][h*HD : (h+1)*HD]
				for s := 0; s <= t; s++ {
					axpy(out, p[s], lt.v[s][kvh*HD:(kvh+1)*HD])
				}
			}
		}

		// Output projection and residual.
		o := matmulRows(l.Wo, lt.a, D)
		lt.x2 = clone(x)
		for t := range o {
			axpy(lt.x2[t], alpha, o[t])
		}

		// Feed-forward: RMSNorm, SwiGLU, residual.
		lt.n2, lt.r2 = rmsnormRows(lt.x2, l.RMSFFN, eps)
		lt.h1 = matmulRows(l.W1, lt.n2, H)
		lt.h3 = matmulRows(l.W3, lt.n2, H)
		lt.gate = zeros(S, H)
		for t := range lt.gate {
			for i := range lt.gate[t] {
				lt.gate[t][i] = silu(lt.h1[t][i]) * lt.h3[t][i]
			}
		}
		f := matmulRows(l.W2, lt.gate, D)
		x = clone(lt.x2)
		for t := range f {
			axpy(x[t], alpha, f[t])
		}
		tr.layers = append(tr.layers, lt)
	}

	// Final norm and classifier.
	tr.xf = x
	tr.nf, tr.rf = rmsnormRows(x, w.RMSFinal, eps)
	tr.logits = matmulRows(classifier(c, w), tr.nf, c.VocabSize)
	return tr
}

// backward accumulates into g the gradient of the mean cross-entropy of
// tr's logits against targets and returns the loss and the gradient of the
// input embeddings.
func backward(c Config, w *Weights[float64], tr *trace, targets []int, g *Weights[float64]) (float64, [][]float64) {
	S, D, H, HD := len(tr.x0), c.Dim, c.HiddenDim, c.HeadDim
	NH, group := c.NHeads, c.KVGroup()
	alpha := c.Alpha()
	scale := 1 / math.Sqrt(float64(HD))

	loss, dlogits := CrossEntropy(tr.logits, targets)

	// Classifier and final norm.
	gcls := classifier(c, g)
	outerAcc(gcls, dlogits, tr.nf)
	dnf := matmulRowsT(classifier(c, w), dlogits, D)
	dx := zeros(S, D)
	rmsnormRowsBack(dx, g.RMSFinal, dnf, tr.xf, w.RMSFinal, tr.rf)

	for li := len(w.Layers) - 1; li >= 0; li-- {
		l, gl, lt := &w.Layers[li], &g.Layers[li], &tr.layers[li]

		// Feed-forward branch: x = x2 + α·W2·gate.
		dx2 := clone(dx) // residual path
		df := scaled(dx, alpha)
		outerAcc(gl.W2, df, lt.gate)
		dgate := matmulRowsT(l.W2, df, H)
		dh1, dh3 := zeros(S, H), zeros(S, H)
		for t := 0; t < S; t++ {
			for i := 0; i < H; i++ {
				z := lt.h1[t][i]
				sig := 1 / (1 + math.Exp(-z))
				dh3[t][i] = dgate[t][i] * z * sig
				dh1[t][i] = dgate[t][i] * lt.h3[t][i] * sig * (1 + z*(1-sig))
			}
		}
		outerAcc(gl.W1, dh1, lt.n2)
		outerAcc(gl.W3, dh3, lt.n2)
		dn2 := matmulRowsT(l.W1, dh1, D)
		addRows(dn2, matmulRowsT(l.W3, dh3, D))
		rmsnormRowsBack(dx2, gl.RMSFFN, dn2, lt.x2, l.RMSFFN, lt.r2)

		// Attention branch: x2 = x + α·Wo·a.
		dxl := clone(dx2) // residual path
		do := scaled(dx2, alpha)
		outerAcc(gl.Wo, do, lt.a)
		da := matmulRowsT(l.Wo, do, c.QDim())

		dqr, dkr, dv := zeros(S, c.QDim()), zeros(S, c.KVDim()), zeros(S, c.KVDim())
		for h := 0; h < NH; h++ {
			kvh := h / group
			for t := 0; t < S; t++ {
				p := lt.att[h][t]
				dout := da[t][h*HD : (h+1)*HD]
				// out = Σ_s p[s]·v[s]  ⇒  dv[s] += p[s]·dout, dp[s] = dout·v[s].
				dp := make([]float64, t+1)
				for s := 0; s <= t; s++ {
					axpy(dv[s][kvh*HD:(kvh+1)*HD], p[s], dout)
					dp[s] = dot(dout, lt.v[s][kvh*HD:(kvh+1)*HD])
				}
				// Softmax backward: dscore[s] = p[s]·(dp[s] − Σ_u p[u]·dp[u]).
				sum := dot(p, dp)
				for s := 0; s <= t; s++ {
					ds := p[s] * (dp[s] - sum) * scale
					axpy(dqr[t][h*HD:(h+1)*HD], ds, lt.kr[s][kvh*HD:(kvh+1)*HD])
					axpy(dkr[s][kvh*HD:(kvh+1)*HD], ds, lt.qr[t][h*HD:(h+1)*HD])
				}
			}
		}
		// RoPE is a rotation: its backward rotates by the opposite angle.
		for t := 0; t < S; t++ {
			rope(dqr[t], t, HD, c.RopeTheta, true)
			rope(dkr[t], t, HD, c.RopeTheta, true)
		}
		dq, dk := dqr, dkr
		if c.QKNorm {
			dq, dk = zeros(S, c.QDim()), zeros(S, c.KVDim())
			headNormBack(dq, gl.QNorm, dqr, lt.q, l.QNorm, lt.rq, HD)
			headNormBack(dk, gl.KNorm, dkr, lt.k, l.KNorm, lt.rk, HD)
		}
		outerAcc(gl.Wq, dq, lt.n1)
		outerAcc(gl.Wk, dk, lt.n1)
		outerAcc(gl.Wv, dv, lt.n1)
		dn1 := matmulRowsT(l.Wq, dq, D)
		addRows(dn1, matmulRowsT(l.Wk, dk, D))
		addRows(dn1, matmulRowsT(l.Wv, dv, D))
		rmsnormRowsBack(dxl, gl.RMSAtt, dn1, lt.x, l.RMSAtt, lt.r1)
		dx = dxl
	}
	return loss, dx
}

func classifier[T Float](c Config, w *Weights[T]) []T {
	if c.TiedEmbeddings {
		return w.TokenEmbedding
	}
	return w.Classifier
}

// rmsnorm sets y = x·r·w with r = 1/√(mean(x²) + eps) and returns r.
func rmsnorm(y, x, w []float64, eps float64) float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	for i := range x {
		y[i] = x[i] * r * w[i]
	}
	return r
}

// rmsnormBack adds to dx and dw the gradient of y = rmsnorm(x, w) given dy:
//
//	dx_i += w_i·r·dy_i − x_i·r³·(Σ_j dy_j·w_j·x_j)/n
//	dw_i += dy_i·x_i·r
func rmsnormBack(dx, dw, dy, x, w []float64, r float64) {
	var d float64
	for j := range x {
		d += dy[j] * w[j] * x[j]
	}
	n := float64(len(x))
	for i := range x {
		dx[i] += w[i]*r*dy[i] - x[i]*r*r*r*d/n
		dw[i] += dy[i] * x[i] * r
	}
}

func rmsnormRows(x [][]float64, w []float64, eps float64) ([][]float64, []float64) {
	y, r := zeros(len(x), len(w)), make([]float64, len(x))
	for t := range x {
		r[t] = rmsnorm(y[t], x[t], w, eps)
	}
	return y, r
}

func rmsnormRowsBack(dx [][]float64, dw []float64, dy, x [][]float64, w []float64, r []float64) {
	for t := range x {
		rmsnormBack(dx[t], dw, dy[t], x[t], w, r[t])
	}
}

// headNorm applies one RMSNorm of width hd (weights w) to each head of
// each row.
func headNorm(x [][]float64, w []float64, hd int, eps float64) ([][]float64, [][]float64) {
	y, r := zeros(len(x), len(x[0])), make([][]float64, len(x))
	for t := range x {
		r[t] = make([]float64, len(x[t])/hd)
		for h := range r[t] {
			r[t][h] = rmsnorm(y[t][h*hd:(h+1)*hd], x[t][h*hd:(h+1)*hd], w, eps)
		}
	}
	return y, r
}

func headNormBack(dx [][]float64, dw []float64, dy, x [][]float64, w []float64, r [][]float64, hd int) {
	for t := range x {
		for h := range r[t] {
			s := h * hd
			rmsnormBack(dx[t][s:s+hd], dw, dy[t][s:s+hd], x[t][s:s+hd], w, r[t][h])
		}
	}
}

// rope rotates each pair (2i, 2i+1) within each head of v by
// pos·θ^(−2i/hd); inverse rotates the other way (the backward).
func rope(v []float64, pos, hd int, theta float64, inverse bool) {
	for j := 0; j < len(v); j += 2 {
		i := (j % hd) / 2
		freq := math.Pow(theta, -float64(2*i)/float64(hd))
		cos, sin := math.Cos(float64(pos)*freq), math.Sin(float64(pos)*freq)
		if inverse {
			sin = -sin
		}
		v0, v1 := v[j], v[j+1]
		v[j] = v0*cos - v1*sin
		v[j+1] = v0*sin + v1*cos
	}
}

func silu(z float64) float64 { return z / (1 + math.Exp(-z)) }

// softmax returns exp(x − max)/Σ.
func softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	p := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		p[i] = math.Exp(v - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// matmulRows returns y[t] = W·x[t] for W of shape [out][len(x[t])].
func matmulRows(w []float64, x [][]float64, out int) [][]float64 {
	y := zeros(len(x), out)
	for t := range x {
		in := len(x[t])
		for o := 0; o < out; o++ {
			y[t][o] = dot(w[o*in:(o+1)*in], x[t])
		}
	}
	return y
}

// matmulRowsT returns y[t] = Wᵀ·d[t] for W of shape [len(d[t])][in].
func matmulRowsT(w []float64, d [][]float64, in int) [][]float64 {
	y := zeros(len(d), in)
	for t := range d {
		for o, v := range d[t] {
			axpy(y[t], v, w[o*in:(o+1)*in])
		}
	}
	return y
}

// outerAcc adds Σ_t d[t] ⊗ x[t] to g of shape [len(d[t])][len(x[t])].
func outerAcc(g []float64, d, x [][]float64) {
	for t := range d {
		in := len(x[t])
		for o, v := range d[t] {
			axpy(g[o*in:(o+1)*in], v, x[t])
		}
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// axpy sets y += a·x.
func axpy(y []float64, a float64, x []float64) {
	for i := range y {
		y[i] += a * x[i]
	}
}

func zeros(n, m int) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, m)
	}
	return x
}

func clone(x [][]float64) [][]float64 {
	y := make([][]float64, len(x))
	for i := range x {
		y[i] = append([]float64(nil), x[i]...)
	}
	return y
}

func scaled(x [][]float64, a float64) [][]float64 {
	y := clone(x)
	for _, r := range y {
		for i := range r {
			r[i] *= a
		}
	}
	return y
}

func addRows(y, x [][]float64) {
	for t := range y {
		axpy(y[t], 1, x[t])
	}
}
