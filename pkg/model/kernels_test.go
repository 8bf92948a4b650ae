package model

import (
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	_ "github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/mil/milref"
)

// kernelTestConfigs are the shapes every kernel is checked on: the tiny
// example (GQA 4 over 2), a reduced-width stories shape (MHA, head_dim
// 64), and a Qwen3-like GQA shape with q/k norm, n_heads·head_dim ≠ dim and
// the deepnet residual scale.
func kernelTestConfigs(t testing.TB) []Config {
	tiny, err := LoadConfig(filepath.Join(sharedtest.Root(t), "examples", "models", "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stories := Config{Name: "stories-narrow", Dim: 256, HiddenDim: 704, NLayers: 2, NHeads: 4, NKVHeads: 4,
		HeadDim: 64, VocabSize: 512, SeqLen: 256, RopeTheta: 1e4, NormEps: 1e-5, TiedEmbeddings: true, ResidualScale: "1"}
	qwen := Config{Name: "qwen-narrow", Dim: 128, HiddenDim: 320, NLayers: 2, NHeads: 4, NKVHeads: 2,
		HeadDim: 64, VocabSize: 512, SeqLen: 128, RopeTheta: 1e6, NormEps: 1e-6, TiedEmbeddings: true,
		ResidualScale: "deepnet", QKNorm: true}
	return []Config{tiny, stories, qwen}
}

// roundHalf rounds every value of x to the nearest half, as writing it to a
// surface does.
func roundHalf(x []float64) {
	for i, v := range x {
		x[i] = float64(f16.ToFloat32(f16.FromFloat32(float32(v))))
	}
}

// kernelWeights returns random weights of layer 0 rounded to halves (so
// that the reference sees exactly what the surfaces hold), with q/k norm
// weights away from 1.
func kernelWeights(c Config, seed int64) *Weights[float64] {
	w := RandomWeights[float64](c, seed)
	rng := rand.New(rand.NewSource(seed + 1))
	for _, t := range w.Tensors(c) {
		if len(t.Shape) == 1 {
			for i := range t.Data {
				t.Data[i] = 0.5 + rng.Float64()
			}
		}
		roundHalf(t.Data)
	}
	return w
}

// rows turns channel-first a[c*S+t] into rows r[t][c]; cols is the inverse.
func rows(a []float64, C, S int) [][]float64 {
	r := zeros(S, C)
	for c := 0; c < C; c++ {
		for t := 0; t < S; t++ {
			r[t][c] = a[c*S+t]
		}
	}
	return r
}

func cols(r [][]float64) []float64 {
	S, C := len(r), len(r[0])
	a := make([]float64, C*S)
	for t := 0; t < S; t++ {
		for c := 0; c < C; c++ {
			a[c*S+t] = r[t][c]
		}
	}
	return a
}

// refKernel computes a kernel's outputs from its inputs with the float64
// definitions (reference.go), independently of the MIL program.
func refKernel(c Config, name string, S int, in map[string][]float64, l *Layer[float64]) map[string][]float64 {
	D, H, QD, KVD, HD := c.Dim, c.HiddenDim, c.QDim(), c.KVDim(), c.HeadDim
	R := c.KVGroup()
	scale := 1 / math.Sqrt(float64(HD))
	out := map[string][]float64{}
	attention := func(qr, kr, v [][]float64) (a [][]float64, att [][][]float64) {
		a = zeros(S, QD)
		att = make([][][]float64, c.NHeads)
		for h := 0; h < c.NHeads; h++ {
			j := h / R
			att[h] = make([][]float64, S)
			for t := 0; t < S; t++ {
				score := make([]float64, t+1)
				for s := 0; s <= t; s++ {
					score[s] = dot(qr[t][h*HD:(h+1)*HD], kr[s][j*HD:(j+1)*HD]) * scale
				}
				p := softmax(score)
				att[h][t] = p
				for s := 0; s <= t; s++ {
					axpy(a[t][h*HD:(h+1)*HD], p[s], v[s][j*HD:(j+1)*HD])
				}
			}
		}
		return a, att
	}
	switch name {
	case "attn_core": // attention output of given q_rope, k_rope, v
		a, _ := attention(rows(in["q_rope"], QD, S), rows(in["k_rope"], KVD, S), rows(in["v"], KVD, S))
		out["attn"] = cols(a)
	case "attn_fwd":
		x := rows(in["xnorm"], D, S)
		q, k, v := matmulRows(l.Wq, x, QD), matmulRows(l.Wk, x, KVD), matmulRows(l.Wv, x, KVD)
		qn, kn := q, k
		if c.QKNorm {
			qn, _ = headNorm(q, l.QNorm, HD, c.NormEps)
			kn, _ = headNorm(k, l.KNorm, HD, c.NormEps)
			out["q"], out["k"] = cols(q), cols(k)
		}
		qr, kr := clone(qn), clone(kn)
		for t := 0; t < S; t++ {
			rope(qr[t], t, HD, c.RopeTheta, false)
			rope(kr[t], t, HD, c.RopeTheta, false)
		}
		a, _ := attention(qr, kr, v)
		out["o"] = cols(matmulRows(l.Wo, a, D))
		out["attn"], out["q_rope"], out["k_rope"], out["v"] = cols(a), cols(qr), cols(kr), cols(v)
	case "ffn_fwd":
		x := rows(in["x2norm"], D, S)
		h1, h3 := matmulRows(l.W1, x, H), matmulRows(l.W3, x, H)
		gate := zeros(S, H)
		for t := range gate {
			for i := range gate[t] {
				gate[t][i] = silu(h1[t][i]) * h3[t][i]
			}
		}
		out["f"] = cols(matmulRows(l.W2, gate, D))
		out["h1"], out["h3"], out["gate"] = cols(h1), cols(h3), cols(gate)
	case "ffn_bwd":
		dgate := matmulRowsT(l.W2, rows(in["dffn"], D, S), H)
		h1, h3 := rows(in["h1"], H, S), rows(in["h3"], H, S)
		dh1, dh3 := zeros(S, H), zeros(S, H)
		for t := 0; t < S; t++ {
			for i := 0; i < H; i++ {
				z := h1[t][i]
				sig := 1 / (1 + math.Exp(-z))
				dh3[t][i] = dgate[t][i] * z * sig
				dh1[t][i] = dgate[t][i] * h3[t][i] * sig * (1 + z*(1-sig))
			}
		}
		dx := matmulRowsT(l.W1, dh1, D)
		addRows(dx, matmulRowsT(l.W3, dh3, D))
		out["dx2norm"], out["dh1"], out["dh3"] = cols(dx), cols(dh1), cols(dh3)
	case "attn_bwd":
		qr, kr, v := rows(in["q_rope"], QD, S), rows(in["k_rope"], KVD, S), rows(in["v"], KVD, S)
		da := matmulRowsT(l.Wo, rows(in["do"], D, S), QD)
		_, att := attention(qr, kr, v)
		dq, dk, dv := zeros(S, QD), zeros(S, KVD), zeros(S, KVD)
		for h := 0; h < c.NHeads; h++ {
			j := h / R
			for t := 0; t < S; t++ {
				p, dout := att[h][t], da[t][h*HD:(h+1)*HD]
				dp := make([]float64, t+1)
				for s := 0; s <= t; s++ {
					axpy(dv[s][j*HD:(j+1)*HD], p[s], dout)
					dp[s] = dot(dout, v[s][j*HD:(j+1)*HD])
				}
				sum := dot(p, dp)
				for s := 0; s <= t; s++ {
					ds := p[s] * (dp[s] - sum) * scale
					axpy(dq[t][h*HD:(h+1)*HD], ds, kr[s][j*HD:(j+1)*HD])
					axpy(dk[s][j*HD:(j+1)*HD], ds, qr[t][h*HD:(h+1)*HD])
				}
			}
		}
		for t := 0; t < S; t++ {
			rope(dq[t], t, HD, c.RopeTheta, true)
			rope(dk[t], t, HD, c.RopeTheta, true)
		}
		out["dv"] = cols(dv)
		if c.QKNorm {
			out["dq_norm"], out["dk_norm"] = cols(dq), cols(dk)
			break
		}
		dx := matmulRowsT(l.Wq, dq, D)
		addRows(dx, matmulRowsT(l.Wk, dk, D))
		addRows(dx, matmulRowsT(l.Wv, dv, D))
		out["dxnorm"], out["dq"], out["dk"] = cols(dx), cols(dq), cols(dk)
	case "qkv_bwd":
		dx := matmulRowsT(l.Wq, rows(in["dq"], QD, S), D)
		addRows(dx, matmulRowsT(l.Wk, rows(in["dk"], KVD, S), D))
		addRows(dx, matmulRowsT(l.Wv, rows(in["dv"], KVD, S), D))
		out["dxnorm"] = cols(dx)
	default:
		panic("no reference for kernel " + name)
	}
	return out
}

// kernelInputs makes random activations for every activation region of
// k, rounded to halves.
func kernelInputs(k *Kernel, seed int64) map[string][]float64 {
	rng := rand.New(rand.NewSource(seed))
	in := map[string][]float64{}
	for _, r := range k.In.Regions {
		if r.Weight {
			continue
		}
		a := make([]float64, r.C*r.S)
		for i := range a {
			a[i] = math.Sqrt(3) * (2*rng.Float64() - 1) // unit variance
		}
		roundHalf(a)
		in[r.Source] = a
	}
	return in
}

// consistentInputs replaces attn_bwd's "attn" input with the attention
// output of its q_rope, k_rope and v inputs, as the forward would give it.
func consistentInputs(c Config, k *Kernel, S int, in map[string][]float64) {
	if k.Name != "attn_bwd" {
		return
	}
	l := &Layer[float64]{Wo: make([]float64, c.Dim*c.QDim())}
	out := refKernel(c, "attn_core", S, in, l)
	a := out["attn"]
	roundHalf(a)
	in["attn"] = a
}

// packInput fills a surface from the layout alone: weights of layer 0 from
// w (transposed where the region says), activations from acts.
func packInput(t testing.TB, s *anert.Surface, c Config, k *Kernel, w *Weights[float64], acts map[string][]float64) {
	tensors := TensorMap(c, ConvertWeights[float32](c, w))
	if err := WriteWeights(s, &k.In, 0, tensors); err != nil {
		t.Fatal(err)
	}
	for _, r := range k.In.Regions {
		if r.Weight {
			continue
		}
		if err := s.WriteRegion(Box(r), to32(acts[r.Source])); err != nil {
			t.Fatal(err)
		}
	}
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// relErr is max|got − want| / max|want|.
func relErr(got []float32, want []float64) float64 {
	var e, m float64
	for i, w := range want {
		e = max(e, math.Abs(float64(got[i])-w))
		m = max(m, math.Abs(w))
	}
	if m == 0 {
		return e
	}
	return e / m
}

// kernelTol is the largest relative error allowed per output (fp16 storage
// between ops; the measured figures are logged by -v).
const kernelTol = 5e-3

func TestKernelsMatchReference(t *testing.T) {
	dev, err := anert.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, c := range kernelTestConfigs(t) {
		ks, err := BuildKernels(c)
		if err != nil {
			t.Fatal(err)
		}
		w := kernelWeights(c, 7)
		for ki, k := range ks.Kernels {
			t.Run(c.Name+"/"+k.Name, func(t *testing.T) {
				checkKernel(t, dev, ks, k, w, int64(100+ki))
			})
		}
	}
}

func checkKernel(t *testing.T, dev anert.Device, ks *KernelSet, k *Kernel, w *Weights[float64], seed int64) {
	c := ks.Config
	if vs := mil.Validate(k.Program); len(vs) > 0 {
		t.Errorf("%d ANE rule violations, first: %v", len(vs), vs[0])
	}
	text := mil.Print(k.Program)
	p, err := mil.Parse(text)
	if err != nil {
		t.Fatalf("parse printed program: %v", err)
	}
	if !mil.Equal(p, k.Program) {
		t.Fatal("printed and parsed program differs from the generated one")
	}
	if n, _ := anert.FLOPs(p); n != k.FLOPs || n <= 0 {
		t.Errorf("FLOPs %d, program counts %d", k.FLOPs, n)
	}
	kern, err := dev.Compile(p, ks.BlobSource())
	if err != nil {
		t.Fatal(err)
	}
	defer kern.Close()
	if kern.InputShape() != k.In.Shape || kern.OutputShape() != k.Out.Shape {
		t.Fatalf("shapes %v -> %v, layouts say %v -> %v", kern.InputShape(), kern.OutputShape(), k.In.Shape, k.Out.Shape)
	}
	b, err := kern.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	acts := kernelInputs(k, seed)
	consistentInputs(c, k, ks.S, acts)
	packInput(t, b.In(), c, k, w, acts)
	if err := b.Eval(); err != nil {
		t.Fatal(err)
	}
	want := refKernel(c, k.Name, ks.S, acts, &w.Layers[0])
	if len(want) != len(k.Out.Regions) {
		t.Fatalf("reference has %d outputs, layout %d", len(want), len(k.Out.Regions))
	}
	for _, r := range k.Out.Regions {
		got := make([]float32, r.C*r.S)
		if err := b.Out().ReadRegion(Box(r), got); err != nil {
			t.Fatal(err)
		}
		e := relErr(got, want[r.Source])
		t.Logf("%-8s [%4d x %4d] max rel err %.2e", r.Name, r.C, r.S, e)
		if !(e <= kernelTol) {
			t.Errorf("%s: relative error %.3g > %g", r.Name, e, kernelTol)
		}
	}
}

// TestKernelsMilref cross-checks the programs themselves (not the CPU
// backend) with the float64 MIL interpreter on the smallest shape.
func TestKernelsMilref(t *testing.T) {
	c := kernelTestConfigs(t)[2]
	c.SeqLen = 64
	ks, err := BuildKernels(c)
	if err != nil {
		t.Fatal(err)
	}
	w := kernelWeights(c, 3)
	for ki, k := range ks.Kernels {
		acts := kernelInputs(k, int64(ki))
		consistentInputs(c, k, ks.S, acts)
		s, _ := anert.NewSurface(k.In.Shape[1], k.In.Shape[3])
		packInput(t, s, c, k, w, acts)
		in := make([]float64, len(s.Halves()))
		for i, h := range s.Halves() {
			in[i] = float64(f16.ToFloat32(h))
		}
		out, err := milref.Eval(k.Program, in, ks.BlobSource())
		if err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
		want := refKernel(c, k.Name, ks.S, acts, &w.Layers[0])
		for _, r := range k.Out.Regions {
			got := make([]float32, 0, r.C*r.S)
			for ch := r.C0; ch < r.C0+r.C; ch++ {
				for p := r.S0; p < r.S0+r.S; p++ {
					got = append(got, float32(out[ch*k.Out.Shape[3]+p]))
				}
			}
			e := relErr(got, want[r.Source])
			t.Logf("%s %-8s max rel err %.2e", k.Name, r.Name, e)
			// Only the constants (1/√head_dim, RoPE tables, eps) are rounded to halves.
			if !(e <= 2e-3) {
				t.Errorf("%s %s: milref relative error %.3g > 2e-3", k.Name, r.Name, e)
			}
		}
	}
}

func TestHeadNormBackward(t *testing.T) {
	const heads, hd, S = 3, 16, 10
	rng := rand.New(rand.NewSource(5))
	x, dy, w := make([]float64, heads*hd*S), make([]float64, heads*hd*S), make([]float64, hd)
	for i := range x {
		x[i], dy[i] = rng.NormFloat64()*3, rng.NormFloat64()
	}
	for i := range w {
		w[i] = 0.5 + rng.Float64()
	}
	wantDx := zeros(S, heads*hd)
	wantDw := make([]float64, hd)
	xr := rows(x, heads*hd, S)
	_, r := headNorm(xr, w, hd, 1e-6)
	headNormBack(wantDx, wantDw, rows(dy, heads*hd, S), xr, w, r, hd)

	dx, dw := make([]float32, len(x)), make([]float32, hd)
	dw[0] = 1 // accumulates
	wantDw[0]++
	HeadNormBackward(dx, dw, to32(dy), to32(x), to32(w), heads, 1e-6, make([]float32, 2*S))
	if e := relErr(dx, cols(wantDx)); e > 1e-5 {
		t.Errorf("dx relative error %.3g", e)
	}
	if e := relErr(dw, wantDw); e > 1e-5 {
		t.Errorf("dw relative error %.3g", e)
	}
}

// TestBundleForwardPadded runs the forward pass of the tiny model (GQA)
// with seq_len 100, which the kernels pad to 128 positions, from a bundle,
// against the float64 reference over the 100 real positions.
func TestBundleForwardPadded(t *testing.T) {
	c := kernelTestConfigs(t)[0]
	c.SeqLen = 100
	ks, err := BuildKernels(c)
	if err != nil {
		t.Fatal(err)
	}
	if ks.S != 128 {
		t.Fatalf("S = %d, want 128", ks.S)
	}
	for _, k := range ks.Kernels {
		if vs := mil.Validate(k.Program); len(vs) > 0 {
			t.Errorf("%s: %v", k.Name, vs[0])
		}
	}
	b, bc := writeAndOpenBundle(t, ks, "tiny.aneb")
	dev, _ := anert.Open("cpu")
	defer dev.Close()
	w64 := RandomWeights[float64](c, 9)
	for i := range w64.TokenEmbedding {
		w64.TokenEmbedding[i] *= 50 // logits of a useful size
	}
	m, err := NewBundleModel(dev, b, bc, ConvertWeights[float32](c, w64))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SyncWeights(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(4))
	tokens := make([]int, ks.S)
	for i := range tokens {
		tokens[i] = rng.Intn(c.VocabSize)
	}
	logits := make([]float32, c.VocabSize*ks.S)
	if err := m.Forward(tokens, logits); err != nil {
		t.Fatal(err)
	}
	want := Forward(c, w64, tokens[:c.SeqLen])
	got := make([]float32, 0, c.SeqLen*c.VocabSize)
	var flat []float64
	for p := 0; p < c.SeqLen; p++ {
		for v := 0; v < c.VocabSize; v++ {
			got = append(got, logits[v*ks.S+p])
			flat = append(flat, want[p][v])
		}
	}
	e := relErr(got, flat)
	t.Logf("tiny, seq_len 100 padded to 128: logits max rel err %.2e", e)
	if !(e <= 1e-2) {
		t.Errorf("logits relative error %.3g > 1e-2", e)
	}
	// The layers matter: without their branches the logits are far off.
	off := ConvertWeights[float64](c, w64)
	for i := range off.Layers {
		clear(off.Layers[i].Wo)
		clear(off.Layers[i].W2)
	}
	bare := Forward(c, off, tokens[:c.SeqLen])
	flat = flat[:0]
	for p := 0; p < c.SeqLen; p++ {
		flat = append(flat, bare[p]...)
	}
	if e0 := relErr(got, flat); e0 < 100*e {
		t.Errorf("the layers change the logits by %.3g only, error %.3g: the check is too weak", e0, e)
	}
}

// writeAndOpenBundle writes ks as a bundle named name in a temporary folder
// and reads it back through the validating reader, as ane-train will.
func writeAndOpenBundle(t *testing.T, ks *KernelSet, name string) (*format.Bundle, Config) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := ks.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	b, bc, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b, bc
}
