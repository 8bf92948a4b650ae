package mil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func TestCountFLOPs(t *testing.T) {
	const c, s = 64, 32
	b := NewBuilder("main", Tensor(FP16, 1, c, 1, s+c))
	x := b.SliceBySize(b.Input(), []int{0, 0, 0, 0}, []int{1, c, 1, s})
	w := b.SliceBySize(b.Input(), []int{0, 0, 0, s}, []int{1, c, 1, c})
	x2 := b.Reshape(x, 1, 1, c, s)
	w2 := b.Reshape(w, 1, 1, c, c)
	y := b.MatMul(w2, x2, true, false) // [1,1,c,s]: 2*c*s*c
	z := b.Unary("relu", y)            // c*s
	sm := b.Softmax(z, 3)              // 4*c*s
	cw := b.Reshape(w, c, c, 1, 1)
	cv := b.Conv(b.Reshape(sm, 1, c, 1, s), cw, ConvOptions{}) // 2*c*s*c
	r := b.Reduce("reduce_sum", cv, []int{3}, true)            // c*s
	b.Output(b.Add(cv, r))                                     // c*s
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	n, err := CountFLOPs(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2*c*s*c + 2*c*s*c); n.Matrix != want {
		t.Errorf("Matrix = %d, want %d", n.Matrix, want)
	}
	if want := int64(c*s + 4*c*s + c*s + c*s); n.Other != want {
		t.Errorf("Other = %d, want %d", n.Other, want)
	}
	if n.Total() != n.Matrix+n.Other {
		t.Error("Total")
	}
}

// The conformance sdpaFwd: three projections [D,D]x[D,S], QK^T and AV per
// head, hand-counted from the research notes' shapes.
func TestCountFLOPsSDPA(t *testing.T) {
	dir := filepath.Join(sharedtest.Dir(t, "conformance/mil"), "conformance", "mil", "small")
	src, err := os.ReadFile(filepath.Join(dir, "sdpaFwd.mil"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	n, err := CountFLOPs(p)
	if err != nil {
		t.Fatal(err)
	}
	const d, s, h, hd = 128, 64, 4, 32
	want := int64(3*2*d*d*s + h*2*s*s*hd + h*2*s*s*hd)
	if n.Matrix != want {
		t.Errorf("sdpaFwd Matrix = %d, want %d", n.Matrix, want)
	}
}
