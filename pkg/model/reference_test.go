package model

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// testConfigs cover MHA and GQA, with and without q/k norm, tied and untied
// classifiers, and the residual scales.
func testConfigs() []Config {
	base := Config{Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 4, HeadDim: 4,
		VocabSize: 11, SeqLen: 8, RopeTheta: 10000, NormEps: 1e-5, ResidualScale: "1"}
	var cs []Config
	add := func(name string, f func(c *Config)) {
		c := base
		c.Name = name
		f(&c)
		if err := c.Validate(); err != nil {
			panic(err)
		}
		cs = append(cs, c)
	}
	add("mha-tied", func(c *Config) { c.TiedEmbeddings = true })
	add("mha-untied-deepnet", func(c *Config) { c.ResidualScale = "deepnet" })
	add("gqa-tied-deepnet", func(c *Config) { c.NKVHeads = 2; c.TiedEmbeddings = true; c.ResidualScale = "deepnet" })
	add("gqa-untied-qknorm", func(c *Config) { c.NKVHeads = 2; c.QKNorm = true; c.RopeTheta = 1e6 })
	add("mqa-tied-qknorm-hd6", func(c *Config) {
		c.NKVHeads = 1
		c.HeadDim = 6
		c.QKNorm = true
		c.TiedEmbeddings = true
		c.ResidualScale = "0.7"
	})
	add("mha-untied-qknorm", func(c *Config) { c.QKNorm = true; c.NLayers = 1 })
	return cs
}

// testWeights are random weights with norm weights away from 1 (so that a
// misplaced w in the RMSNorm gradient shows) and a large enough embedding.
func testWeights(c Config, seed int64) *Weights[float64] {
	w := RandomWeights[float64](c, seed)
	rng := rand.New(rand.NewSource(seed + 1))
	for _, t := range w.Tensors(c) {
		for i := range t.Data {
			if len(t.Shape) == 1 {
				t.Data[i] = 1 + 0.4*rng.NormFloat64()
			} else if t.Name == "tok_embeddings.weight" {
				t.Data[i] = rng.NormFloat64()
			} else {
				t.Data[i] *= 1.5
			}
		}
	}
	return w
}

func testTokens(c Config, n int, seed int64) (tokens, targets []int) {
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < n; i++ {
		tokens = append(tokens, rng.Intn(c.VocabSize))
		targets = append(targets, rng.Intn(c.VocabSize))
	}
	return
}

// gradErr compares an analytic gradient with a central difference.
func gradErr(g, fd float64) float64 {
	return math.Abs(g-fd) / math.Max(math.Max(math.Abs(g), math.Abs(fd)), 1e-4)
}

func TestGradFiniteDifferences(t *testing.T) {
	const h = 1e-5
	worstAll := 0.0
	for ci, c := range testConfigs() {
		t.Run(c.Name, func(t *testing.T) {
			w := testWeights(c, int64(10+ci))
			tokens, targets := testTokens(c, 6, int64(ci))
			loss, g, dx0 := Grad(c, w, tokens, targets)
			if l2 := Loss(c, w, tokens, targets); l2 != loss {
				t.Fatalf("Grad loss %v != Loss %v", loss, l2)
			}
			rng := rand.New(rand.NewSource(int64(ci)))
			gt := g.Tensors(c)
			checked, gmax := 0, 0.0
			for ti, p := range w.Tensors(c) {
				worst := 0.0
				for k := 0; k < 6; k++ {
					i := rng.Intn(len(p.Data))
					if p.Name == "tok_embeddings.weight" && k < 3 {
						i = tokens[k]*c.Dim + rng.Intn(c.Dim) // a row the input uses
					}
					old := p.Data[i]
					p.Data[i] = old + h
					lp := Loss(c, w, tokens, targets)
					p.Data[i] = old - h
					lm := Loss(c, w, tokens, targets)
					p.Data[i] = old
					fd := (lp - lm) / (2 * h)
					e := gradErr(gt[ti].Data[i], fd)
					gmax = math.Max(gmax, math.Abs(fd))
					worst = math.Max(worst, e)
					if e > 1e-5 {
						t.Errorf("%s[%d]: grad %.9g, finite difference %.9g (rel err %.2g)", p.Name, i, gt[ti].Data[i], fd, e)
					}
				}
				checked++
				worstAll = math.Max(worstAll, worst)
			}
			t.Logf("%d tensors, largest |gradient| sampled %.3g", checked, gmax)
			if checked != len(gt) {
				t.Errorf("checked %d tensors of %d", checked, len(gt))
			}
			// Input embeddings.
			x0 := embed(c, w, tokens)
			for k := 0; k < 8; k++ {
				tt, i := rng.Intn(len(tokens)), rng.Intn(c.Dim)
				old := x0[tt][i]
				x0[tt][i] = old + h
				lp, _ := CrossEntropy(forward(c, w, x0).logits, targets)
				x0[tt][i] = old - h
				lm, _ := CrossEntropy(forward(c, w, x0).logits, targets)
				x0[tt][i] = old
				fd := (lp - lm) / (2 * h)
				if e := gradErr(dx0[tt][i], fd); e > 1e-5 {
					t.Errorf("dx0[%d][%d]: grad %.9g, finite difference %.9g", tt, i, dx0[tt][i], fd)
				} else {
					worstAll = math.Max(worstAll, e)
				}
			}
		})
	}
	t.Logf("worst relative error over all sampled entries: %.3g", worstAll)
}

// TestRMSNormGradIsExact pins the correction to the research code's bug: its
// backward multiplies the projection term by an extra w_i.
func TestRMSNormGradIsExact(t *testing.T) {
	x := []float64{0.3, -1.2, 2.0, 0.7}
	w := []float64{0.5, 2.0, -1.0, 1.5}
	dy := []float64{1, -0.5, 0.25, 2}
	y := make([]float64, 4)
	r := rmsnorm(y, x, w, 1e-5)
	dx, dw := make([]float64, 4), make([]float64, 4)
	rmsnormBack(dx, dw, dy, x, w, r)
	for i := range x {
		f := func(v float64) float64 {
			xx := append([]float64(nil), x...)
			xx[i] = v
			rmsnorm(y, xx, w, 1e-5)
			return dot(y, dy)
		}
		fd := (f(x[i]+1e-6) - f(x[i]-1e-6)) / 2e-6
		if math.Abs(fd-dx[i]) > 1e-7 {
			t.Errorf("dx[%d] = %v, finite difference %v", i, dx[i], fd)
		}
	}
}

func TestForwardCausal(t *testing.T) {
	// A later token never changes an earlier position's logits.
	for _, c := range testConfigs() {
		w := testWeights(c, 3)
		tokens, _ := testTokens(c, 6, 4)
		a := Forward(c, w, tokens)
		tokens[5] = (tokens[5] + 1) % c.VocabSize
		b := Forward(c, w, tokens)
		for p := 0; p < 5; p++ {
			for v := range a[p] {
				if a[p][v] != b[p][v] {
					t.Fatalf("%s: position %d changed when token 5 did", c.Name, p)
				}
			}
		}
		if fmt.Sprint(a[5]) == fmt.Sprint(b[5]) {
			t.Errorf("%s: position 5 did not change with its own token", c.Name)
		}
	}
}
