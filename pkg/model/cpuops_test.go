package model

import (
	"math"
	"math/rand"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func randF32(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// rowsOf turns a channel-first [D,S] float32 activation into float64 rows [S][D].
func rowsOf(x []float32, D, S int) [][]float64 {
	r := zeros(S, D)
	for c := 0; c < D; c++ {
		for t := 0; t < S; t++ {
			r[t][c] = float64(x[c*S+t])
		}
	}
	return r
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// closeTo reports the worst |got − want| / max(1, |want|).
func closeTo(got []float32, want []float64) float64 {
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i])-want[i])/math.Max(1, math.Abs(want[i])))
	}
	return worst
}

const (
	opD, opS, opV = 24, 10, 37
	opTol         = 2e-6 // float32 op vs float64 reference, relative to max(1, |value|)
	fdTol         = 1e-4 // float32 backward vs float64 central difference
)

func TestEmbedOps(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	emb := randF32(rng, opV*opD, 1)
	tokens := []int{3, 0, 36, 3, 7, 7, 1, 2, 20, 3}
	x := make([]float32, opD*opS)
	EmbedGather(x, emb, tokens)
	for tt, tok := range tokens {
		for c := 0; c < opD; c++ {
			if x[c*opS+tt] != emb[tok*opD+c] {
				t.Fatalf("x[%d,%d] = %v, want emb[%d][%d] = %v", c, tt, x[c*opS+tt], tok, c, emb[tok*opD+c])
			}
		}
	}
	// Scatter-add is the adjoint of the gather: <gather(e), dx> = <e, scatter(dx)>,
	// i.e. it is the exact derivative of the linear map (finite differences of
	// a linear function are exact).
	dx := randF32(rng, opD*opS, 1)
	g := make([]float32, opV*opD)
	EmbedScatterAdd(g, dx, tokens)
	var lhs, rhs float64
	for i := range x {
		lhs += float64(x[i]) * float64(dx[i])
	}
	for i := range g {
		rhs += float64(emb[i]) * float64(g[i])
	}
	if math.Abs(lhs-rhs) > 1e-9*math.Max(1, math.Abs(lhs)) {
		t.Errorf("<gather, dx> = %v, <emb, scatter> = %v", lhs, rhs)
	}
	// Token 3 appears three times: its row is the sum of three columns.
	for c := 0; c < opD; c++ {
		want := dx[c*opS+0] + dx[c*opS+3] + dx[c*opS+9]
		if math.Abs(float64(g[3*opD+c]-want)) > 1e-6 {
			t.Errorf("gEmb[3][%d] = %v, want %v", c, g[3*opD+c], want)
		}
	}
}

func TestRMSNormOps(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	x := randF32(rng, opD*opS, 2)
	w := randF32(rng, opD, 1)
	dy := randF32(rng, opD*opS, 1)
	const eps = 1e-5
	y, rrms, work := make([]float32, opD*opS), make([]float32, opS), make([]float32, opS)
	RMSNormForward(y, x, w, rrms, eps)
	wantY, wantR := rmsnormRows(rowsOf(x, opD, opS), f64(w), eps)
	if e := closeTo(y, flattenCF(wantY)); e > opTol {
		t.Errorf("forward: error %.3g", e)
	}
	if e := closeTo(rrms, wantR); e > opTol {
		t.Errorf("rrms: error %.3g", e)
	}
	// Backward, on top of a non-zero dx (it adds) and dw (it accumulates).
	dx, dw := randF32(rng, opD*opS, 1), randF32(rng, opD, 1)
	dx0, dw0 := append([]float32(nil), dx...), append([]float32(nil), dw...)
	RMSNormBackward(dx, dw, dy, x, w, rrms, work)
	// Central differences of L = Σ dy·rmsnorm(x, w), in float64.
	L := func(x64 [][]float64, w64 []float64) float64 {
		y, _ := rmsnormRows(x64, w64, eps)
		var s float64
		for c := 0; c < opD; c++ {
			for t := 0; t < opS; t++ {
				s += float64(dy[c*opS+t]) * y[t][c]
			}
		}
		return s
	}
	const h = 1e-6
	xr, wr := rowsOf(x, opD, opS), f64(w)
	var worst float64
	for c := 0; c < opD; c++ {
		for tt := 0; tt < opS; tt++ {
			old := xr[tt][c]
			xr[tt][c] = old + h
			lp := L(xr, wr)
			xr[tt][c] = old - h
			lm := L(xr, wr)
			xr[tt][c] = old
			fd := (lp - lm) / (2 * h)
			got := float64(dx[c*opS+tt] - dx0[c*opS+tt])
			worst = math.Max(worst, math.Abs(got-fd)/math.Max(1, math.Abs(fd)))
		}
		old := wr[c]
		wr[c] = old + h
		lp := L(xr, wr)
		wr[c] = old - h
		lm := L(xr, wr)
		wr[c] = old
		fd := (lp - lm) / (2 * h)
		worst = math.Max(worst, math.Abs(float64(dw[c]-dw0[c])-fd)/math.Max(1, math.Abs(fd)))
	}
	if worst > fdTol {
		t.Errorf("backward vs finite differences: error %.3g", worst)
	}
	t.Logf("RMSNorm backward vs finite differences: %.3g", worst)
}

