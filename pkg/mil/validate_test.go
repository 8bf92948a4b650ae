package mil

import (
	"os"
	"strings"
	"testing"
)

func TestValidateConformance(t *testing.T) {
	for _, f := range conformanceFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range Validate(p) {
			t.Errorf("%s: %s", f, v)
		}
	}
}

// validBody is a small valid kernel: y = Wᵀ·a with IC=64, S=64, OC=64.
const validBody = `        tensor<int32, [4]> b0 = const()[name=string("b0"), val=tensor<int32, [4]>([0,0,0,0])];
        tensor<int32, [4]> sa = const()[name=string("sa"), val=tensor<int32, [4]>([1,64,1,64])];
        tensor<fp16, [1,64,1,64]> a = slice_by_size(x=x,begin=b0,size=sa)[name=string("a")];
        tensor<int32, [4]> r = const()[name=string("r"), val=tensor<int32, [4]>([1,1,64,64])];
        tensor<fp16, [1,1,64,64]> a2 = reshape(shape=r,x=a)[name=string("a2")];
        bool bF = const()[name=string("bF"), val=bool(false)];
        tensor<fp16, [1,1,64,64]> m = matmul(transpose_x=bF,transpose_y=bF,x=a2,y=a2)[name=string("m")];
        tensor<int32, [4]> ro = const()[name=string("ro"), val=tensor<int32, [4]>([1,64,1,64])];
        tensor<fp16, [1,64,1,64]> y = reshape(shape=ro,x=m)[name=string("y")];
`

// matmul16 contracts over 16: [1,1,512,16] x its transpose.
const matmul16 = `        tensor<int32, [4]> r = const()[name=string("r"), val=tensor<int32, [4]>([1,1,512,16])];
        tensor<fp16, [1,1,512,16]> a = reshape(shape=r,x=x)[name=string("a")];
        bool bF = const()[name=string("bF"), val=bool(false)];
        bool bT = const()[name=string("bT"), val=bool(true)];
        tensor<fp16, [1,1,512,512]> m = matmul(transpose_x=bF,transpose_y=bT,x=a,y=a)[name=string("m")];
        tensor<int32, [4]> ro = const()[name=string("ro"), val=tensor<int32, [4]>([1,4096,1,64])];
        tensor<fp16, [1,4096,1,64]> y = reshape(shape=ro,x=m)[name=string("y")];
`

func kernel(input, body, out string) string {
	return "program(1.3)\n{\n    func main<ios18>(" + input + ") {\n" + body + "    } -> (" + out + ");\n}\n"
}

func TestValidateRules(t *testing.T) {
	in := "tensor<fp16, [1, 64, 1, 128]> x"
	cases := []struct {
		rule, src, op, msg string
	}{
		{RuleWellFormed, kernel(in, "        tensor<fp16, [1,64,1,128]> y = relu(x=z)[name=string(\"y\")];\n", "y"), "", `"z" is not defined`},
		{RuleMain, strings.Replace(kernel(in, validBody, "y"), "func main", "func other", 1), "", "no function called main"},
		{RuleOpset, strings.Replace(kernel(in, validBody, "y"), "<ios18>", "<ios17>", 1), "", `opset "ios17"`},
		{RuleOneIO, kernel(in+", tensor<fp16, [1, 64, 1, 128]> z", validBody, "y"), "", "2 inputs and 1 outputs"},
		{RuleIOType, kernel("tensor<fp16, [64, 128]> x", "        tensor<fp16, [64,128]> y = sigmoid(x=x)[name=string(\"y\")];\n", "y"), `input "x"`, "want tensor<fp16, [1, C, 1, S]>"},
		{RuleIOType, kernel(in, validBody+"        tensor<fp16, [1,1,64,64]> z = relu(x=a2)[name=string(\"z\")];\n", "z"), `output "z"`, "want tensor<fp16, [1, C, 1, S]>"},
		{RuleIOAlign, kernel("tensor<fp16, [1, 64, 1, 96]> x", validBody, "y"), `input "x"`, "96 is not a multiple of 64"},
		{RuleMaxDim, kernel("tensor<fp16, [1, 64, 1, 131072]> x", validBody, "y"), `input "x"`, "above 65536"},
		{RuleMatMulInner, kernel(in, matmul16, "y"), `matmul "m"`, "contraction dimension 16"},
		{RuleANEOp, kernel(in, validBody+"        tensor<fp16, [1,64,1,64]> z = relu(x=y)[name=string(\"z\")];\n", "z"), `relu "z"`, "op relu is not known to run on the ANE"},
		{RuleBlobPath, kernel(in, validBody+"        tensor<fp16, [1,64,1,64]> w = const()[name=string(\"w\"), val=tensor<fp16, [1,64,1,64]>(BLOBFILE(path=string(\"/tmp/w.bin\"), offset=uint64(64)))];\n        tensor<fp16, [1,64,1,64]> z = add(x=y,y=w)[name=string(\"z\")];\n", "z"), `const "w"`, `path="/tmp/w.bin"`},
		{RuleOpName, kernel(in, strings.Replace(validBody, `name=string("a2")`, `name=string("a")`, 1), "y"), `reshape "a2"`, `name "a" is also the name of "a"`},
	}
	for _, c := range cases {
		p, err := parseSyntax([]byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		vs := Validate(p)
		found := false
		for _, v := range vs {
			s := v.String()
			if v.Rule == c.rule && strings.Contains(s, c.rule+": ") && strings.Contains(s, c.op) && strings.Contains(s, c.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no violation naming %q and saying %q; got %v", c.rule, c.op, c.msg, vs)
		}
	}
	// The valid kernel passes.
	p, err := Parse([]byte(kernel(in, validBody, "y")))
	if err != nil {
		t.Fatal(err)
	}
	if vs := Validate(p); len(vs) != 0 {
		t.Errorf("valid kernel: %v", vs)
	}
}
