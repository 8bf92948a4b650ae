package model

import (
	"fmt"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/format"
)

// Layout and Region describe how a kernel's surfaces are packed; they are
// the bundle's types (package format), so what a bundle says and what the
// generators build are the same values.
type (
	Layout = format.Layout
	Region = format.Region
)

// Box is the part of a surface r covers.
func Box(r Region) anert.Region { return anert.Region{C0: r.C0, C: r.C, S0: r.S0, S: r.S} }

// SourceName is r's source with the layer filled in: "layers.%d.attention.wq.weight"
// for layer 3 is "layers.3.attention.wq.weight"; activation names are returned as they are.
func SourceName(r Region, layer int) string {
	if !r.Weight {
		return r.Source
	}
	return fmt.Sprintf(r.Source, layer)
}

// TensorMap indexes the tensors of w by their llama-style names.
func TensorMap[T Float](c Config, w *Weights[T]) map[string]Tensor[T] {
	m := map[string]Tensor[T]{}
	for _, t := range w.Tensors(c) {
		m[t.Name] = t
	}
	return m
}

// WriteWeights stores every weight region of l for the given layer into s,
// from fp32 master weights (rounded to fp16; transposed where the region says).
// This is the per-step weight sync of a layer's binding.
func WriteWeights(s *anert.Surface, l *Layout, layer int, tensors map[string]Tensor[float32]) error {
	for _, r := range l.Regions {
		if !r.Weight {
			continue
		}
		name := SourceName(r, layer)
		t, ok := tensors[name]
		if !ok {
			return fmt.Errorf("model: region %q: no weight %q", r.Name, name)
		}
		if len(t.Data) != r.C*r.S {
			return fmt.Errorf("model: region %q: weight %q has %d values, region holds %d", r.Name, name, len(t.Data), r.C*r.S)
		}
		var err error
		if r.Transposed {
			err = s.WriteRegionT(Box(r), t.Data)
		} else {
			err = s.WriteRegion(Box(r), t.Data)
		}
		if err != nil {
			return fmt.Errorf("model: region %q: %w", r.Name, err)
		}
	}
	return nil
}

// layoutBuilder places regions side by side along the positions of an
// input surface (each from channel 0), or stacks them along the channels
// of an output surface (each over all positions).
type layoutBuilder struct {
	c, w    int
	regions []Region
}

// along adds a region of c channels and s positions after the last one.
func (lb *layoutBuilder) along(name, source string, weight, transposed bool, c, s int) Region {
	r := Region{Name: name, Source: source, Weight: weight, Transposed: transposed, C: c, S0: lb.w, S: s}
	lb.w += s
	lb.c = max(lb.c, c)
	lb.regions = append(lb.regions, r)
	return r
}

func (lb *layoutBuilder) act(name string, c, s int) Region {
	return lb.along(name, name, false, false, c, s)
}

// weight adds the weight called source (with %d for the layer) of shape
// [out][in], stored transposed (channels = in) or raw (channels = out).
func (lb *layoutBuilder) weight(name, source string, out, in int, transposed bool) Region {
	if transposed {
		return lb.along(name, source, true, true, in, out)
	}
	return lb.along(name, source, true, false, out, in)
}

// stack adds an output region of c channels below the last one.
func (lb *layoutBuilder) stack(name string, c, s int) Region {
	r := Region{Name: name, Source: name, C0: lb.c, C: c, S: s}
	lb.c += c
	lb.w = max(lb.w, s)
	lb.regions = append(lb.regions, r)
	return r
}

// layout returns the layout with the positions padded to a multiple of 64
// halves (128-byte rows).
func (lb *layoutBuilder) layout() Layout {
	return Layout{Shape: [4]int{1, lb.c, 1, roundUp(lb.w, 64)}, Regions: lb.regions}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
