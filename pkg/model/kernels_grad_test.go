package model

import (
	"math/rand"
	"testing"

	"github.com/anekit/anekit/pkg/anert"
)

// TestBundleGradients proves the kernel/CPU split of kernels.go end to
// end: a whole training step's backward built from bundle kernels and the
// CPU ops of cpuops.go (plus HeadNormBackward for qk_norm) gives the
// gradients of the float64 reference (reference.go, itself checked against
// finite differences), for GQA with and without q/k norm and residual
// scale, with a loss scale of 1024 as a trainer would use.
func TestBundleGradients(t *testing.T) {
	base := Config{Name: "grad", Dim: 64, HiddenDim: 160, NLayers: 2, NHeads: 4, NKVHeads: 2, HeadDim: 32,
		VocabSize: 96, SeqLen: 64, RopeTheta: 1e4, NormEps: 1e-5, TiedEmbeddings: true, ResidualScale: "1"}
	qk := base
	qk.Name, qk.QKNorm, qk.ResidualScale, qk.TiedEmbeddings, qk.HeadDim = "grad-qk", true, "deepnet", false, 32
	for _, c := range []Config{base, qk} {
		t.Run(c.Name, func(t *testing.T) { checkGradients(t, c) })
	}
}

func checkGradients(t *testing.T, c Config) {
	ks, err := BuildKernels(c)
	if err != nil {
		t.Fatal(err)
	}
	b, bc := writeAndOpenBundle(t, ks, "g.aneb")
	dev, _ := anert.Open("cpu")
	defer dev.Close()
	w64 := kernelWeights(c, 21)
	for i := range w64.TokenEmbedding {
		w64.TokenEmbedding[i] *= 50
	}
	if w64.Classifier != nil {
		for i := range w64.Classifier {
			w64.Classifier[i] *= 50
		}
	}
	w := ConvertWeights[float32](c, w64)
	m, err := NewBundleModel(dev, b, bc, w)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SyncWeights(); err != nil {
		t.Fatal(err)
	}
	S, D, V := m.S, c.Dim, c.VocabSize
	rng := rand.New(rand.NewSource(2))
	tokens, targets := make([]int, S), make([]int, S)
	for i := range tokens {
		tokens[i], targets[i] = rng.Intn(V), rng.Intn(V)
	}
	eps, alpha := float32(c.NormEps), float32(c.Alpha())
	const lossScale = 1024

	// Forward, keeping what the backward needs.
	type saved struct{ x, r1, xn, x2, r2, x2n []float32 }
	layers := make([]saved, c.NLayers)
	x := make([]float32, D*S)
	EmbedGather(x, w.TokenEmbedding, tokens)
	o := make([]float32, D*S)
	for l := range w.Layers {
		L, sv := &w.Layers[l], &layers[l]
		sv.x, sv.r1, sv.xn = append([]float32(nil), x...), make([]float32, S), make([]float32, D*S)
		RMSNormForward(sv.xn, x, L.RMSAtt, sv.r1, eps)
		if err := m.run("attn_fwd", l, "xnorm", sv.xn, "o", o); err != nil {
			t.Fatal(err)
		}
		sv.x2, sv.r2, sv.x2n = make([]float32, D*S), make([]float32, S), make([]float32, D*S)
		AddScaled(sv.x2, x, o, alpha)
		RMSNormForward(sv.x2n, sv.x2, L.RMSFFN, sv.r2, eps)
		if err := m.run("ffn_fwd", l, "x2norm", sv.x2n, "f", o); err != nil {
			t.Fatal(err)
		}
		AddScaled(x, sv.x2, o, alpha)
	}
	rf, xf := make([]float32, S), make([]float32, D*S)
	RMSNormForward(xf, x, w.RMSFinal, rf, eps)
	cls := w.Classifier
	if c.TiedEmbeddings {
		cls = w.TokenEmbedding
	}
	logits, dlogits := make([]float32, V*S), make([]float32, V*S)
	ClassifierForward(logits, cls, xf, V, D, S)
	loss := SoftmaxCrossEntropy(dlogits, logits, targets, V, lossScale, make([]float32, 2*S))

	// Backward.
	work := make([]float32, 2*S)
	dxf, dy := make([]float32, D*S), make([]float32, D*S)
	ClassifierBackward(dxf, nil, dlogits, cls, xf, V, D, S)
	RMSNormBackward(dy, make([]float32, D), dxf, x, w.RMSFinal, rf, work)
	grads := map[string][]float64{} // layer-0 weight gradients, unscaled
	outer := func(name string, dY, X []float32, rowsY int) {
		cols := len(X) / S
		g := make([]float64, rowsY*cols)
		for o := 0; o < rowsY; o++ {
			for i := 0; i < cols; i++ {
				var s float64
				for t := 0; t < S; t++ {
					s += float64(dY[o*S+t]) * float64(X[i*S+t])
				}
				g[o*cols+i] = s / lossScale
			}
		}
		grads[name] = g
	}
	read := func(kernel string, l int, name string) []float32 {
		k, _ := b.Kernel(kernel)
		r, _ := k.Output.Region(name)
		v := make([]float32, r.C*r.S)
		if err := m.Binds[kernel][l].Out().ReadRegion(Box(r), v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// feed copies output region from of fwd kernel's layer-l binding into input region to of kernel.
	feed := func(kernel string, l int, to string, fromKernel, from string) {
		k, _ := b.Kernel(kernel)
		fk, _ := b.Kernel(fromKernel)
		ri, _ := k.Input.Region(to)
		ro, _ := fk.Output.Region(from)
		if err := m.Binds[fromKernel][l].Out().CopyRegion(m.Binds[kernel][l].In(), Box(ri), Box(ro)); err != nil {
			t.Fatal(err)
		}
	}
	write := func(kernel string, l int, name string, v []float32) {
		k, _ := b.Kernel(kernel)
		r, _ := k.Input.Region(name)
		if err := m.Binds[kernel][l].In().WriteRegion(Box(r), v); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(kernel string, l int) {
		if err := m.Binds[kernel][l].Eval(); err != nil {
			t.Fatal(err)
		}
	}
	gQNorm := make([]float32, c.HeadDim)
	for l := c.NLayers - 1; l >= 0; l-- {
		L, sv := &w.Layers[l], &layers[l]
		dffn := make([]float32, D*S)
		Scale(dffn, dy, alpha)
		write("ffn_bwd", l, "dffn", dffn)
		feed("ffn_bwd", l, "h1", "ffn_fwd", "h1")
		feed("ffn_bwd", l, "h3", "ffn_fwd", "h3")
		eval("ffn_bwd", l)
		dx2 := append([]float32(nil), dy...)
		RMSNormBackward(dx2, make([]float32, D), read("ffn_bwd", l, "dx2norm"), sv.x2, L.RMSFFN, sv.r2, work)
		if l == 0 {
			outer("w1", read("ffn_bwd", l, "dh1"), sv.x2n, c.HiddenDim)
			outer("w2", dffn, read("ffn_fwd", l, "gate"), D)
		}
		do := make([]float32, D*S)
		Scale(do, dx2, alpha)
		write("attn_bwd", l, "do", do)
		for _, a := range []string{"q_rope", "k_rope", "v", "attn"} {
			feed("attn_bwd", l, a, "attn_fwd", a)
		}
		eval("attn_bwd", l)
		var dxn, dq []float32
		if c.QKNorm {
			dq = make([]float32, c.QDim()*S)
			dk := make([]float32, c.KVDim()*S)
			gq := gQNorm
			if l != 0 {
				gq = make([]float32, c.HeadDim)
			}
			HeadNormBackward(dq, gq, read("attn_bwd", l, "dq_norm"), read("attn_fwd", l, "q"), L.QNorm, c.NHeads, eps, work)
			HeadNormBackward(dk, make([]float32, c.HeadDim), read("attn_bwd", l, "dk_norm"), read("attn_fwd", l, "k"), L.KNorm, c.NKVHeads, eps, work)
			write("qkv_bwd", l, "dq", dq)
			write("qkv_bwd", l, "dk", dk)
			feed("qkv_bwd", l, "dv", "attn_bwd", "dv")
			eval("qkv_bwd", l)
			dxn = read("qkv_bwd", l, "dxnorm")
		} else {
			dq, dxn = read("attn_bwd", l, "dq"), read("attn_bwd", l, "dxnorm")
		}
		if l == 0 {
			outer("wq", dq, sv.xn, c.QDim())
			outer("wo", do, read("attn_fwd", l, "attn"), D)
		}
		RMSNormBackward(dx2, make([]float32, D), dxn, sv.x, L.RMSAtt, sv.r1, work)
		dy = dx2
	}

	// The float64 reference.
	wantLoss, g, dx0 := Grad(c, w64, tokens, targets)
	if d := loss - wantLoss; d > 1e-2 || d < -1e-2 {
		t.Errorf("loss %.5f, reference %.5f", loss, wantLoss)
	}
	got := make([]float32, len(dy))
	for i, v := range dy {
		got[i] = v / lossScale
	}
	check := func(name string, got []float32, want []float64, tol float64) {
		e := relErr(got, want)
		t.Logf("%-12s max rel err %.2e", name, e)
		if !(e <= tol) {
			t.Errorf("%s: relative error %.3g > %g", name, e, tol)
		}
	}
	check("dx0", got, cols(dx0), 5e-3)
	L0 := &g.Layers[0]
	for _, p := range []struct {
		name string
		want []float64
	}{{"wq", L0.Wq}, {"wo", L0.Wo}, {"w1", L0.W1}, {"w2", L0.W2}} {
		check("layers.0."+p.name, to32(grads[p.name]), p.want, 5e-3)
	}
	if c.QKNorm {
		for i := range gQNorm {
			gQNorm[i] /= lossScale
		}
		check("layers.0.q_norm", gQNorm, L0.QNorm, 5e-3)
	}
}
