package model

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/anekit/anekit/pkg/format"
)

func TestTensors(t *testing.T) {
	for _, c := range testConfigs() {
		w := NewWeights[float32](c)
		seen := map[string]bool{}
		var n int64
		for _, tn := range w.Tensors(c) {
			if seen[tn.Name] {
				t.Errorf("%s: duplicate tensor %s", c.Name, tn.Name)
			}
			seen[tn.Name] = true
			size := 1
			for _, d := range tn.Shape {
				size *= d
			}
			if size != len(tn.Data) {
				t.Errorf("%s: %s shape %v but %d values", c.Name, tn.Name, tn.Shape, len(tn.Data))
			}
			n += int64(size)
		}
		if n != c.NumParams() {
			t.Errorf("%s: tensors hold %d values, NumParams %d", c.Name, n, c.NumParams())
		}
		if seen["output.weight"] == c.TiedEmbeddings || seen["layers.0.attention.q_norm.weight"] != c.QKNorm {
			t.Errorf("%s: tensor set does not follow the config", c.Name)
		}
		if err := w.Check(c); err != nil {
			t.Error(err)
		}
	}
}

func TestLlama2ExportRoundTrip(t *testing.T) {
	for _, c := range testConfigs()[:3] {
		w := ConvertWeights[float32](c, testWeights(c, 5))
		if c.Alpha() != 1 {
			if _, err := ToLlama2(c, w); err == nil || !strings.Contains(err.Error(), "residual scale") {
				t.Errorf("%s: residual scale %s exported: %v", c.Name, c.ResidualScale, err)
			}
			c.ResidualScale = "1"
		}
		m, err := ToLlama2(c, w)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			t.Fatal(err)
		}
		m2, err := format.DecodeLlama2Model(bytes.NewReader(b.Bytes()), int64(b.Len()), "x.bin")
		if err != nil {
			t.Fatal(err)
		}
		c2, w2, err := FromLlama2(m2, c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if c2 != c {
			t.Errorf("config %+v after round trip, want %+v", c2, c)
		}
		tokens, _ := testTokens(c, 5, 1)
		a, _ := Forward32(c, w, tokens)
		b2, _ := Forward32(c2, w2, tokens)
		for p := range a {
			for v := range a[p] {
				if a[p][v] != b2[p][v] {
					t.Fatalf("%s: logits differ after export and import", c.Name)
				}
			}
		}
	}
	for _, c := range testConfigs() {
		w := ConvertWeights[float32](c, testWeights(c, 5))
		if c.QKNorm {
			if _, err := ToLlama2(c, w); err == nil {
				t.Errorf("%s: q/k norm exported to llama2.c format", c.Name)
			}
		}
	}
}

// TestCPUOpsComposeLikeReference runs the model's tail (final RMSNorm,
// classifier, cross-entropy and their backward) with the float32 CPU ops
// and compares with the float64 reference's gradients.
func TestCPUOpsComposeLikeReference(t *testing.T) {
	c := testConfigs()[1] // untied
	w := testWeights(c, 9)
	tokens, targets := testTokens(c, 6, 2)
	tr := forward(c, w, embed(c, w, tokens))
	g := NewWeights[float64](c)
	wantLoss, _ := backward(c, w, tr, targets, g)

	D, S, V := c.Dim, len(tokens), c.VocabSize
	f32 := func(x []float64) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(v)
		}
		return y
	}
	x := f32(flattenCF(tr.xf))
	wf, wc := f32(w.RMSFinal), f32(w.Classifier)
	nf, rrms, work := make([]float32, D*S), make([]float32, S), make([]float32, 2*S)
	logits, dl := make([]float32, V*S), make([]float32, V*S)
	dnf, dx := make([]float32, D*S), make([]float32, D*S)
	dwf, dwc := make([]float32, D), make([]float32, V*D)

	RMSNormForward(nf, x, wf, rrms, float32(c.NormEps))
	ClassifierForward(logits, wc, nf, V, D, S)
	loss := SoftmaxCrossEntropy(dl, logits, targets, V, 1, work)
	ClassifierBackward(dnf, dwc, dl, wc, nf, V, D, S)
	RMSNormBackward(dx, dwf, dnf, x, wf, rrms, work)

	if math.Abs(loss-wantLoss) > 1e-5*wantLoss {
		t.Errorf("loss %v, reference %v", loss, wantLoss)
	}
	if e := closeTo(dwc, g.Classifier); e > 1e-5 {
		t.Errorf("classifier gradient: error %.3g", e)
	}
	if e := closeTo(dwf, g.RMSFinal); e > 1e-5 {
		t.Errorf("final norm gradient: error %.3g", e)
	}
}
