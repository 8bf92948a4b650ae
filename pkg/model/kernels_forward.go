package model

import (
	"fmt"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/format"
)

// BundleModel runs a model's forward pass from a bundle's kernels plus the
// CPU-side ops, the way the trainer and the sampler do: every kernel is
// compiled once, every layer has its own binding of every kernel (weights
// written into it by SyncWeights), and each evaluation only rewrites the
// activation regions.
type BundleModel struct {
	C       Config
	S       int // positions per evaluation
	Bundle  *format.Bundle
	Weights *Weights[float32]
	Kernels map[string]anert.Kernel
	Binds   map[string][]anert.Binding // by kernel name, one per layer

	tensors                 map[string]Tensor[float32]
	x, x2, xn, o, rrms, fin []float32
}

// NewBundleModel compiles every kernel of b on dev and binds it once per
// layer. It does not write the weights: call SyncWeights.
func NewBundleModel(dev anert.Device, b *format.Bundle, c Config, w *Weights[float32]) (*BundleModel, error) {
	if err := w.Check(c); err != nil {
		return nil, err
	}
	m := &BundleModel{C: c, S: b.Manifest.Positions, Bundle: b, Weights: w,
		Kernels: map[string]anert.Kernel{}, Binds: map[string][]anert.Binding{}, tensors: TensorMap(c, w)}
	for _, k := range b.Manifest.Kernels {
		kern, err := dev.Compile(b.Programs[k.Name], b.Blobs)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("kernel %s (%s): %w", k.Name, k.MIL, err)
		}
		m.Kernels[k.Name] = kern
		for l := 0; l < c.NLayers; l++ {
			bd, err := kern.NewBinding()
			if err != nil {
				m.Close()
				return nil, fmt.Errorf("kernel %s: layer %d: %w", k.Name, l, err)
			}
			m.Binds[k.Name] = append(m.Binds[k.Name], bd)
		}
	}
	n := c.Dim * m.S
	m.x, m.x2, m.xn, m.o, m.fin = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	m.rrms = make([]float32, m.S)
	return m, nil
}

// Close releases the bindings and kernels.
func (m *BundleModel) Close() {
	for _, bs := range m.Binds {
		for _, b := range bs {
			b.Close()
		}
	}
	for _, k := range m.Kernels {
		k.Close()
	}
}

// SyncWeights writes the fp32 master weights into the weight regions of
// every kernel's binding of every layer (fp16, transposed where the layout
// says): what a trainer does after each optimizer step.
func (m *BundleModel) SyncWeights() error {
	for _, k := range m.Bundle.Manifest.Kernels {
		for l, b := range m.Binds[k.Name] {
			if err := WriteWeights(b.In(), &k.Input, l, m.tensors); err != nil {
				return fmt.Errorf("kernel %s: layer %d: %w", k.Name, l, err)
			}
		}
	}
	return nil
}

// run writes the activation src into region in of kernel name's layer-l
// binding, evaluates it, and reads output region out into dst.
func (m *BundleModel) run(name string, l int, in string, src []float32, out string, dst []float32) error {
	k, _ := m.Bundle.Kernel(name)
	b := m.Binds[name][l]
	ri, ok1 := k.Input.Region(in)
	ro, ok2 := k.Output.Region(out)
	if !ok1 || !ok2 {
		return fmt.Errorf("kernel %s has no input %q or output %q", name, in, out)
	}
	if err := b.In().WriteRegion(Box(ri), src); err != nil {
		return err
	}
	if err := b.Eval(); err != nil {
		return fmt.Errorf("kernel %s: layer %d: %w", name, l, err)
	}
	return b.Out().ReadRegion(Box(ro), dst)
}

// Forward computes the logits of tokens (len(tokens) == S), channel-first:
// logits[v*S + t]. The residual stream, RMSNorm and the classifier are
// fp32 on the CPU; attention and the FFN run in the kernels.
func (m *BundleModel) Forward(tokens []int, logits []float32) error {
	c, S := m.C, m.S
	if len(tokens) != S {
		return fmt.Errorf("model: forward over %d tokens, the bundle's kernels take %d", len(tokens), S)
	}
	for t, tok := range tokens {
		if tok < 0 || tok >= c.VocabSize {
			return fmt.Errorf("model: token %d at position %d is outside the vocabulary of %d", tok, t, c.VocabSize)
		}
	}
	w, eps, alpha := m.Weights, float32(c.NormEps), float32(c.Alpha())
	EmbedGather(m.x, w.TokenEmbedding, tokens)
	for l := range w.Layers {
		L := &w.Layers[l]
		RMSNormForward(m.xn, m.x, L.RMSAtt, m.rrms, eps)
		if err := m.run("attn_fwd", l, "xnorm", m.xn, "o", m.o); err != nil {
			return err
		}
		AddScaled(m.x2, m.x, m.o, alpha)
		RMSNormForward(m.xn, m.x2, L.RMSFFN, m.rrms, eps)
		if err := m.run("ffn_fwd", l, "x2norm", m.xn, "f", m.o); err != nil {
			return err
		}
		AddScaled(m.x, m.x2, m.o, alpha)
	}
	RMSNormForward(m.fin, m.x, w.RMSFinal, m.rrms, eps)
	cls := w.Classifier
	if c.TiedEmbeddings {
		cls = w.TokenEmbedding
	}
	ClassifierForward(logits, cls, m.fin, c.VocabSize, c.Dim, S)
	return nil
}
