package model

import (
	"fmt"
	"math"
	"sort"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

// This file generates the accelerator kernels of one transformer layer as
// MIL programs that take their weights as part of their one input surface
// ("weights as tensors": compiled once, weights rewritten per optimizer
// step). Every kernel is the same for every layer; a binding per layer
// holds that layer's weights.
//
// The split between kernels and the CPU (per layer; S positions):
//
//	CPU     xnorm = RMSNorm(x, attention_norm)
//	attn_fwd (xnorm; Wqᵀ Wkᵀ Wvᵀ Wo [q_norm k_norm])
//	        -> o = Wo·attention, attn, q_rope, k_rope, v [q, k]
//	CPU     x2 = x + α·o;  x2norm = RMSNorm(x2, ffn_norm)
//	ffn_fwd (x2norm; W1ᵀ W3ᵀ W2) -> f = W2·gate, h1, h3, gate
//	CPU     x' = x2 + α·f
//	backward, given dy = ∂L/∂x':
//	CPU     dffn = α·dy
//	ffn_bwd (dffn, h1, h3; W2 W1 W3) -> dx2norm, dh1, dh3
//	CPU     dx2 = dy + RMSNormBackward(dx2norm);  do = α·dx2
//	attn_bwd (do, q_rope, k_rope, v, attn; Wo [Wq Wk Wv])
//	        -> [dxnorm] dq, dk, dv          (without qk_norm: QKV fused)
//	        -> dq_norm, dk_norm, dv          (with qk_norm)
//	CPU     (qk_norm) dq, dk = HeadNormBackward(dq_norm, q), (dk_norm, k)
//	qkv_bwd (dq, dk, dv; Wq Wk Wv) -> dxnorm (only with qk_norm)
//	CPU     dx = dx2 + RMSNormBackward(dxnorm);  dW = dY·Xᵀ for every matrix
//
// So RMSNorm (forward and backward), the residual adds and the residual
// scale α, the embedding and the classifier run on the CPU, in fp32; the
// per-head q/k RMSNorm of Qwen3 runs inside attn_fwd (its weights are input
// regions) and its backward on the CPU (HeadNormBackward).
//
// Conventions, the same in every kernel and in the reference math:
//   - activations are channel-first: feature c of token t at (c, t);
//   - forward kernels take weights transposed, backward kernels raw (the
//     research code's packing); Wo and W2 enter forward kernels raw and are
//     contracted with transpose flags, so every input has Dim channels;
//   - query head h reads key/value head h / (n_heads/n_kv_heads): queries
//     are grouped as [1, n_kv_heads, group·S, head_dim], so one batched
//     matmul per kv head serves its whole group and the backward's sum over
//     the group is the matmul's own contraction;
//   - RoPE rotates interleaved pairs (2i, 2i+1) by pos·θ^(−2i/head_dim)
//     (llama2.c); the cos/sin tables and the causal mask are blob constants;
//   - positions at and after seq_len (when seq_len is not a multiple of 64)
//     are padding: causal attention keeps them from touching real
//     positions, and the caller writes zero gradients there.

// Kernel phases.
const (
	PhaseForward  = "forward"
	PhaseBackward = "backward"
)

// Kernel is one generated kernel: its program, the layouts of its input and
// output surfaces, the blob files its program reads and its FLOPs per
// evaluation (counted from the program's ops by anert.FLOPs).
type Kernel struct {
	Name    string
	Phase   string // PhaseForward or PhaseBackward
	Program *mil.Program
	In, Out Layout
	Blobs   []string // blob file names, e.g. "rope.bin", sorted
	FLOPs   int64
}

// KernelSet is every kernel of a model, with the blob files they share.
type KernelSet struct {
	Config  Config
	S       int // positions per evaluation: seq_len rounded up to a multiple of 64
	Kernels []*Kernel
	Files   map[string][]byte // blob file name -> contents (format.MarshalBlobs)
}

// Kernel returns the kernel called name, or nil.
func (ks *KernelSet) Kernel(name string) *Kernel {
	for _, k := range ks.Kernels {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// BlobPath is the path a program names a blob file by: BlobPath("rope.bin")
// is "@model_path/weights/rope.bin".
func BlobPath(file string) string { return anert.ModelPath + "weights/" + file }

// BlobSource resolves the programs' blob paths from ks.Files.
func (ks *KernelSet) BlobSource() anert.BlobSource {
	m := map[string][]byte{}
	for n, b := range ks.Files {
		m[BlobPath(n)] = b
	}
	return anert.MapBlobs(m)
}

// Blob files and the offsets of their blobs.
const (
	ropeFile = "rope.bin" // cos [1,1,S,head_dim] then sin
	maskFile = "mask.bin" // causal mask [1,1,S,S]: 0 where key <= query, else -65504
)

// MaskValue is the additive mask of a key after the query (the most
// negative finite half).
const MaskValue = -65504

// Weight names, with %d for the layer.
const (
	srcWq    = "layers.%d.attention.wq.weight"
	srcWk    = "layers.%d.attention.wk.weight"
	srcWv    = "layers.%d.attention.wv.weight"
	srcWo    = "layers.%d.attention.wo.weight"
	srcQNorm = "layers.%d.attention.q_norm.weight"
	srcKNorm = "layers.%d.attention.k_norm.weight"
	srcW1    = "layers.%d.feed_forward.w1.weight"
	srcW2    = "layers.%d.feed_forward.w2.weight"
	srcW3    = "layers.%d.feed_forward.w3.weight"
)

// BuildKernels generates the kernels of c (see the file comment).
func BuildKernels(c Config) (*KernelSet, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	g := &gen{c: c, S: roundUp(c.SeqLen, 64)}
	g.blobs()
	ks := &KernelSet{Config: c, S: g.S, Files: g.files}
	builders := []func() (*Kernel, error){g.attnFwd, g.ffnFwd, g.ffnBwd, g.attnBwd}
	if c.QKNorm {
		builders = append(builders, g.qkvBwd)
	}
	for _, build := range builders {
		k, err := build()
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", c.Name, err)
		}
		ks.Kernels = append(ks.Kernels, k)
	}
	return ks, nil
}

type gen struct {
	c     Config
	S     int
	files map[string][]byte
	offs  map[string][]uint64
}

// blobs makes the RoPE tables and the causal mask.
func (g *gen) blobs() {
	S, HD := g.S, g.c.HeadDim
	cos, sin := make([]float32, S*HD), make([]float32, S*HD)
	for p := 0; p < S; p++ {
		for i := 0; i < HD/2; i++ {
			a := float64(p) * math.Pow(g.c.RopeTheta, -float64(2*i)/float64(HD))
			cos[p*HD+2*i], cos[p*HD+2*i+1] = float32(math.Cos(a)), float32(math.Cos(a))
			sin[p*HD+2*i], sin[p*HD+2*i+1] = float32(math.Sin(a)), float32(math.Sin(a))
		}
	}
	mask := make([]float32, S*S)
	for q := 0; q < S; q++ {
		for k := q + 1; k < S; k++ {
			mask[q*S+k] = MaskValue
		}
	}
	g.files, g.offs = map[string][]byte{}, map[string][]uint64{}
	for name, ts := range map[string][][]float32{ropeFile: {cos, sin}, maskFile: {mask}} {
		var bs []format.Blob
		for _, t := range ts {
			bs = append(bs, format.Blob{DType: format.BlobFP16, Data: halfBytes(t)})
		}
		data, offs, err := format.MarshalBlobs(bs)
		if err != nil {
			panic(err) // fp16 data of whole elements always marshals
		}
		g.files[name], g.offs[name] = data, offs
	}
}

func halfBytes(x []float32) []byte {
	h := make([]uint16, len(x))
	f16.Encode(h, x)
	b := make([]byte, 2*len(h))
	for i, v := range h {
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	return b
}

// kb is one kernel under construction.
type kb struct {
	*mil.Builder
	g       *gen
	in      Layout
	out     layoutBuilder
	outs    []mil.Var
	blobs   map[string]bool
	ropeTab [2]mil.Var // cos, sin
	hasRope bool
}

func (g *gen) start(in layoutBuilder) *kb {
	l := in.layout()
	return &kb{Builder: mil.NewBuilder("main", mil.Tensor(mil.FP16, l.Shape[:]...)), g: g, in: l, blobs: map[string]bool{}}
}

// region slices the input region called name as [1, C, 1, S].
func (k *kb) region(name string) mil.Var {
	r, ok := k.in.Region(name)
	if !ok {
		panic("model: kernel generator: no input region " + name)
	}
	return k.SliceBySize(k.Input(), []int{0, r.C0, 0, r.S0}, []int{1, r.C, 1, r.S})
}

// mat slices region name as the matrix [1, 1, C, S].
func (k *kb) mat(name string) mil.Var {
	r, _ := k.in.Region(name)
	return k.Reshape(k.region(name), 1, 1, r.C, r.S)
}

// emit adds v, of c·S elements in channel-first order, as the next output region.
func (k *kb) emit(name string, v mil.Var, c int) {
	k.out.stack(name, c, k.g.S)
	k.outs = append(k.outs, k.Reshape(v, 1, c, 1, k.g.S))
}

func (k *kb) blob(file string, idx int, shape ...int) mil.Var {
	k.blobs[file] = true
	return k.Blob(mil.Tensor(mil.FP16, shape...), BlobPath(file), k.g.offs[file][idx])
}

func (k *kb) mask() mil.Var { return k.blob(maskFile, 0, 1, 1, k.g.S, k.g.S) }

// heads turns a channel-first [.., n·HD, S] value into [1, n, S, HD].
func (k *kb) heads(x mil.Var, n int) mil.Var {
	return k.Transpose(k.Reshape(x, 1, n, k.g.c.HeadDim, k.g.S), 0, 1, 3, 2)
}

// unheads turns [1, n, S, HD] into channel-first [1, n·HD, 1, S].
func (k *kb) unheads(x mil.Var, n int) mil.Var {
	return k.Reshape(k.Transpose(x, 0, 1, 3, 2), 1, n*k.g.c.HeadDim, 1, k.g.S)
}

// rope rotates the interleaved pairs of x [1, n, S, HD] by the position's
// angles; inverse rotates back (the backward of the forward rotation):
//
//	forward  out = x⊙cos + (−x₁, x₀)⊙sin
//	inverse  out = x⊙cos + (x₁, −x₀)⊙sin
func (k *kb) rope(x mil.Var, n int, inverse bool) mil.Var {
	S, HD := k.g.S, k.g.c.HeadDim
	if !k.hasRope {
		k.ropeTab = [2]mil.Var{k.blob(ropeFile, 0, 1, 1, S, HD), k.blob(ropeFile, 1, 1, 1, S, HD)}
		k.hasRope = true
	}
	pairs := k.Reshape(x, 1, n, S*HD/2, 2)
	x0 := k.SliceBySize(pairs, []int{0, 0, 0, 0}, []int{1, n, S * HD / 2, 1})
	x1 := k.SliceBySize(pairs, []int{0, 0, 0, 1}, []int{1, n, S * HD / 2, 1})
	var rot mil.Var
	if inverse {
		rot = k.Concat(3, false, x1, k.Mul(x0, k.FP16(-1)))
	} else {
		rot = k.Concat(3, false, k.Mul(x1, k.FP16(-1)), x0)
	}
	rot = k.Reshape(rot, 1, n, S, HD)
	return k.Add(k.Mul(x, k.ropeTab[0]), k.Mul(rot, k.ropeTab[1]))
}

// headNorm is the per-head RMSNorm of x [1, n, S, HD] with weight w [1,1,1,HD].
func (k *kb) headNorm(x, w mil.Var) mil.Var {
	HD := k.g.c.HeadDim
	ms := k.Reduce("reduce_sum", k.Mul(k.Mul(x, x), k.FP16(1/float64(HD))), []int{-1}, true)
	r := k.Pow(k.Add(ms, k.FP16(k.g.c.NormEps)), k.FP16(-0.5))
	return k.Mul(k.Mul(x, r), w)
}

// scores returns the causal attention probabilities of grouped queries q
// [1, NKV, R·S, HD] over keys kT [1, NKV, HD, S], as [1, NKV, R·S, S].
func (k *kb) probs(q, kT mil.Var) mil.Var {
	c, S := k.g.c, k.g.S
	s := k.Mul(k.MatMul(q, kT, false, false), k.FP16(1/math.Sqrt(float64(c.HeadDim))))
	s = k.Add(k.Reshape(s, 1, c.NHeads, S, S), k.mask())
	p := k.Softmax(s, -1)
	return k.Reshape(p, 1, c.NKVHeads, c.KVGroup()*S, S)
}

func (k *kb) finish(name, phase string) (*Kernel, error) {
	if len(k.outs) == 1 {
		k.Output(k.outs[0])
	} else {
		k.Output(k.Concat(1, false, k.outs...))
	}
	p, err := k.Program()
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", name, err)
	}
	n, err := anert.FLOPs(p)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", name, err)
	}
	var blobs []string
	for b := range k.blobs {
		blobs = append(blobs, b)
	}
	sort.Strings(blobs)
	out := k.out.layout()
	return &Kernel{Name: name, Phase: phase, Program: p, In: k.in, Out: out, Blobs: blobs, FLOPs: n}, nil
}

// attnFwd: input xnorm [D,S] | Wqᵀ | Wkᵀ | Wvᵀ | Wo raw [D,QD] | q_norm, k_norm [1,HD];
// output o [D], attn [QD], q_rope [QD], k_rope [KVD], v [KVD], and with
// qk_norm the projections q [QD], k [KVD] (for the norm's backward).
func (g *gen) attnFwd() (*Kernel, error) {
	c, S := g.c, g.S
	D, QD, KVD, HD := c.Dim, c.QDim(), c.KVDim(), c.HeadDim
	NH, NKV, R := c.NHeads, c.NKVHeads, c.KVGroup()
	var in layoutBuilder
	in.act("xnorm", D, S)
	in.weight("wq", srcWq, QD, D, true)
	in.weight("wk", srcWk, KVD, D, true)
	in.weight("wv", srcWv, KVD, D, true)
	in.weight("wo", srcWo, D, QD, false)
	if c.QKNorm {
		in.weight("q_norm", srcQNorm, 1, HD, false)
		in.weight("k_norm", srcKNorm, 1, HD, false)
	}
	k := g.start(in)
	x := k.mat("xnorm")
	qT := k.MatMul(k.mat("wq"), x, true, false) // [1,1,QD,S]
	kT := k.MatMul(k.mat("wk"), x, true, false) // [1,1,KVD,S]
	vT := k.MatMul(k.mat("wv"), x, true, false) // [1,1,KVD,S]
	q, kk := k.heads(qT, NH), k.heads(kT, NKV)
	if c.QKNorm {
		q = k.headNorm(q, k.region("q_norm"))
		kk = k.headNorm(kk, k.region("k_norm"))
	}
	qr, kr := k.rope(q, NH, false), k.rope(kk, NKV, false)
	p := k.probs(k.Reshape(qr, 1, NKV, R*S, HD), k.Transpose(kr, 0, 1, 3, 2))
	a := k.MatMul(p, k.Reshape(vT, 1, NKV, HD, S), false, true) // [1,NKV,R·S,HD]
	aT := k.Reshape(k.unheads(k.Reshape(a, 1, NH, S, HD), NH), 1, 1, QD, S)
	o := k.MatMul(k.mat("wo"), aT, false, false) // [1,1,D,S]
	k.emit("o", o, D)
	k.emit("attn", aT, QD)
	k.emit("q_rope", k.unheads(qr, NH), QD)
	k.emit("k_rope", k.unheads(kr, NKV), KVD)
	k.emit("v", vT, KVD)
	if c.QKNorm {
		k.emit("q", qT, QD)
		k.emit("k", kT, KVD)
	}
	return k.finish("attn_fwd", PhaseForward)
}

// ffnFwd: input x2norm [D,S] | W1ᵀ | W3ᵀ | W2 raw [D,H]; output f = W2·gate
// [D], h1 = W1·x2norm, h3 = W3·x2norm, gate = silu(h1)⊙h3 [H each].
func (g *gen) ffnFwd() (*Kernel, error) {
	c, S := g.c, g.S
	D, H := c.Dim, c.HiddenDim
	var in layoutBuilder
	in.act("x2norm", D, S)
	in.weight("w1", srcW1, H, D, true)
	in.weight("w3", srcW3, H, D, true)
	in.weight("w2", srcW2, D, H, false)
	k := g.start(in)
	x := k.mat("x2norm")
	h1 := k.MatMul(k.mat("w1"), x, true, false) // [1,1,H,S]
	h3 := k.MatMul(k.mat("w3"), x, true, false)
	gate := k.Mul(k.Mul(h1, k.Unary("sigmoid", h1)), h3)
	f := k.MatMul(k.mat("w2"), gate, false, false) // [1,1,D,S]
	k.emit("f", f, D)
	k.emit("h1", h1, H)
	k.emit("h3", h3, H)
	k.emit("gate", gate, H)
	return k.finish("ffn_fwd", PhaseForward)
}

// ffnBwd: input dffn [D,S] | h1 [H,S] | h3 [H,S] | W2 raw [D,H] | W1 raw
// [H,D] | W3 raw [H,D]; output dx2norm = W1ᵀ·dh1 + W3ᵀ·dh3 [D], dh1, dh3 [H]
// where dgate = W2ᵀ·dffn, σ = sigmoid(h1), dh3 = dgate⊙h1⊙σ,
// dh1 = dgate⊙h3⊙σ⊙(1 + h1⊙(1−σ)).
func (g *gen) ffnBwd() (*Kernel, error) {
	c, S := g.c, g.S
	D, H := c.Dim, c.HiddenDim
	var in layoutBuilder
	in.act("dffn", D, S)
	in.act("h1", H, S)
	in.act("h3", H, S)
	in.weight("w2", srcW2, D, H, false)
	in.weight("w1", srcW1, H, D, false)
	in.weight("w3", srcW3, H, D, false)
	k := g.start(in)
	dgate := k.MatMul(k.mat("w2"), k.mat("dffn"), true, false) // [1,1,H,S]
	h1, h3 := k.mat("h1"), k.mat("h3")
	sig := k.Unary("sigmoid", h1)
	dh3 := k.Mul(k.Mul(dgate, h1), sig)
	one := k.FP16(1)
	dsilu := k.Mul(sig, k.Add(one, k.Mul(h1, k.Sub(one, sig))))
	dh1 := k.Mul(k.Mul(dgate, h3), dsilu)
	dx := k.Add(k.MatMul(k.mat("w1"), dh1, true, false), k.MatMul(k.mat("w3"), dh3, true, false))
	k.emit("dx2norm", dx, D)
	k.emit("dh1", dh1, H)
	k.emit("dh3", dh3, H)
	return k.finish("ffn_bwd", PhaseBackward)
}

// attnBwd: input do [D,S] (= α·∂L/∂x2) | q_rope [QD,S] | k_rope [KVD,S] |
// v [KVD,S] | attn [QD,S] (attn_fwd's output, for the softmax backward's
// row sums) | Wo raw [D,QD] | (without qk_norm) Wq, Wk, Wv raw. It
// recomputes the attention probabilities P, and with da = Woᵀ·do, per
// query head h on kv head j = h/R:
//
//	dv_j += P_hᵀ·da_h,  dP_h = da_h·v_jᵀ,  dS_h = P_h⊙(dP_h − rowsum(da_h⊙attn_h))/√HD,
//	dq_h = RoPEᵀ(dS_h·k_j),  dk_j += RoPEᵀ(dS_hᵀ·q_h)
//
// Output: without qk_norm dxnorm = Wqᵀdq + Wkᵀdk + Wvᵀdv [D], dq [QD], dk,
// dv [KVD]; with qk_norm dq_norm [QD], dk_norm [KVD], dv [KVD] (gradients
// of the normalised q and k, for HeadNormBackward).
func (g *gen) attnBwd() (*Kernel, error) {
	c, S := g.c, g.S
	D, QD, KVD, HD := c.Dim, c.QDim(), c.KVDim(), c.HeadDim
	NH, NKV, R := c.NHeads, c.NKVHeads, c.KVGroup()
	fused := !c.QKNorm
	var in layoutBuilder
	in.act("do", D, S)
	in.act("q_rope", QD, S)
	in.act("k_rope", KVD, S)
	in.act("v", KVD, S)
	in.act("attn", QD, S)
	in.weight("wo", srcWo, D, QD, false)
	if fused {
		in.weight("wq", srcWq, QD, D, false)
		in.weight("wk", srcWk, KVD, D, false)
		in.weight("wv", srcWv, KVD, D, false)
	}
	k := g.start(in)
	daT := k.MatMul(k.mat("wo"), k.mat("do"), true, false) // [1,1,QD,S]
	da := k.Reshape(k.heads(daT, NH), 1, NKV, R*S, HD)
	q := k.Reshape(k.heads(k.region("q_rope"), NH), 1, NKV, R*S, HD)
	kT := k.Reshape(k.region("k_rope"), 1, NKV, HD, S)
	vT := k.Reshape(k.region("v"), 1, NKV, HD, S)
	p := k.probs(q, kT)                  // [1,NKV,R·S,S]
	dvT := k.MatMul(da, p, true, false)  // [1,NKV,HD,S]
	dp := k.MatMul(da, vT, false, false) // [1,NKV,R·S,S]
	// rowsum(P⊙dP) = rowsum(P⊙(da·vᵀ)) = rowsum(da⊙(P·v)) = rowsum(da⊙attn):
	// a pass over [R·S, HD] instead of [R·S, S].
	o := k.Reshape(k.heads(k.region("attn"), NH), 1, NKV, R*S, HD)
	sum := k.Reduce("reduce_sum", k.Mul(da, o), []int{-1}, true)
	// The 1/√HD of dS is applied to the (smaller) products, not to dS.
	ds := k.Mul(p, k.Sub(dp, sum))
	scale := k.FP16(1 / math.Sqrt(float64(HD)))
	dq := k.Mul(k.MatMul(ds, kT, false, true), scale) // [1,NKV,R·S,HD]
	dkT := k.Mul(k.MatMul(q, ds, true, false), scale) // [1,NKV,HD,S]
	dq = k.rope(k.Reshape(dq, 1, NH, S, HD), NH, true)
	dk := k.rope(k.Transpose(dkT, 0, 1, 3, 2), NKV, true)
	dqc, dkc := k.unheads(dq, NH), k.unheads(dk, NKV) // [1,QD,1,S], [1,KVD,1,S]
	dvc := k.Reshape(dvT, 1, KVD, 1, S)
	if fused {
		dx := k.MatMul(k.mat("wq"), k.Reshape(dqc, 1, 1, QD, S), true, false)
		dx = k.Add(dx, k.MatMul(k.mat("wk"), k.Reshape(dkc, 1, 1, KVD, S), true, false))
		dx = k.Add(dx, k.MatMul(k.mat("wv"), k.Reshape(dvc, 1, 1, KVD, S), true, false))
		k.emit("dxnorm", dx, D)
		k.emit("dq", dqc, QD)
		k.emit("dk", dkc, KVD)
	} else {
		k.emit("dq_norm", dqc, QD)
		k.emit("dk_norm", dkc, KVD)
	}
	k.emit("dv", dvc, KVD)
	return k.finish("attn_bwd", PhaseBackward)
}

// qkvBwd (qk_norm only): input dq [QD,S] | dk [KVD,S] | dv [KVD,S] | Wq,
// Wk, Wv raw; output dxnorm = Wqᵀ·dq + Wkᵀ·dk + Wvᵀ·dv [D].
func (g *gen) qkvBwd() (*Kernel, error) {
	c, S := g.c, g.S
	D, QD, KVD := c.Dim, c.QDim(), c.KVDim()
	var in layoutBuilder
	in.act("dq", QD, S)
	in.act("dk", KVD, S)
	in.act("dv", KVD, S)
	in.weight("wq", srcWq, QD, D, false)
	in.weight("wk", srcWk, KVD, D, false)
	in.weight("wv", srcWv, KVD, D, false)
	k := g.start(in)
	dx := k.MatMul(k.mat("wq"), k.mat("dq"), true, false)
	dx = k.Add(dx, k.MatMul(k.mat("wk"), k.mat("dk"), true, false))
	dx = k.Add(dx, k.MatMul(k.mat("wv"), k.mat("dv"), true, false))
	k.emit("dxnorm", dx, D)
	return k.finish("qkv_bwd", PhaseBackward)
}