// flattenCF turns rows [S][D] into a channel-first [D,S] float64 slice.
func flattenCF(r [][]float64) []float64 {
	S, D := len(r), len(r[0])
	out := make([]float64, D*S)
	for t := range r {
		for c := range r[t] {
			out[c*S+t] = r[t][c]
		}
	}
	return out
}

func TestResidualOps(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	x, y := randF32(rng, 50, 1), randF32(rng, 50, 1)
	dst := make([]float32, 50)
	AddScaled(dst, x, y, 0.3)
	Scale(y, y, 2) // in place
	for i := range dst {
		if want := float64(x[i]) + 0.3*float64(y[i])/2; math.Abs(float64(dst[i])-want) > 1e-6 {
			t.Fatalf("AddScaled[%d] = %v, want %v", i, dst[i], want)
		}
	}
}

func TestClassifierOps(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	W := randF32(rng, opV*opD, 0.3)
	x := randF32(rng, opD*opS, 1)
	logits := make([]float32, opV*opS)
	ClassifierForward(logits, W, x, opV, opD, opS)
	want := matmulRows(f64(W), rowsOf(x, opD, opS), opV)
	if e := closeTo(logits, flattenCF(want)); e > opTol {
		t.Errorf("forward: error %.3g", e)
	}
	// Backward of L = Σ dl·logits; L is bilinear, so central differences
	// in float64 are exact up to rounding.
	dl := randF32(rng, opV*opS, 1)
	dx, dW := make([]float32, opD*opS), randF32(rng, opV*opD, 1)
	dW0 := append([]float32(nil), dW...)
	ClassifierBackward(dx, dW, dl, W, x, opV, opD, opS)
	L := func(W64 []float64, xr [][]float64) float64 {
		lg := flattenCF(matmulRows(W64, xr, opV))
		var s float64
		for i := range lg {
			s += float64(dl[i]) * lg[i]
		}
		return s
	}
	const h = 1e-3
	W64, xr := f64(W), rowsOf(x, opD, opS)
	var worst float64
	for k := 0; k < 40; k++ {
		c, tt, v := rng.Intn(opD), rng.Intn(opS), rng.Intn(opV)
		old := xr[tt][c]
		xr[tt][c] = old + h
		lp := L(W64, xr)
		xr[tt][c] = old - h
		lm := L(W64, xr)
		xr[tt][c] = old
		fd := (lp - lm) / (2 * h)
		worst = math.Max(worst, math.Abs(float64(dx[c*opS+tt])-fd)/math.Max(1, math.Abs(fd)))
		i := v*opD + c
		oldw := W64[i]
		W64[i] = oldw + h
		lp = L(W64, xr)
		W64[i] = oldw - h
		lm = L(W64, xr)
		W64[i] = oldw
		fd = (lp - lm) / (2 * h)
		worst = math.Max(worst, math.Abs(float64(dW[i]-dW0[i])-fd)/math.Max(1, math.Abs(fd)))
	}
	if worst > fdTol {
		t.Errorf("backward vs finite differences: error %.3g", worst)
	}
}

func TestSoftmaxCrossEntropyOp(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	logits := randF32(rng, opV*opS, 3)
	targets := make([]int, opS)
	for i := range targets {
		targets[i] = rng.Intn(opV)
	}
	work, dl := make([]float32, 2*opS), make([]float32, opV*opS)
	const scale = 256
	loss := SoftmaxCrossEntropy(dl, logits, targets, opV, scale, work)
	if l2 := SoftmaxCrossEntropy(nil, logits, targets, opV, scale, work); l2 != loss {
		t.Errorf("loss without gradient %v != %v", l2, loss)
	}
	wantLoss, wantD := CrossEntropy(rowsOf(logits, opV, opS), targets)
	if math.Abs(loss-wantLoss) > 1e-6*wantLoss {
		t.Errorf("loss %v, reference %v", loss, wantLoss)
	}
	wd := flattenCF(wantD)
	for i := range wd {
		wd[i] *= scale
	}
	if e := closeTo(dl, wd); e > opTol*scale {
		t.Errorf("gradient: error %.3g", e)
	}
	// Central differences of the float64 loss.
	const h = 1e-4
	lr := rowsOf(logits, opV, opS)
	var worst float64
	for k := 0; k < 40; k++ {
		v, tt := rng.Intn(opV), rng.Intn(opS)
		if k < opS {
			v, tt = targets[k], k
		}
		old := lr[tt][v]
		lr[tt][v] = old + h
		lp, _ := CrossEntropy(lr, targets)
		lr[tt][v] = old - h
		lm, _ := CrossEntropy(lr, targets)
		lr[tt][v] = old
		fd := scale * (lp - lm) / (2 * h)
		worst = math.Max(worst, math.Abs(float64(dl[v*opS+tt])-fd)/math.Max(1, math.Abs(fd)))
	}
	if worst > fdTol {
		t.Errorf("gradient vs finite differences: error %.3g", worst)
	}
	// Large logits must not overflow.
	big := append([]float32(nil), logits...)
	for i := range big {
		big[i] += 1000
	}
	if l := SoftmaxCrossEntropy(dl, big, targets, opV, 1, work); math.Abs(l-wantLoss) > 1e-3 {
		t.Errorf("loss with logits+1000 = %v, want %v", l, wantLoss)
	}
}

