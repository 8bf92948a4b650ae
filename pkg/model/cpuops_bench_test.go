package model

import (
	"math/rand"
	"testing"
)

// Benchmarks at stories110M sizes (D 768, S 256, V 32000).

func BenchmarkRMSNormForward(b *testing.B) {
	const D, S = 768, 256
	rng := rand.New(rand.NewSource(1))
	x, w := randF32(rng, D*S, 1), randF32(rng, D, 1)
	y, rrms := make([]float32, D*S), make([]float32, S)
	b.SetBytes(2 * 4 * D * S)
	for b.Loop() {
		RMSNormForward(y, x, w, rrms, 1e-5)
	}
}

func BenchmarkRMSNormBackward(b *testing.B) {
	const D, S = 768, 256
	rng := rand.New(rand.NewSource(1))
	x, w, dy := randF32(rng, D*S, 1), randF32(rng, D, 1), randF32(rng, D*S, 1)
	y, rrms, work := make([]float32, D*S), make([]float32, S), make([]float32, S)
	dx, dw := make([]float32, D*S), make([]float32, D)
	RMSNormForward(y, x, w, rrms, 1e-5)
	b.SetBytes(3 * 4 * D * S)
	for b.Loop() {
		RMSNormBackward(dx, dw, dy, x, w, rrms, work)
	}
}

func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	const V, S = 32000, 256
	rng := rand.New(rand.NewSource(1))
	logits := randF32(rng, V*S, 2)
	dl, work := make([]float32, V*S), make([]float32, 2*S)
	targets := make([]int, S)
	for i := range targets {
		targets[i] = rng.Intn(V)
	}
	b.SetBytes(2 * 4 * V * S)
	for b.Loop() {
		SoftmaxCrossEntropy(dl, logits, targets, V, 256, work)
	}
}

func BenchmarkEmbedGather(b *testing.B) {
	const D, S, V = 768, 256, 32000
	rng := rand.New(rand.NewSource(1))
	emb, x := randF32(rng, V*D, 1), make([]float32, D*S)
	tokens := make([]int, S)
	for i := range tokens {
		tokens[i] = rng.Intn(V)
	}
	b.SetBytes(4 * D * S)
	for b.Loop() {
		EmbedGather(x, emb, tokens)
	}
}
