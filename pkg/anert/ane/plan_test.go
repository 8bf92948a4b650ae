package ane

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	_ "github.com/anekit/anekit/pkg/anert/cpu"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

func parseFile(t *testing.T, path string) *mil.Program {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mil.Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

func TestPlanSDPAForward(t *testing.T) {
	dir := filepath.Join(sharedtest.Dir(t, "conformance/mil"), "conformance", "mil", "small")
	p := parseFile(t, filepath.Join(dir, "sdpaFwd.mil"))
	pl, err := NewPlan(p, anert.DirBlobs(dir), true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pl.MIL, mil.Print(p)) {
		t.Error("plan MIL differs from mil.Print of the program")
	}
	// The text handed over must read back as the same program.
	if q, err := mil.Parse(pl.MIL); err != nil || !mil.Equal(p, q) {
		t.Errorf("plan MIL does not parse back to the program: %v", err)
	}
	want := []string{"mask.bin", "rope_cos.bin", "rope_sin.bin"}
	if len(pl.Weights) != len(want) {
		t.Fatalf("plan has %d weight files, want %d: %+v", len(pl.Weights), len(want), pl.Weights)
	}
	for i, w := range pl.Weights {
		if w.Key != "@model_path/weights/"+want[i] || w.Rel != "weights/"+want[i] {
			t.Errorf("weight %d: key %q rel %q, want @model_path/weights/%s", i, w.Key, w.Rel, want[i])
		}
		file, err := os.ReadFile(filepath.Join(dir, "weights", want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Data, file) {
			t.Errorf("weight %s: %d bytes differ from the file's %d", want[i], len(w.Data), len(file))
		}
	}
	if pl.In != [4]int{1, 128, 1, 448} {
		t.Errorf("input shape %v", pl.In)
	}
	if pl.InBytes != 128*448*2 || pl.OutBytes != pl.Out[1]*pl.Out[3]*2 || pl.OutBytes%SurfaceAlign != 0 {
		t.Errorf("surface bytes in %d out %d (out shape %v)", pl.InBytes, pl.OutBytes, pl.Out)
	}
	rp := pl.Request
	if len(rp.InputIndices) != 1 || rp.InputIndices[0] != 0 || len(rp.OutputIndices) != 1 || rp.OutputIndices[0] != 0 || rp.ProcedureIndex != 0 {
		t.Errorf("request plan %+v, want one input at 0, one output at 0, procedure 0", rp)
	}
}

// Every conformance kernel plans, and only sdpaFwd and sdpaBwd1 carry weights.
func TestPlanConformanceCorpus(t *testing.T) {
	root := filepath.Join(sharedtest.Dir(t, "conformance/mil"), "conformance", "mil")
	for _, set := range []string{"small", "smallgqa", "stories110m", "qwen3_06b"} {
		files, _ := filepath.Glob(filepath.Join(root, set, "*.mil"))
		if len(files) == 0 {
			t.Fatalf("no MIL files in %s", set)
		}
		for _, fn := range files {
			pl, err := NewPlan(parseFile(t, fn), anert.DirBlobs(filepath.Join(root, set)), true)
			if err != nil {
				t.Errorf("%s: %v", fn, err)
				continue
			}
			n := map[string]int{"sdpaFwd.mil": 3, "sdpaBwd1.mil": 1}[filepath.Base(fn)]
			if len(pl.Weights) != n {
				t.Errorf("%s: %d weight files, want %d", fn, len(pl.Weights), n)
			}
		}
	}
}

// tinyProgram is x[1,C,1,S] -> x * mask where mask comes from a blob.
func tinyProgram(t *testing.T, path string, c, s int) *mil.Program {
	t.Helper()
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, c, 1, s))
	m := b.Blob(mil.Tensor(mil.FP16, 1, c, 1, s), path, 64)
	b.Output(b.Mul(b.Input(), m))
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func blobFile(t *testing.T, dt format.BlobDType, n int) []byte {
	t.Helper()
	data, _, err := format.MarshalBlobs([]format.Blob{{DType: dt, Data: make([]byte, n*dt.Size())}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPlanErrors(t *testing.T) {
	good := blobFile(t, format.BlobFP16, 4*64)
	cases := []struct {
		name  string
		prog  *mil.Program
		blobs anert.BlobSource
		want  string
	}{
		{"no source", tinyProgram(t, "@model_path/weights/m.bin", 4, 64), nil, "no blob source"},
		{"missing", tinyProgram(t, "@model_path/weights/m.bin", 4, 64), anert.MapBlobs(nil), "no blob"},
		{"climbs out", tinyProgram(t, "@model_path/../m.bin", 4, 64), anert.MapBlobs(map[string][]byte{"@model_path/../m.bin": good}), "clean relative path"},
		{"no prefix", tinyProgram(t, "weights/m.bin", 4, 64), anert.MapBlobs(map[string][]byte{"weights/m.bin": good}), "@model_path/"},
		{"wrong size", tinyProgram(t, "@model_path/weights/m.bin", 4, 32), anert.MapBlobs(map[string][]byte{"@model_path/weights/m.bin": good}), "size"},
		{"wrong dtype", tinyProgram(t, "@model_path/weights/m.bin", 4, 64), anert.MapBlobs(map[string][]byte{"@model_path/weights/m.bin": blobFile(t, format.BlobFP32, 4*64)}), "dtype"},
		{"truncated", tinyProgram(t, "@model_path/weights/m.bin", 4, 64), anert.MapBlobs(map[string][]byte{"@model_path/weights/m.bin": good[:100]}), "m.bin"},
	}
	for _, c := range cases {
		_, err := NewPlan(c.prog, c.blobs, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	// A blob named twice is one file.
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 4, 1, 64))
	m1 := b.Blob(mil.Tensor(mil.FP16, 1, 4, 1, 64), "@model_path/weights/m.bin", 64)
	m2 := b.Blob(mil.Tensor(mil.FP16, 4, 64), "@model_path/weights/m.bin", 64)
	b.Output(b.Add(b.Mul(b.Input(), m1), b.Reshape(m2, 1, 4, 1, 64)))
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(p, anert.MapBlobs(map[string][]byte{"@model_path/weights/m.bin": good}), true)
	if err != nil || len(pl.Weights) != 1 {
		t.Fatalf("shared blob: %v, %d weight files", err, len(pl.Weights))
	}
}

func TestPlanBoundary(t *testing.T) {
	for _, in := range []mil.Type{
		mil.Tensor(mil.FP32, 1, 4, 1, 64),
		mil.Tensor(mil.FP16, 2, 4, 1, 64),
		mil.Tensor(mil.FP16, 1, 4, 2, 64),
		mil.Tensor(mil.FP16, 4, 64),
	} {
		b := mil.NewBuilder("main", in)
		b.Output(b.Unary("relu", b.Input()))
		p, err := b.Program()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewPlan(p, nil, false); err == nil || !strings.Contains(err.Error(), "[1, C, 1, S]") {
			t.Errorf("input %s: err = %v", in, err)
		}
	}
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 4, 1, 64))
	b.Output(b.Input())
	b.Output(b.Unary("relu", b.Input()))
	p, _ := b.Program()
	if _, err := NewPlan(p, nil, false); err == nil || !strings.Contains(err.Error(), "2 outputs") {
		t.Errorf("two outputs: err = %v", err)
	}
}

func TestSurfaceBytes(t *testing.T) {
	for _, c := range []struct{ c, s, want int }{
		{1, 64, 128}, {1, 1, 128}, {1, 65, 256}, {3, 7, 128}, {768, 256, 768 * 256 * 2}, {5, 100, 1024},
	} {
		if got := SurfaceBytes(c.c, c.s); got != c.want {
			t.Errorf("SurfaceBytes(%d, %d) = %d, want %d", c.c, c.s, got, c.want)
		}
		if got := SurfaceBytes(c.c, c.s); got%128 != 0 || got < c.c*c.s*2 {
			t.Errorf("SurfaceBytes(%d, %d) = %d: not 128-aligned or too small", c.c, c.s, got)
		}
	}
}

func TestSurfaceProps(t *testing.T) {
	got := SurfaceProps(4096)
	want := map[string]int64{
		"kIOSurfaceWidth": 4096, "kIOSurfaceHeight": 1, "kIOSurfaceBytesPerElement": 1,
		"kIOSurfaceBytesPerRow": 4096, "kIOSurfaceAllocSize": 4096, "kIOSurfacePixelFormat": 0,
	}
	if len(got) != 6 {
		t.Fatalf("%d properties, want 6", len(got))
	}
	for _, p := range got {
		if v, ok := want[p.Key]; !ok || v != p.Value {
			t.Errorf("%s = %d, want %d (known %v)", p.Key, p.Value, v, ok)
		}
		delete(want, p.Key)
	}
}

func TestDumpFailure(t *testing.T) {
	dir := filepath.Join(sharedtest.Dir(t, "conformance/mil"), "conformance", "mil", "small")
	pl, err := NewPlan(parseFile(t, filepath.Join(dir, "sdpaFwd.mil")), anert.DirBlobs(dir), true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DumpFailure(t.TempDir(), pl)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "model.mil")); err != nil || !bytes.Equal(b, pl.MIL) {
		t.Errorf("model.mil: %v", err)
	}
	for _, w := range pl.Weights {
		if b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(w.Rel))); err != nil || !bytes.Equal(b, w.Data) {
			t.Errorf("%s: %v", w.Rel, err)
		}
	}
}

