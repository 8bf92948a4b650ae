//go:build !amd64 || purego

package cpu

func expAffine512(dst, src *float32, n int, a, b float32, k *float32, sums *float32) {
	panic("cpu: expAffine512 without amd64 assembly")
}

func expAsm() bool { return false }
