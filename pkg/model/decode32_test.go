package model

import (
	"math"
	"testing"
)

func TestDecoder32MatchesReference(t *testing.T) {
	for _, c := range testConfigs() {
		w64 := testWeights(c, 7)
		w32 := ConvertWeights[float32](c, w64)
		tokens, _ := testTokens(c, c.SeqLen, 8)
		want := Forward(c, w64, tokens)
		got, err := Forward32(c, w32, tokens)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for p := range want {
			for v := range want[p] {
				worst = math.Max(worst, math.Abs(float64(got[p][v])-want[p][v]))
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: float32 decoder differs from the float64 reference by %.3g", c.Name, worst)
		}
		t.Logf("%s: max |logit32 - logit64| = %.3g", c.Name, worst)
	}
}

func TestDecoder32Errors(t *testing.T) {
	c := testConfigs()[0]
	d, err := NewDecoder32(c, ConvertWeights[float32](c, testWeights(c, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Step(c.VocabSize, 0); err == nil {
		t.Error("token = vocab_size accepted")
	}
	if _, err := d.Step(0, 1); err == nil {
		t.Error("skipping position 0 accepted")
	}
	if _, err := d.Step(0, 0); err != nil {
		t.Error(err)
	}
	if n := testing.AllocsPerRun(10, func() { d.Step(1, 0) }); n != 0 {
		t.Errorf("Step allocates %v times", n)
	}
	bad := ConvertWeights[float32](c, testWeights(c, 1))
	bad.Layers[1].W2 = bad.Layers[1].W2[:5]
	if _, err := NewDecoder32(c, bad); err == nil {
		t.Error("short W2 accepted")
	}
}
