//go:build !amd64 || purego

package cpu

func expAffine512(dst, src *float32, n int, a, b float32, k *float32, sums *float32) {
	panic("cpu: expAffine512 without amd64 assembly")
}

func expAsm() bool { return false }

func max512(x *float32, n int) float32          { panic("cpu: no assembly") }
func scale512(x *float32, n int, s float32)     { panic("cpu: no assembly") }
func binary512(op int, d, a, b *float32, n int) { panic("cpu: no assembly") }
