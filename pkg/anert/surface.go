package anert

import (
	"fmt"
	"unsafe"

	"github.com/anekit/anekit/internal/f16"
)

// Region is a box of a surface: channels [C0, C0+C) by spatial positions
// [S0, S0+S). It is how a bundle layout names the part of a surface that
// holds one activation or one weight.
type Region struct {
	C0, C int // first channel, channel count
	S0, S int // first position, position count
}

// Len is the number of elements in r.
func (r Region) Len() int { return r.C * r.S }

func (r Region) String() string {
	return fmt.Sprintf("channels [%d,%d) x positions [%d,%d)", r.C0, r.C0+r.C, r.S0, r.S0+r.S)
}

// Surface is an fp16 tensor of shape [1, C, 1, S]: C*S halves, element
// (c, s) at index c*S + s, no padding, backed by 128-byte-aligned memory.
type Surface struct {
	c, s int
	h    []uint16
}

// SurfaceAlign is the alignment, in bytes, of every surface's backing.
const SurfaceAlign = 128

// NewSurface returns a zeroed [1, c, 1, s] surface.
func NewSurface(c, s int) (*Surface, error) {
	if c <= 0 || s <= 0 {
		return nil, fmt.Errorf("anert: surface shape [1,%d,1,%d]: dimensions must be positive", c, s)
	}
	if c > (1<<31)/s {
		return nil, fmt.Errorf("anert: surface shape [1,%d,1,%d]: too large", c, s)
	}
	n := c * s
	const pad = SurfaceAlign / 2
	buf := make([]uint16, n+pad)
	off := 0
	if m := uintptr(unsafe.Pointer(&buf[0])) % SurfaceAlign; m != 0 {
		off = int(SurfaceAlign-m) / 2
	}
	return &Surface{c: c, s: s, h: buf[off : off+n : off+n]}, nil
}

// WrapSurface returns a surface over existing memory (for example an
// IOSurface a backend mapped): len(halves) must be c*s and the memory
// 128-byte aligned.
func WrapSurface(c, s int, halves []uint16) (*Surface, error) {
	if c <= 0 || s <= 0 || len(halves) != c*s {
		return nil, fmt.Errorf("anert: wrap surface [1,%d,1,%d]: have %d halves", c, s, len(halves))
	}
	if uintptr(unsafe.Pointer(&halves[0]))%SurfaceAlign != 0 {
		return nil, fmt.Errorf("anert: wrap surface [1,%d,1,%d]: memory not %d-byte aligned", c, s, SurfaceAlign)
	}
	return &Surface{c: c, s: s, h: halves}, nil
}

// Channels is C.
func (x *Surface) Channels() int { return x.c }

// Positions is S, the spatial width.
func (x *Surface) Positions() int { return x.s }

// Shape is [1, C, 1, S].
func (x *Surface) Shape() [4]int { return [4]int{1, x.c, 1, x.s} }

// Halves returns the raw fp16 bit patterns, element (c, s) at c*S + s.
// Writes through it are visible to the next Eval.
func (x *Surface) Halves() []uint16 { return x.h }

// All is the region covering the whole surface.
func (x *Surface) All() Region { return Region{C: x.c, S: x.s} }

func (x *Surface) check(op string, r Region, n int) error {
	if r.C0 < 0 || r.S0 < 0 || r.C <= 0 || r.S <= 0 || r.C0 > x.c-r.C || r.S0 > x.s-r.S {
		return fmt.Errorf("anert: %s: region %v outside surface [1,%d,1,%d]", op, r, x.c, x.s)
	}
	if n != r.C*r.S {
		return fmt.Errorf("anert: %s: region %v holds %d elements, buffer has %d", op, r, r.C*r.S, n)
	}
	return nil
}

// WriteRegion stores src, a row-major [r.C][r.S] matrix, into r, rounding
// each value to the nearest half (ties to even).
func (x *Surface) WriteRegion(r Region, src []float32) error {
	if err := x.check("WriteRegion", r, len(src)); err != nil {
		return err
	}
	if r.S == x.s { // whole rows: one contiguous run
		f16.Encode(x.h[r.C0*x.s:(r.C0+r.C)*x.s], src)
		return nil
	}
	for c := 0; c < r.C; c++ {
		o := (r.C0+c)*x.s + r.S0
		f16.Encode(x.h[o:o+r.S], src[c*r.S:(c+1)*r.S])
	}
	return nil
}

// WriteRegionT stores src, a row-major [r.S][r.C] matrix M, transposed:
// region channel c, position j receives M[j][c], so channel c holds column c
// of M. This is the forward-staged "Wᵀ" layout of a weight M[out][in]
// (r.C = in, r.S = out).
func (x *Surface) WriteRegionT(r Region, src []float32) error {
	if err := x.check("WriteRegionT", r, len(src)); err != nil {
		return err
	}
	const tile = 64
	var col [tile]float32
	for c0 := 0; c0 < r.C; c0 += tile {
		c1 := min(c0+tile, r.C)
		for j0 := 0; j0 < r.S; j0 += tile {
			j1 := min(j0+tile, r.S)
			for c := c0; c < c1; c++ {
				t := col[:j1-j0]
				for j := range t {
					t[j] = src[(j0+j)*r.C+c]
				}
				o := (r.C0+c)*x.s + r.S0 + j0
				f16.Encode(x.h[o:o+len(t)], t)
			}
		}
	}
	return nil
}

// ReadRegion loads r into dst, a row-major [r.C][r.S] matrix, exactly.
func (x *Surface) ReadRegion(r Region, dst []float32) error {
	if err := x.check("ReadRegion", r, len(dst)); err != nil {
		return err
	}
	if r.S == x.s {
		f16.Decode(dst, x.h[r.C0*x.s:(r.C0+r.C)*x.s])
		return nil
	}
	for c := 0; c < r.C; c++ {
		o := (r.C0+c)*x.s + r.S0
		f16.Decode(dst[c*r.S:(c+1)*r.S], x.h[o:o+r.S])
	}
	return nil
}

// CopyRegion copies region sr of x into region dr of dst, bit for bit (the
// two regions must have the same size; x and dst may be the same surface
// if the regions do not overlap).
func (x *Surface) CopyRegion(dst *Surface, dr, sr Region) error {
	if dr.C != sr.C || dr.S != sr.S {
		return fmt.Errorf("anert: CopyRegion: source %v and destination %v differ in size", sr, dr)
	}
	if err := x.check("CopyRegion source", sr, sr.Len()); err != nil {
		return err
	}
	if err := dst.check("CopyRegion destination", dr, dr.Len()); err != nil {
		return err
	}
	for c := 0; c < sr.C; c++ {
		so := (sr.C0+c)*x.s + sr.S0
		do := (dr.C0+c)*dst.s + dr.S0
		copy(dst.h[do:do+dr.S], x.h[so:so+sr.S])
	}
	return nil
}
