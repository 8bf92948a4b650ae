package model

import (
	"fmt"
	"math"

	"github.com/anekit/anekit/internal/gemm"
)

// This file holds the float32 operations the trainer and the sampler run on
// the CPU between accelerator kernels: embedding gather and scatter-add,
// RMSNorm forward and backward, residual adds, the classifier and
// softmax + cross-entropy.
//
// Layout: channel-first, as the kernels' surfaces: an activation of D
// features over S tokens is x[c*S + t]. Weights are row-major [out][in] as
// in Weights. Conventions:
//   - Weight gradients (dw, gEmb, dW) are accumulated (+=), so micro-steps
//     add up without a copy.
//   - Activation gradients are written (=), except RMSNormBackward, which
//     adds into dx because its result always joins a residual stream.
//   - No function allocates; callers provide scratch (work) slices. Sizes
//     are the caller's contract: a wrong length panics.
//
// Inner loops run over contiguous tokens t so that they vectorise.

// EmbedGather sets x[c*S+t] = emb[tokens[t]*D+c] for S = len(tokens), D =
// len(x)/S. Every token must be in [0, len(emb)/D).
func EmbedGather(x, emb []float32, tokens []int) {
	S := len(tokens)
	D := len(x) / S
	for _, tok := range tokens {
		_ = emb[tok*D : (tok+1)*D] // bounds, once per token
	}
	// Channel-outer: the writes are contiguous and the S rows being read
	// stay in cache across consecutive channels.
	for c := 0; c < D; c++ {
		xc := x[c*S : (c+1)*S]
		for t, tok := range tokens {
			xc[t] = emb[tok*D+c]
		}
	}
}

// EmbedScatterAdd is EmbedGather's backward: gEmb[tokens[t]*D+c] += dx[c*S+t].
func EmbedScatterAdd(gEmb, dx []float32, tokens []int) {
	S := len(tokens)
	D := len(dx) / S
	for _, tok := range tokens {
		_ = gEmb[tok*D : (tok+1)*D]
	}
	for c := 0; c < D; c++ {
		dc := dx[c*S : (c+1)*S]
		for t, tok := range tokens {
			gEmb[tok*D+c] += dc[t]
		}
	}
}

// RMSNormForward normalises each token over its D = len(w) channels:
//
//	rrms[t] = 1/√(Σ_c x[c*S+t]²/D + eps),  y[c*S+t] = x[c*S+t]·rrms[t]·w[c]
//
// with S = len(rrms). rrms is an output, kept for RMSNormBackward. y may
// alias x.
func RMSNormForward(y, x, w, rrms []float32, eps float32) {
	D, S := len(w), len(rrms)
	x, y = x[:D*S], y[:D*S]
	clear(rrms)
	for c := 0; c < D; c++ {
		xc := x[c*S : (c+1)*S]
		for t, v := range xc {
			rrms[t] += v * v
		}
	}
	invD := 1 / float32(D)
	for t, ss := range rrms {
		rrms[t] = 1 / float32(math.Sqrt(float64(ss*invD+eps)))
	}
	for c := 0; c < D; c++ {
		xc, yc, wc := x[c*S:(c+1)*S], y[c*S:(c+1)*S], w[c]
		for t, r := range rrms {
			yc[t] = xc[t] * r * wc
		}
	}
}

// RMSNormBackward adds to dx and dw the gradient of RMSNormForward given dy
// (the exact gradient; r = rrms[t]):
//
//	dx[c,t] += w[c]·r·dy[c,t] − x[c,t]·r³·(Σ_j dy[j,t]·w[j]·x[j,t])/D
//	dw[c]   += Σ_t dy[c,t]·x[c,t]·r
//
// work is scratch of at least S = len(rrms) values.
func RMSNormBackward(dx, dw, dy, x, w, rrms, work []float32) {
	D, S := len(w), len(rrms)
	dx, dy, x = dx[:D*S], dy[:D*S], x[:D*S]
	dot := work[:S]
	clear(dot)
	for c := 0; c < D; c++ {
		xc, dyc, wc := x[c*S:(c+1)*S], dy[c*S:(c+1)*S], w[c]
		var g float32
		for t, r := range rrms {
			p := dyc[t] * xc[t]
			dot[t] += p * wc
			g += p * r
		}
		dw[c] += g
	}
	invD := 1 / float32(D)
	for t, r := range rrms {
		dot[t] *= r * r * r * invD
	}
	for c := 0; c < D; c++ {
		xc, dyc, dxc, wc := x[c*S:(c+1)*S], dy[c*S:(c+1)*S], dx[c*S:(c+1)*S], w[c]
		for t, r := range rrms {
			dxc[t] += wc*r*dyc[t] - xc[t]*dot[t]
		}
	}
}

// AddScaled sets dst = x + alpha·y (a residual add); dst may alias x or y.
func AddScaled(dst, x, y []float32, alpha float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] + alpha*y[i]
	}
}

// Scale sets dst = alpha·x; dst may alias x.
func Scale(dst, x []float32, alpha float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = alpha * x[i]
	}
}

