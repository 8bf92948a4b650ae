package f16

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anekit/anekit/internal/cpu"
)

// forEachImpl runs f once per bulk-conversion path this machine has,
// disabling the faster ones in turn.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	seen := map[string]bool{}
	var restore []func()
	defer func() {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i]()
		}
	}()
	for _, disable := range []func() func(){cpu.DisableAVX512, cpu.DisableF16C, cpu.DisableNEON, nil} {
		if name := Impl(); !seen[name] {
			seen[name] = true
			t.Run(name, f)
		}
		if disable != nil {
			restore = append(restore, disable())
		}
	}
}

// TestDecodeAllHalves checks Decode against ToFloat32 on every half, at
// every offset so each lane and the scalar tail see every value.
func TestDecodeAllHalves(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	forEachImpl(t, func(t *testing.T) {
		for off := 0; off < 17; off += 5 {
			dst := make([]float32, len(src)-off)
			Decode(dst, src[off:])
			for i, h := range src[off:] {
				if got, want := math.Float32bits(dst[i]), math.Float32bits(ToFloat32(h)); got != want {
					t.Fatalf("offset %d: half %#04x: got %#08x, want %#08x", off, h, got, want)
				}
			}
		}
	})
}

// encodeCases returns float32 bit patterns covering every half (exactly),
// every midpoint between neighbouring halves (the ties) and its neighbours,
// specials (NaNs with payloads, infinities, float32 subnormals, overflow
// boundary) and random bit patterns.
func encodeCases() []float32 {
	var fs []float32
	for i := 0; i < 1<<16; i++ {
		fs = append(fs, ToFloat32(uint16(i)))
	}
	for i := 0; i < 0x7c00; i++ {
		lo, hi := float64(ToFloat32(uint16(i))), float64(ToFloat32(uint16(i+1)))
		mid := float32((lo + hi) / 2)
		for _, s := range []float32{1, -1} {
			m := s * mid
			fs = append(fs, m, math.Nextafter32(m, float32(math.Inf(1))), math.Nextafter32(m, float32(math.Inf(-1))))
		}
	}
	for _, b := range []uint32{0x7f800001, 0x7fbfffff, 0x7fc00000, 0x7fffffff, 0xff800001, 0xffc12345,
		0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x00400000, 0x477ff000, 0x477fefff, 0x477fffff,
		0x33000000, 0x33000001, 0x32ffffff, 0xb3000000, 0x387fc000, 0x387fe000} {
		fs = append(fs, math.Float32frombits(b))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1<<18; i++ {
		fs = append(fs, math.Float32frombits(r.Uint32()))
	}
	return fs
}

func TestEncodeMatchesScalar(t *testing.T) {
	src := encodeCases()
	forEachImpl(t, func(t *testing.T) {
		for off := 0; off < 17; off += 3 {
			dst := make([]uint16, len(src)-off)
			Encode(dst, src[off:])
			for i, f := range src[off:] {
				if got, want := dst[i], FromFloat32(f); got != want {
					t.Fatalf("offset %d: %g (%#08x): got %#04x, want %#04x", off, f, math.Float32bits(f), got, want)
				}
			}
		}
	})
}

func TestShortSlices(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for n := 0; n < 70; n++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(i) - 0.5
			}
			h := make([]uint16, n+1)
			h[n] = 0xabcd
			Encode(h, src)
			back := make([]float32, n+1)
			back[n] = 42
			Decode(back, h[:n])
			if h[n] != 0xabcd || back[n] != 42 {
				t.Fatalf("n=%d: wrote past len(src)", n)
			}
			for i := range src {
				if back[i] != Round(src[i]) {
					t.Fatalf("n=%d i=%d: got %g want %g", n, i, back[i], Round(src[i]))
				}
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i) * 0.001
	}
	dst := make([]uint16, len(src))
	b.SetBytes(int64(len(src)) * 4)
	for b.Loop() {
		Encode(dst, src)
	}
}

func BenchmarkDecode(b *testing.B) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i) & 0x7bff
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(len(src)) * 2)
	for b.Loop() {
		Decode(dst, src)
	}
}
