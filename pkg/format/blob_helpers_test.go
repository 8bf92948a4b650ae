package format

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// blobSharedDir returns ../shared beside the repository root, or skips t.
func blobSharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(s, "conformance")); err != nil {
		t.Skipf("shared test data absent (%v): skipping", err)
	}
	return s
}

func blobPow(a, b float64) float64 { return math.Pow(a, b) }
func blobAbs(a float64) float64    { return math.Abs(a) }
func blobCos(a float64) float64    { return math.Cos(a) }
func blobSin(a float64) float64    { return math.Sin(a) }
