package mil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func conformanceFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(sharedtest.Dir(t, "conformance/mil"), "conformance", "mil", "*", "*.mil"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 40 {
		t.Fatalf("found %d conformance programs, want 40", len(files))
	}
	return files
}

func TestConformanceParsePrint(t *testing.T) {
	for _, f := range conformanceFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(src)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out := Print(p)
		if !bytes.Equal(out, src) {
			t.Errorf("%s: Print does not reproduce the file byte for byte", f)
		}
		q, err := Parse(out)
		if err != nil {
			t.Errorf("%s: reparse: %v", f, err)
			continue
		}
		if !Equal(p, q) {
			t.Errorf("%s: print -> parse is not stable", f)
		}
		if again := Print(q); !bytes.Equal(again, out) {
			t.Errorf("%s: print -> parse -> print is not the identity", f)
		}
	}
}
