package format

import (
	"fmt"
	"sort"
)

// Region is one named box of a kernel's input or output surface
// [1, C, 1, W]: channels [C0, C0+C) by positions [S0, S0+S).
//
// Source says what the box holds. For an activation (Weight false) it is the
// activation's name ("xnorm", "q_rope"), and the box holds that activation
// channel-first: feature c of token t at (C0+c, S0+t). For a weight (Weight
// true) it is the weight's llama-style name with %d standing for the layer
// ("layers.%d.attention.wq.weight"). A weight M[out][in] (row-major, as in
// PyTorch and llama2.c) is stored raw when Transposed is false (C = out,
// S = in: channel o holds row o) and transposed when Transposed is true
// (C = in, S = out: channel i holds column i). A one-dimensional weight of
// n values is a raw box with C = 1, S = n.
type Region struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Weight     bool   `json:"weight"`
	Transposed bool   `json:"transposed"`
	C0         int    `json:"c0"`
	C          int    `json:"c"`
	S0         int    `json:"s0"`
	S          int    `json:"s"`
}

// Layout is the shape of a kernel's input or output surface and the
// regions it holds. Positions that no region covers are padding: writers
// leave them zero and readers ignore them.
type Layout struct {
	Shape   [4]int   `json:"shape"` // [1, C, 1, W]
	Regions []Region `json:"regions"`
}

// Region returns the region called name.
func (l *Layout) Region(name string) (Region, bool) {
	for _, r := range l.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// Bytes is the size of the surface in bytes (fp16).
func (l *Layout) Bytes() int64 { return 2 * int64(l.Shape[1]) * int64(l.Shape[3]) }

// Check reports the first problem of l: a shape that is not [1, C, 1, W]
// with positive C and W, a region with an empty name or source, a repeated
// name, a region that is empty or leaves the surface, or two regions that
// overlap (no two regions may share an element: a write to one would
// clobber the other). field names l in the message ("kernels[2].input").
func (l *Layout) Check(field string) error {
	s := l.Shape
	if s[0] != 1 || s[2] != 1 || s[1] <= 0 || s[3] <= 0 || s[1] > MaxBundleDim || s[3] > MaxBundleDim {
		return fmt.Errorf("%s.shape %v: want [1, C, 1, W] with 0 < C, W <= %d", field, s, MaxBundleDim)
	}
	if len(l.Regions) == 0 {
		return fmt.Errorf("%s.regions: empty", field)
	}
	names := map[string]bool{}
	for i, r := range l.Regions {
		f := fmt.Sprintf("%s.regions[%d]", field, i)
		switch {
		case r.Name == "":
			return fmt.Errorf("%s.name: empty", f)
		case names[r.Name]:
			return fmt.Errorf("%s.name: %q is repeated", f, r.Name)
		case r.Source == "":
			return fmt.Errorf("%s.source: empty", f)
		case r.C <= 0 || r.S <= 0 || r.C0 < 0 || r.S0 < 0:
			return fmt.Errorf("%s (%q): box c0=%d c=%d s0=%d s=%d must be non-empty with non-negative origin", f, r.Name, r.C0, r.C, r.S0, r.S)
		case r.C0 > s[1]-r.C || r.S0 > s[3]-r.S:
			return fmt.Errorf("%s (%q): box channels [%d,%d) x positions [%d,%d) leaves the surface [1,%d,1,%d]",
				f, r.Name, r.C0, r.C0+r.C, r.S0, r.S0+r.S, s[1], s[3])
		case !r.Weight && r.Transposed:
			return fmt.Errorf("%s (%q): transposed is only meaningful for weights", f, r.Name)
		}
		names[r.Name] = true
	}
	// Overlap: sort by S0 and compare boxes pairwise within reach.
	idx := make([]int, len(l.Regions))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return l.Regions[idx[a]].S0 < l.Regions[idx[b]].S0 })
	for a := range idx {
		ra := l.Regions[idx[a]]
		for b := a + 1; b < len(idx); b++ {
			rb := l.Regions[idx[b]]
			if rb.S0 >= ra.S0+ra.S {
				break
			}
			if rb.C0 < ra.C0+ra.C && ra.C0 < rb.C0+rb.C {
				return fmt.Errorf("%s.regions: %q and %q overlap", field, ra.Name, rb.Name)
			}
		}
	}
	return nil
}

// MaxBundleDim bounds every dimension a bundle declares (the Neural
// Engine's limit is 65536; the CPU backend takes a little more room).
const MaxBundleDim = 1 << 20
