package mil

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics; its errors are *Error values with a
// position when they come from the text; what parses prints and reparses
// to an equal program.
func FuzzParse(f *testing.F) {
	f.Add([]byte(kernel("tensor<fp16, [1, 64, 1, 128]> x", validBody, "y")))
	f.Add([]byte(kernel("tensor<fp16, [1, 64, 1, 128]> x", matmul16, "y")))
	f.Add([]byte("program(1.3)\n[buildInfo = dict<string, string>({{\"a\", \"b\"}})]\n{\n}\n"))
	f.Add([]byte(`program(1.3) { func main<ios18>(tensor<fp16, [2]> x) { fp16 h = const()[name=string("h"), val=fp16(0x1p-3)]; tensor<fp16, [2]> y = mul(x=x,y=h)[name=string("y")]; } -> (y); }`))
	if files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "conformance", "mil", "small", "*.mil")); len(files) > 0 {
		for _, name := range files[:3] {
			if src, err := os.ReadFile(name); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *mil.Error", err)
			}
			return
		}
		out := Print(p)
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("printed program does not parse: %v\n%s", err, out)
		}
		if !Equal(p, q) || !bytes.Equal(Print(q), out) {
			t.Fatalf("print -> parse is not stable:\n%s", out)
		}
		Validate(p)
	})
}
