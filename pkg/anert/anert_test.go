package anert

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/mil"
)

func TestOpenANEUnavailable(t *testing.T) {
	if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
		t.Skip("the ane backend may exist here")
	}
	_, err := Open("ane")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(ane) = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "darwin/arm64") {
		t.Errorf("error %q does not say where ane runs", err)
	}
	if _, err := Open("gpu"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Open(gpu) = %v, want an unknown-backend error", err)
	}
}

type fakeDevice struct{ Device }

func (fakeDevice) Name() string { return "cpu" }

func TestOpenAutoFallsBackOnce(t *testing.T) {
	if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
		t.Skip("the ane backend may exist here")
	}
	regMu.Lock()
	saved := registry["cpu"]
	registry["cpu"] = func() (Device, error) { return fakeDevice{}, nil }
	regMu.Unlock()
	defer func() {
		regMu.Lock()
		if saved == nil {
			delete(registry, "cpu")
		} else {
			registry["cpu"] = saved
		}
		regMu.Unlock()
	}()
	var buf bytes.Buffer
	fallbackOut = &buf
	for range 3 {
		d, err := Open("auto")
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() != "cpu" {
			t.Fatalf("auto opened %q, want cpu", d.Name())
		}
	}
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), "using the cpu backend") {
		t.Errorf("auto printed %q, want one line about the cpu fallback", buf.String())
	}
}

func TestSurfaceAlignment(t *testing.T) {
	for _, cs := range [][2]int{{1, 1}, {3, 7}, {64, 64}, {5, 129}} {
		s, err := NewSurface(cs[0], cs[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Halves()) != cs[0]*cs[1] || uintptr(unsafe.Pointer(&s.Halves()[0]))%SurfaceAlign != 0 {
			t.Errorf("surface %v: %d halves at %p", cs, len(s.Halves()), &s.Halves()[0])
		}
	}
	if _, err := NewSurface(0, 4); err == nil {
		t.Error("NewSurface(0, 4) succeeded")
	}
}

func TestSurfaceRegions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const C, S = 13, 70
	s, _ := NewSurface(C, S)
	for range 200 {
		r := Region{C0: rng.IntN(C), S0: rng.IntN(S)}
		r.C = 1 + rng.IntN(C-r.C0)
		r.S = 1 + rng.IntN(S-r.S0)
		src := make([]float32, r.Len())
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		before := append([]uint16(nil), s.Halves()...)
		transposed := rng.IntN(2) == 0
		var err error
		if transposed {
			err = s.WriteRegionT(r, src)
		} else {
			err = s.WriteRegion(r, src)
		}
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < C; c++ {
			for p := 0; p < S; p++ {
				got := s.Halves()[c*S+p]
				in := c >= r.C0 && c < r.C0+r.C && p >= r.S0 && p < r.S0+r.S
				if !in {
					if got != before[c*S+p] {
						t.Fatalf("write of %v changed (%d,%d) outside it", r, c, p)
					}
					continue
				}
				var want float32
				if transposed { // src is [r.S][r.C]: region (c, j) = src[j][c]
					want = src[(p-r.S0)*r.C+(c-r.C0)]
				} else {
					want = src[(c-r.C0)*r.S+(p-r.S0)]
				}
				if got != f16.FromFloat32(want) {
					t.Fatalf("transposed=%v region %v: (%d,%d) = %#x, want %#x", transposed, r, c, p, got, f16.FromFloat32(want))
				}
			}
		}
		dst := make([]float32, r.Len())
		if err := s.ReadRegion(r, dst); err != nil {
			t.Fatal(err)
		}
		for c := 0; c < r.C; c++ {
			for p := 0; p < r.S; p++ {
				if dst[c*r.S+p] != f16.ToFloat32(s.Halves()[(r.C0+c)*S+r.S0+p]) {
					t.Fatalf("ReadRegion %v: (%d,%d) wrong", r, c, p)
				}
			}
		}
		d2, _ := NewSurface(r.C+2, r.S+3)
		dr := Region{C0: 1, C: r.C, S0: 2, S: r.S}
		if err := s.CopyRegion(d2, dr, r); err != nil {
			t.Fatal(err)
		}
		back := make([]float32, r.Len())
		d2.ReadRegion(dr, back)
		for i := range back {
			if back[i] != dst[i] {
				t.Fatalf("CopyRegion %v: element %d differs", r, i)
			}
		}
	}
}

func TestSurfaceRegionErrors(t *testing.T) {
	s, _ := NewSurface(4, 8)
	bad := []Region{{C0: -1, C: 1, S: 1}, {C0: 3, C: 2, S: 1}, {S0: 7, S: 2, C: 1}, {C: 0, S: 1}, {C: 1, S: 9}}
	for _, r := range bad {
		buf := make([]float32, max(r.Len(), 0))
		if s.WriteRegion(r, buf) == nil || s.WriteRegionT(r, buf) == nil || s.ReadRegion(r, buf) == nil {
			t.Errorf("region %v accepted", r)
		}
	}
	if err := s.WriteRegion(Region{C: 2, S: 2}, make([]float32, 3)); err == nil {
		t.Error("size mismatch accepted")
	}
	d, _ := NewSurface(4, 8)
	if err := s.CopyRegion(d, Region{C: 2, S: 2}, Region{C: 2, S: 3}); err == nil {
		t.Error("CopyRegion of different sizes accepted")
	}
}

func TestBlobSources(t *testing.T) {
	dir := t.TempDir()
	src := DirBlobs(dir)
	for _, p := range []string{"weights/x.bin", "@model_path/../x.bin", "/etc/passwd"} {
		if _, err := src(p); err == nil {
			t.Errorf("DirBlobs accepted %q", p)
		}
	}
	m := MapBlobs(map[string][]byte{"@model_path/weights/a.bin": {1}})
	if b, err := m("@model_path/weights/a.bin"); err != nil || len(b) != 1 {
		t.Errorf("MapBlobs: %v %v", b, err)
	}
}

func TestFLOPs(t *testing.T) {
	b := mil.NewBuilder("main", mil.Tensor(mil.FP16, 1, 64, 1, 32))
	x := b.Input()
	a := b.Reshape(x, 1, 2, 32, 32)                // [1,2,32,32]
	m := b.MatMul(a, a, true, false)               // 2 * (32*32) outputs * K=32 * 2 flops
	s := b.Softmax(b.Mul(m, b.FP16(0.5)), -1)      // 2048 + 4*2048
	r := b.Reduce("reduce_sum", s, []int{3}, true) // 2048 inputs
	b.Output(b.Reshape(r, 1, 64, 1, 1))
	p, err := b.Program()
	if err != nil {
		t.Fatal(err)
	}
	got, err := FLOPs(p)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(2*2*32*32*32 + 2048 + 4*2048 + 2048)
	if got != want {
		t.Errorf("FLOPs = %d, want %d", got, want)
	}
}
