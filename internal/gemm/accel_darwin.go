//go:build darwin && arm64 && !purego

package gemm

import (
	"sync"

	"github.com/ebitengine/purego"
)

// accelPath is the Accelerate framework, loaded with dlopen through purego
// (no cgo).
const accelPath = "/System/Library/Frameworks/Accelerate.framework/Accelerate"

var accel struct {
	once  sync.Once
	sgemm cblasSgemm // nil when Accelerate did not load
	off   bool       // tests: disabled
}

// accelSgemm returns Accelerate's cblas_sgemm, or nil when that path is off
// (ANEKIT_GEMM=neon or go, a test) or the framework or symbol failed to
// load, in which case everything runs the NEON kernel. It loads once.
func accelSgemm() cblasSgemm {
	if accel.off || forced == "neon" || forced == "go" {
		return nil
	}
	accel.once.Do(func() {
		defer func() { _ = recover() }() // RegisterFunc panics on a bad signature: stay on NEON
		h, err := purego.Dlopen(accelPath, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			return
		}
		sym, err := purego.Dlsym(h, "cblas_sgemm")
		if err != nil || sym == 0 {
			return
		}
		var f cblasSgemm
		purego.RegisterFunc(&f, sym)
		accel.sgemm = f
	})
	return accel.sgemm
}

// disableAccelerate turns the Accelerate path off (tests) and returns a
// function that restores it.
func disableAccelerate() func() {
	old := accel.off
	accel.off = true
	return func() { accel.off = old }
}
