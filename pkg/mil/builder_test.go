package mil_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/mil/miltest"
)

// buildE1 builds the research code's generic dynamic matmul y = Wᵀ·a.
func buildE1(ic, oc, s int) (*mil.Program, error) {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, ic, 1, s+oc))
	x := b.Input()
	a := b.Named("act").SliceBySize(x, []int{0, 0, 0, 0}, []int{1, ic, 1, s})
	w := b.Named("wt").SliceBySize(x, []int{0, 0, 0, s}, []int{1, ic, 1, oc})
	a3 := b.Transpose(b.Reshape(a, 1, 1, ic, s), 0, 1, 3, 2)
	yh := b.MatMul(a3, b.Reshape(w, 1, 1, ic, oc), false, false)
	y := b.Named("y").Reshape(b.Transpose(yh, 0, 1, 3, 2), 1, oc, 1, s)
	b.Output(y)
	return b.Program()
}

func TestBuilderRoundTrip(t *testing.T) {
	p, err := buildE1(64, 96, 128)
	if err != nil {
		t.Fatal(err)
	}
	f := p.Main()
	if got := f.Ops[len(f.Ops)-1].Type; !got.Equal(mil.Tensor(mil.FP16, 1, 96, 1, 128)) {
		t.Errorf("result type %s", got)
	}
	// Shared consts: the perm (0,1,3,2) is declared once.
	if n := bytes.Count(mil.Print(p), []byte("([0,1,3,2])")); n != 1 {
		t.Errorf("perm const declared %d times, want 1", n)
	}
	text := mil.Print(p)
	q, err := mil.Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !mil.Equal(p, q) || !bytes.Equal(mil.Print(q), text) {
		t.Fatalf("build -> print -> parse differs:\n%s", text)
	}
}

func TestBuilderErrorNamesOp(t *testing.T) {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 64, 1, 32))
	x := b.Input()
	y := b.Named("bad").MatMul(x, x, false, false) // [1,64,1,32] x [1,64,1,32]: 32 vs 1
	z := b.Unary("relu", y)                        // skipped after the error
	b.Output(z)
	_, err := b.Program()
	if err == nil || !strings.Contains(err.Error(), `matmul "bad": inner dimensions differ`) {
		t.Fatalf("error %v", err)
	}
}

func TestBuilderFP16Literal(t *testing.T) {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 64, 1, 32))
	y := b.Mul(b.Input(), b.FP16(0.125))
	b.Output(b.Mul(y, b.FP16(1.0/3)))
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	text := string(mil.Print(p))
	if !strings.Contains(text, "val=fp16(0.125000)") || !strings.Contains(text, "val=fp16(0.333333)") {
		t.Errorf("fp16 literals not spelled %%f:\n%s", text)
	}
}

func TestRandomProgramsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		p := miltest.RandomProgram(rng, miltest.Options{})
		text := mil.Print(p)
		q, err := mil.Parse(text)
		if err != nil {
			t.Fatalf("program %d: %v\n%s", i, err, text)
		}
		if !mil.Equal(p, q) || !bytes.Equal(mil.Print(q), text) {
			t.Fatalf("program %d: round trip differs\n%s", i, text)
		}
	}
}
