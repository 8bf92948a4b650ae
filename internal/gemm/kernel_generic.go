//go:build (!amd64 && !arm64) || purego

package gemm

// currentKernel returns the portable Go kernel: this build has no assembly.
func currentKernel() *kernel { return goKernel }
