package mil

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const header = "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 64, 1, 128]> x) {\n"

func prog(body, out string) string {
	return header + body + "    } -> (" + out + ");\n}\n"
}

func TestParseSpacingAndLiterals(t *testing.T) {
	// Benchmark-style spacing, hex float, %f float, comment.
	src := `program(1.3)
[buildInfo = dict<string, string>({{"a", "b"}})]
{
  func main<ios18>(tensor<fp16, [1,64,1,128]> x) {
    fp16 h = const()[name = string("h"), val = fp16(0x1p-3)];   // one eighth
    fp16 e = const()[name=string("e"),val=fp16(0.00001)];
    tensor<fp16, [2]> l = const()[name=string("l"), val=tensor<fp16, [2]>([-65504, 1e-3])];
    tensor<fp16, [1, 64, 1, 128]> y = mul( x = x , y = h )[ name = string( "y" ) ];
  } -> (y);
}`
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := p.Main()
	if f == nil || len(f.Ops) != 4 {
		t.Fatalf("parsed %+v", p)
	}
	h := f.Ops[0].Val
	if h.Floats[0] != 0.125 || h.Literal != "0x1p-3" {
		t.Errorf("hex float: %v %q", h.Floats, h.Literal)
	}
	e := f.Ops[1].Val
	if e.Floats[0] != 1.0013580322265625e-05 { // nearest binary16 to 1e-5
		t.Errorf("fp16(0.00001) = %g", e.Floats[0])
	}
	if l := f.Ops[2].Val.Floats; l[0] != -65504 || l[1] != 0.0010004043579101562 {
		t.Errorf("tensor literal %v", l)
	}
	if f.Ops[3].Line != 8 || f.Ops[3].Col != 5 {
		t.Errorf("op position %d:%d, want 8:5", f.Ops[3].Line, f.Ops[3].Col)
	}
	out := Print(p)
	if !bytes.Contains(out, []byte(`val=fp16(0x1p-3)`)) || !bytes.Contains(out, []byte(`y = mul(x=x,y=h)[name=string("y")];`)) {
		t.Errorf("canonical print:\n%s", out)
	}
	q, err := Parse(out)
	if err != nil || !Equal(p, q) || !bytes.Equal(Print(q), out) {
		t.Fatalf("round trip: %v\n%s", err, out)
	}
}

func TestParseErrorsCarryPositions(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{"program(1.3)\n{\n  func main<ios18>(tensor<fp16, [1, 64, 1, 128]> x) {\n    bool b = const()[name=string(\"b\"), val=bool(maybe)];\n", "mil: 4:49: expected true or false"},
		{prog("        tensor<fp16, [1,64,1,128]> y = mul(x=x,y=z)[name=string(\"y\")];\n", "y"), `mil: 4:9: mul "y": argument y=z: "z" is not defined`},
		{prog("        tensor<fp16, [1,64,1,128]> x = relu(x=x)[name=string(\"y\")];\n", "x"), `mil: 4:9: relu "x": "x" is already defined`},
		{prog("        tensor<fp16, [1,64,1,64]> y = relu(x=x)[name=string(\"y\")];\n", "y"), `mil: 4:9: relu "y": declared type tensor<fp16, [1,64,1,64]>, inferred tensor<fp16, [1,64,1,128]>`},
		{prog("        bool b = const()[name=string(\"b\"), val=bool(true)];\n        tensor<fp16, [1,64,1,128]> y = add(x=x,y=b)[name=string(\"y\")];\n", "y"), `mil: 5:9: add "y": argument "y" is bool; want element type fp16 or fp32 or int32`},
		{prog("        tensor<fp16, [1,64,1,128]> y = relu(x=x)[name=string(\"y\")];\n", "q"), `output "q" is not defined`},
		{"program(1.3)\n{\n    func main(tensor<fp16, [1, 2]> x) {\n        tensor<fp16, [1,2]> y = relu(x=x)[name=string(\"y\")]\n    } -> (y);\n}\n", `mil: 5:5: expected ";", found "}"`},
		{"program(1.3)\n{ \"abc", "mil: 2:3: unterminated string"},
		{prog("        tensor<int32, [2]> s = const()[name=string(\"s\"), val=tensor<int32, [2]>([1,2,3])];\n", "s"), "mil: 4:62: tensor<int32, [2]> literal has 3 values, want 2"},
		{prog("        int32 s = const()[name=string(\"s\"), val=int32(3000000000)];\n", "s"), "mil: 4:55: expected a int32 integer"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.src))
		if err == nil {
			t.Errorf("no error for %q", c.src)
			continue
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("error %v is not a *mil.Error", err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q, want it to contain %q", err, c.want)
		}
	}
}

func TestParseHugeShape(t *testing.T) {
	src := prog("        tensor<fp16, [65536,65536,65536,65536]> y = const()[name=string(\"y\"), val=tensor<fp16, [65536,65536,65536,65536]>([])];\n", "y")
	if _, err := Parse([]byte(src)); err == nil {
		t.Fatal("a literal of 2^64 elements (wrapping to 0) was accepted")
	}
}