func TestSwiGLUBackwardOp(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	n := 64
	h1, h3, dg := randF32(rng, n, 2), randF32(rng, n, 1), randF32(rng, n, 1)
	dh1, dh3 := make([]float32, n), make([]float32, n)
	SwiGLUBackward(dh1, dh3, dg, h1, h3)
	const h = 1e-6
	var worst float64
	for i := 0; i < n; i++ {
		a, b := float64(h1[i]), float64(h3[i])
		fd1 := float64(dg[i]) * (silu(a+h)*b - silu(a-h)*b) / (2 * h)
		fd3 := float64(dg[i]) * silu(a)
		worst = math.Max(worst, math.Abs(float64(dh1[i])-fd1)/math.Max(1, math.Abs(fd1)))
		worst = math.Max(worst, math.Abs(float64(dh3[i])-fd3)/math.Max(1, math.Abs(fd3)))
	}
	if worst > fdTol {
		t.Errorf("vs finite differences: error %.3g", worst)
	}
}

func TestCPUOpsDoNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	emb, W := randF32(rng, opV*opD, 1), randF32(rng, opV*opD, 1)
	x, y, dx, dy := randF32(rng, opD*opS, 1), make([]float32, opD*opS), make([]float32, opD*opS), randF32(rng, opD*opS, 1)
	w, dw, rrms, work := randF32(rng, opD, 1), make([]float32, opD), make([]float32, opS), make([]float32, 2*opS)
	logits, dl, g := make([]float32, opV*opS), make([]float32, opV*opS), make([]float32, opV*opD)
	tokens := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for name, f := range map[string]func(){
		"EmbedGather":         func() { EmbedGather(x, emb, tokens) },
		"EmbedScatterAdd":     func() { EmbedScatterAdd(g, dx, tokens) },
		"RMSNormForward":      func() { RMSNormForward(y, x, w, rrms, 1e-5) },
		"RMSNormBackward":     func() { RMSNormBackward(dx, dw, dy, x, w, rrms, work) },
		"AddScaled":           func() { AddScaled(y, x, dy, 0.5) },
		"Scale":               func() { Scale(y, x, 0.5) },
		"ClassifierForward":   func() { ClassifierForward(logits, W, x, opV, opD, opS) },
		"ClassifierBackward":  func() { ClassifierBackward(dx, g, dl, W, x, opV, opD, opS) },
		"SoftmaxCrossEntropy": func() { SoftmaxCrossEntropy(dl, logits, tokens, opV, 1, work) },
		"SwiGLUBackward":      func() { SwiGLUBackward(dx, y, dy, x, g[:opD*opS]) },
	} {
		if n := sharedtest.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func TestExpf32(t *testing.T) {
	var worst float64
	at := 0.0
	for x := float32(-87.3); x < 88.7; x += 0.0013 {
		want := math.Exp(float64(x))
		got := float64(expf32(x))
		if e := math.Abs(got-want) / want; e > worst {
			worst, at = e, float64(x)
		}
	}
	for _, x := range []float32{0, -1e-8, 1e-8, 0.3465, -0.3466, 1, -1, 10, -10, 88.7, -87.3} {
		want := math.Exp(float64(x))
		if e := math.Abs(float64(expf32(x))-want) / want; e > worst {
			worst, at = e, float64(x)
		}
	}
	if worst > 3e-7 {
		t.Errorf("expf32 relative error %.3g at x = %v", worst, at)
	}
	t.Logf("expf32 worst relative error %.3g (at %v)", worst, at)
	if expf32(-100) != 0 || !math.IsInf(float64(expf32(100)), 1) || expf32(float32(math.NaN())) == expf32(float32(math.NaN())) {
		t.Error("expf32 outside its range")
	}
}

func BenchmarkExpf32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = -float32(i) / 100
	}
	var s float32
	for b.Loop() {
		for _, v := range x {
			s += expf32(v)
		}
	}
	_ = s
}