// ClassifierForward sets logits[v*S+t] = Σ_c wcls[v*D+c]·x[c*S+t]
// (logits = Wcls·x, [V,S] = [V,D]·[D,S]).
func ClassifierForward(logits, wcls, x []float32, V, D, S int) {
	checkLen("logits", logits, V*S)
	checkLen("wcls", wcls, V*D)
	checkLen("x", x, D*S)
	gemm.Sgemm(false, false, V, S, D, 1, wcls, D, x, S, 0, logits, S)
}

// ClassifierBackward sets dx = Wclsᵀ·dlogits and adds dlogits·xᵀ to dW.
// dW is nil to skip the weight gradient.
func ClassifierBackward(dx, dW, dlogits, wcls, x []float32, V, D, S int) {
	checkLen("dx", dx, D*S)
	checkLen("dlogits", dlogits, V*S)
	checkLen("wcls", wcls, V*D)
	checkLen("x", x, D*S)
	gemm.Sgemm(true, false, D, S, V, 1, wcls, D, dlogits, S, 0, dx, S)
	if dW != nil {
		checkLen("dW", dW, V*D)
		gemm.Sgemm(false, true, V, D, S, 1, dlogits, S, x, S, 1, dW, D)
	}
}

// SoftmaxCrossEntropy returns the mean over the S = len(targets) tokens of
// −log softmax(logits[:,t])[targets[t]] for logits [V,S] channel-first. If
// dlogits is not nil it receives lossScale·(softmax − onehot)/S, the
// gradient of lossScale × the returned loss. work is scratch of at least
// 2·S values. Every target must be in [0, V).
func SoftmaxCrossEntropy(dlogits, logits []float32, targets []int, V int, lossScale float32, work []float32) float64 {
	S := len(targets)
	checkLen("logits", logits, V*S)
	mx, inv := work[:S], work[S:2*S]
	copy(mx, logits[:S])
	for v := 1; v < V; v++ {
		for t, l := range logits[v*S : (v+1)*S] {
			mx[t] = max(mx[t], l)
		}
	}
	clear(inv)
	for v := 0; v < V; v++ {
		lv := logits[v*S : (v+1)*S]
		if dlogits != nil {
			dv := dlogits[v*S : (v+1)*S]
			for t, l := range lv {
				e := expf32(l - mx[t])
				dv[t] = e
				inv[t] += e
			}
		} else {
			for t, l := range lv {
				inv[t] += expf32(l - mx[t])
			}
		}
	}
	var loss float64
	for t, tg := range targets {
		loss += math.Log(float64(inv[t])) + float64(mx[t]) - float64(logits[tg*S+t])
	}
	if dlogits != nil {
		g := lossScale / float32(S)
		for t := range inv {
			inv[t] = g / inv[t]
		}
		for v := 0; v < V; v++ {
			dv := dlogits[v*S : (v+1)*S]
			for t := range dv {
				dv[t] *= inv[t]
			}
		}
		for t, tg := range targets {
			dlogits[tg*S+t] -= g
		}
	}
	return loss / float64(S)
}

// SwiGLUBackward is the backward of gate = silu(h1)·h3 elementwise:
//
//	dh1 = dgate·h3·σ(h1)·(1 + h1·(1 − σ(h1))),  dh3 = dgate·silu(h1)
//
// All slices have the same length; dh1 and dh3 are written.
func SwiGLUBackward(dh1, dh3, dgate, h1, h3 []float32) {
	n := len(dgate)
	dh1, dh3, h1, h3 = dh1[:n], dh3[:n], h1[:n], h3[:n]
	for i, g := range dgate {
		z := h1[i]
		s := 1 / (1 + expf32(-z))
		dh3[i] = g * z * s
		dh1[i] = g * h3[i] * s * (1 + z*(1-s))
	}
}

func checkLen(name string, x []float32, n int) {
	if len(x) < n {
		panic(fmt.Sprintf("model: %s has %d values, need %d", name, len(x), n))
	}
}

// expf32 is e^x in float32 to within 2 ulp (about 2.4e-7 relative) for
// x in [−87.3, 88.7], 0 below and +Inf above: a Cody–Waite reduction
// x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 Taylor polynomial of e^r and an
// exponent-field scale by 2^n. Measured here 1.5–2× faster than math.Exp
// through float64 (BenchmarkExpf32); softmax and SiLU spend their time in it.
func expf32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693145751953125       // ln 2 with its low 11 mantissa bits clear: n·ln2hi is exact
		ln2lo = 1.42860682030941723e-06 // ln 2 − ln2hi
	)
	switch {
	case x != x:
		return x
	case x < -87.33:
		return 0
	case x > 88.72:
		return float32(math.Inf(1))
	}
	fn := x * log2e
	if fn >= 0 {
		fn += 0.5
	} else {
		fn -= 0.5
	}
	n := int32(fn) // round half away from zero
	r := x - float32(n)*ln2hi - float32(n)*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	if n > 127 { // 2^128 is not a float32; e^x still is
		return p * 2 * math.Float32frombits(uint32(127+127)<<23)
	}
	if n < -126 { // 2^n is subnormal: scale in two steps
		return p * math.Float32frombits(uint32(n+127+64)<<23) * (1.0 / (1 << 64))
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}
