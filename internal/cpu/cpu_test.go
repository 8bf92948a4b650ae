package cpu

import (
	"runtime"
	"testing"
)

// TestPath checks that Path follows the flags, and that each Disable hook
// turns its flag off and its restore function brings it back.
func TestPath(t *testing.T) {
	if runtime.GOARCH == "arm64" && !HasNEON() {
		t.Fatal("arm64 without NEON")
	}
	if runtime.GOARCH != "arm64" && HasNEON() {
		t.Fatalf("NEON on %s", runtime.GOARCH)
	}
	if runtime.GOARCH != "amd64" && (HasAVX512() || HasAVX2() || HasF16C()) {
		t.Fatalf("x86 features on %s", runtime.GOARCH)
	}
	was := map[string]bool{"avx512": HasAVX512(), "avx2": HasAVX2(), "f16c": HasF16C(), "neon": HasNEON()}
	var restore []func()
	for _, d := range []struct {
		name    string
		disable func() func()
		has     func() bool
	}{
		{"avx512", DisableAVX512, HasAVX512},
		{"avx2", DisableAVX2, HasAVX2},
		{"neon", DisableNEON, HasNEON},
		{"f16c", DisableF16C, HasF16C},
	} {
		before := Path()
		restore = append(restore, d.disable())
		if d.has() {
			t.Fatalf("%s still on after Disable", d.name)
		}
		if was[d.name] && before == d.name && Path() == d.name {
			t.Fatalf("Path still %q after disabling it", d.name)
		}
	}
	if Path() != "go" {
		t.Fatalf("Path() = %q with every feature off, want go", Path())
	}
	for i := len(restore) - 1; i >= 0; i-- {
		restore[i]()
	}
	now := map[string]bool{"avx512": HasAVX512(), "avx2": HasAVX2(), "f16c": HasF16C(), "neon": HasNEON()}
	for k, v := range was {
		if now[k] != v {
			t.Fatalf("%s = %v after restore, want %v", k, now[k], v)
		}
	}
}
