//go:build !darwin || !arm64 || purego

package gemm

// accelSgemm returns nil: Accelerate exists only on darwin/arm64 (and the
// purego tag keeps to the portable kernel there too).
func accelSgemm() cblasSgemm { return nil }

// disableAccelerate does nothing in this build.
func disableAccelerate() func() { return func() {} }
