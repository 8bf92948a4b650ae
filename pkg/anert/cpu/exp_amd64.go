//go:build amd64 && !purego

package cpu

import "github.com/anekit/anekit/internal/cpu"

// expAffine512 is in exp_amd64.s.
//
//go:noescape
func expAffine512(dst, src *float32, n int, a, b float32, k *float32, sums *float32)

// expAsm reports whether expAffine uses the AVX-512 loop.
func expAsm() bool { return cpu.HasAVX512() }

// The row loops of vec_amd64.s.
//
//go:noescape
func max512(x *float32, n int) float32

//go:noescape
func scale512(x *float32, n int, s float32)

//go:noescape
func binary512(op int, d, a, b *float32, n int)
