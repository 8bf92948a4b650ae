package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/sharedtest"
)

func TestBlobRoundTrip(t *testing.T) {
	a := Blob{BlobFP16, []byte{1, 2, 3, 4, 5, 6}}
	b := Blob{BlobFP32, bytes.Repeat([]byte{7}, 64)}
	c := Blob{BlobInt8, []byte{9}}
	data, offs, err := MarshalBlobs([]Blob{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{64, 192, 320}; offs[0] != want[0] || offs[1] != want[1] || offs[2] != want[2] {
		t.Fatalf("offsets %v, want %v", offs, want)
	}
	if len(data) != 448 || binary.LittleEndian.Uint32(data) != 3 || binary.LittleEndian.Uint32(data[4:]) != 2 {
		t.Fatalf("header % x, len %d", data[:8], len(data))
	}
	// Metadata of the first blob, byte for byte.
	want := make([]byte, 64)
	copy(want, []byte{0xef, 0xbe, 0xad, 0xde, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 128})
	if !bytes.Equal(data[64:128], want) {
		t.Errorf("metadata % x", data[64:128])
	}
	f, err := ParseBlobFile("t.bin", data)
	if err != nil {
		t.Fatal(err)
	}
	for i, bl := range []Blob{a, b, c} {
		got, err := f.Read(offs[i], bl.DType, len(bl.Data)/bl.DType.Size())
		if err != nil || !bytes.Equal(got, bl.Data) {
			t.Errorf("blob %d: %v % x", i, err, got)
		}
	}
}

func TestBlobReadErrors(t *testing.T) {
	data, _, _ := MarshalBlobs([]Blob{{BlobFP16, make([]byte, 8)}})
	mod := func(off int, v uint64, n int) []byte {
		d := bytes.Clone(data)
		if n == 4 {
			binary.LittleEndian.PutUint32(d[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(d[off:], v)
		}
		return d
	}
	cases := []struct {
		data  []byte
		off   uint64
		dt    BlobDType
		n     int
		field string
	}{
		{mod(64, 0x12345678, 4), 64, BlobFP16, 4, "sentinel"},
		{mod(68, 99, 4), 64, BlobFP16, 4, "dtype"},
		{data, 64, BlobFP32, 2, "dtype: fp16, but the program declares fp32"},
		{data, 64, BlobFP16, 5, "size: 8 bytes, but the program declares 5"},
		{mod(72, 1<<40, 8), 64, BlobFP16, 4, "size"},
		{mod(80, 100, 8), 64, BlobFP16, 4, "data offset"},
		{data, 128, BlobFP16, 4, "offset"},
		{data, 0, BlobFP16, 4, "offset"},
		{data, ^uint64(0), BlobFP16, 4, "offset"},
		{mod(88, 3, 8), 64, BlobFP16, 4, "padding"},
	}
	for _, c := range cases {
		f, err := ParseBlobFile("w.bin", c.data)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Read(c.off, c.dt, c.n)
		if err == nil || !strings.Contains(err.Error(), c.field) || !strings.HasPrefix(err.Error(), "w.bin: ") {
			t.Errorf("offset %d: error %v, want one naming w.bin and %q", c.off, err, c.field)
		}
	}
	if _, err := ParseBlobFile("v.bin", mod(4, 1, 4)); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("version error %v", err)
	}
	if _, err := ParseBlobFile("s.bin", data[:10]); err == nil {
		t.Error("short file accepted")
	}
}

// TestConformanceBlobs reads the mask and RoPE tables of each conformance
// set and checks them against their definition (conformance/README.md).
func TestConformanceBlobs(t *testing.T) {
	dir := sharedtest.Dir(t, "conformance")
	sets := map[string][2]int{"small": {64, 32}, "smallgqa": {64, 32}, "stories110m": {256, 64}, "qwen3_06b": {256, 128}}
	for set, dims := range sets {
		s, hd := dims[0], dims[1]
		w := filepath.Join(dir, "conformance", "mil", set, "weights")
		read := func(name string, n int) []float32 {
			data, err := os.ReadFile(filepath.Join(w, name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseBlobFile(name, data)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := f.Read(64, BlobFP16, n)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, n)
			for i := range out {
				out[i] = f16.ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
			}
			return out
		}
		mask := read("mask.bin", s*s)
		for q := 0; q < s; q++ {
			for k := 0; k < s; k++ {
				want := float32(0)
				if k > q {
					want = -65504
				}
				if mask[q*s+k] != want {
					t.Fatalf("%s mask[%d,%d] = %g, want %g", set, q, k, mask[q*s+k], want)
				}
			}
		}
		cos, sin := read("rope_cos.bin", s*hd), read("rope_sin.bin", s*hd)
		for p := 0; p < s; p += 7 {
			for i := 0; i < hd/2; i++ {
				th := float64(p) * math.Pow(10000, -2*float64(i)/float64(hd))
				for j := 0; j < 2; j++ {
					if c := cos[p*hd+2*i+j]; math.Abs(float64(c)-math.Cos(th)) > 1e-3 {
						t.Fatalf("%s cos[%d,%d] = %g, want %g", set, p, 2*i+j, c, math.Cos(th))
					}
					if c := sin[p*hd+2*i+j]; math.Abs(float64(c)-math.Sin(th)) > 1e-3 {
						t.Fatalf("%s sin[%d,%d] = %g, want %g", set, p, 2*i+j, c, math.Sin(th))
					}
				}
			}
		}
	}
}

func FuzzBlobReader(f *testing.F) {
	data, _, _ := MarshalBlobs([]Blob{{BlobFP16, make([]byte, 8)}, {BlobInt8, []byte{1, 2, 3}}})
	f.Add(data, uint64(64), uint32(1), 4)
	f.Add(data, uint64(192), uint32(4), 3)
	f.Add(data[:70], uint64(64), uint32(1), 4)
	f.Add([]byte{}, uint64(0), uint32(0), 0)
	f.Fuzz(func(t *testing.T, data []byte, off uint64, dt uint32, n int) {
		bf, err := ParseBlobFile("fuzz.bin", data)
		if err != nil {
			return
		}
		got, err := bf.Read(off, BlobDType(dt), n)
		if err == nil && len(got) != n*BlobDType(dt).Size() {
			t.Fatalf("read %d bytes for %d elements of %d", len(got), n, dt)
		}
	})
}