func TestBudget(t *testing.T) {
	for _, c := range []struct {
		env  string
		want int
		ok   bool
	}{{"", 100, true}, {" 7 ", 7, true}, {"0", 0, false}, {"-3", 0, false}, {"many", 0, false}} {
		n, err := ParseBudget(c.env)
		if (err == nil) != c.ok || n != c.want {
			t.Errorf("ParseBudget(%q) = %d, %v", c.env, n, err)
		}
		if err != nil && !strings.Contains(err.Error(), BudgetEnv) {
			t.Errorf("ParseBudget(%q) error %q does not name %s", c.env, err, BudgetEnv)
		}
	}
	b := NewBudget(3)
	for i := range 3 {
		if err := b.Take(); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	err := b.Take()
	if !errors.Is(err, ErrCompileBudget) || !strings.Contains(err.Error(), BudgetEnv) {
		t.Errorf("fourth take: %v", err)
	}
	if b.Used() != 3 || b.Limit() != 3 {
		t.Errorf("used %d limit %d", b.Used(), b.Limit())
	}
}

// With this package imported, "ane" on a machine without it wraps
// ErrUnavailable and "auto" falls back to the CPU backend.
func TestOpenWithoutANE(t *testing.T) {
	if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
		t.Skip("the ane backend may exist here")
	}
	if _, err := anert.Open("ane"); !errors.Is(err, anert.ErrUnavailable) {
		t.Errorf("Open(ane) = %v, want an error wrapping ErrUnavailable", err)
	}
	d, err := anert.Open("auto")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "cpu" {
		t.Errorf("Open(auto) = %s, want cpu", d.Name())
	}
	if _, err := Chip(); !errors.Is(err, anert.ErrUnavailable) {
		t.Errorf("Chip() = %v, want ErrUnavailable", err)
	}
}

// With validate, a program breaking an ANE rule is refused, naming the
// rule and the escape hatch; without, it plans.
func TestPlanValidate(t *testing.T) {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 40, 1, 64))
	x := b.Reshape(b.Input(), 1, 1, 64, 40)
	b.Output(b.Reshape(b.MatMul(x, x, false, true), 1, 64, 1, 64)) // contraction over 40
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(p, nil, true)
	if err == nil || !strings.Contains(err.Error(), mil.RuleMatMulInner) || !strings.Contains(err.Error(), UncheckedEnv) {
		t.Errorf("NewPlan(validate) = %v, want a matmul-inner violation", err)
	}
	if _, err := NewPlan(p, nil, false); err != nil {
		t.Errorf("NewPlan(no validate) = %v", err)
	}
}
