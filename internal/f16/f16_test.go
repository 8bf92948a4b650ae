package f16

import (
	"math"
	"testing"
)

// TestRoundTripAllHalves checks that every half converts to float32 and back
// unchanged (NaNs stay NaN).
func TestRoundTripAllHalves(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := ToFloat32(h)
		if f != f {
			if g := FromFloat32(f); ToFloat32(g) == ToFloat32(g) {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g := FromFloat32(f); g != h {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, g)
		}
	}
}

// TestNearestEven checks FromFloat32 against a float64 search for the
// nearest half on values around every half boundary.
func TestNearestEven(t *testing.T) {
	for i := 0; i < 0x7bff; i++ {
		lo := float64(ToFloat32(uint16(i)))
		hi := float64(ToFloat32(uint16(i + 1)))
		mid := (lo + hi) / 2
		want := uint16(i)
		if i&1 == 1 {
			want = uint16(i + 1)
		}
		if got := FromFloat32(float32(mid)); float64(float32(mid)) == mid && got != want {
			t.Fatalf("tie %g between %#04x and %#04x: got %#04x", mid, i, i+1, got)
		}
		above := math.Nextafter32(float32(mid), float32(math.Inf(1)))
		if got := FromFloat32(above); got != uint16(i+1) && float64(above) < hi {
			t.Fatalf("%g just above mid of %#04x: got %#04x", above, i, got)
		}
	}
	if FromFloat32(65520) != 0x7c00 || FromFloat32(65519.996) != 0x7bff {
		t.Fatal("65520 is the rounding boundary to Inf")
	}
	if FromFloat32(1e6) != 0x7c00 || FromFloat32(-1e6) != 0xfc00 {
		t.Fatal("overflow must give Inf")
	}
}
