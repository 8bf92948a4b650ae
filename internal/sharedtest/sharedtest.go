// Package sharedtest holds what many tests share: locating the shared test
// data (conformance vectors, reference models and corpora), and counting
// steady-state allocations.
//
// The data lives in a folder called shared beside the repository root (CI
// clones the repository next to it). A user's clone may not have it: tests
// that need it skip with a message saying so, and the rest still run.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root: the nearest directory at or above the
// working directory that holds go.mod. It skips t when there is none.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared")
		}
		dir = parent
	}
}

// Dir returns the shared data folder (<repository root>/../shared), or
// skips t with a clear message when it is absent or lacks any of the
// relative paths in need (such as "conformance/mil").
func Dir(t testing.TB, need ...string) string {
	t.Helper()
	s := filepath.Join(Root(t), "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("shared test data absent (%s): skipping; CI provides it", s)
	}
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(s, n)); err != nil {
			t.Skipf("shared test data %s absent: skipping", filepath.Join(s, n))
		}
	}
	return s
}

// Path returns the path of elem inside the shared data folder, or skips t
// with a clear message when that file or folder is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s absent: skipping", p)
	}
	return p
}
