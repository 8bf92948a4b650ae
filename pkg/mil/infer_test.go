package mil

import (
	"strings"
	"testing"
)

// inferred parses consts + a final statement "R = <stmt>" whose declared
// type is a deliberately wrong placeholder, and returns the inferred type
// named by the mismatch error (or the error text when inference failed).
func inferred(t *testing.T, input, consts, stmt string) string {
	t.Helper()
	src := "program(1.3)\n{\n    func main<ios18>(" + input + " x) {\n" + consts +
		"        string R = " + stmt + "[name=string(\"R\")];\n    } -> (R);\n}\n"
	_, err := Parse([]byte(src))
	if err == nil {
		t.Fatalf("no error for %s", stmt)
	}
	msg := err.Error()
	if i := strings.Index(msg, "declared type string, inferred "); i >= 0 {
		return msg[i+len("declared type string, inferred "):]
	}
	return "error: " + msg
}

func ints(name string, v ...string) string {
	return "        tensor<int32, [" + itoa(len(v)) + "]> " + name + " = const()[name=string(\"" + name +
		"\"), val=tensor<int32, [" + itoa(len(v)) + "]>([" + strings.Join(v, ",") + "])];\n"
}

func itoa(n int) string {
	return Tensor(FP16, n).String()[len("tensor<fp16, [") : len(Tensor(FP16, n).String())-2]
}

func scalar(name, typ, lit string) string {
	return "        " + typ + " " + name + " = const()[name=string(\"" + name + "\"), val=" + typ + "(" + lit + ")];\n"
}

func TestInfer(t *testing.T) {
	x4 := "tensor<fp16, [1, 64, 1, 128]>"
	bF, bT := scalar("bF", "bool", "false"), scalar("bT", "bool", "true")
	cases := []struct {
		name, input, consts, stmt, want string
	}{
		{"slice", x4, ints("b", "0", "0", "0", "64") + ints("s", "1", "64", "1", "32"), "slice_by_size(x=x,begin=b,size=s)", "tensor<fp16, [1,64,1,32]>"},
		{"slice -1 and negative begin", x4, ints("b", "0", "-16", "0", "100") + ints("s", "1", "-1", "1", "-1"), "slice_by_size(x=x,begin=b,size=s)", "tensor<fp16, [1,16,1,28]>"},
		{"slice out of bounds", x4, ints("b", "0", "0", "0", "100") + ints("s", "1", "64", "1", "29"), "slice_by_size(x=x,begin=b,size=s)", `error: mil: 6:9: slice_by_size "R": axis 3: begin 100 size 29 outside dimension 128`},
		{"reshape", x4, ints("s", "1", "4", "16", "128"), "reshape(x=x,shape=s)", "tensor<fp16, [1,4,16,128]>"},
		// iOS17+ semantics: a 0 copies the input dimension aligned from the right.
		{"reshape -1 and 0", x4, ints("s", "0", "-1", "0"), "reshape(x=x,shape=s)", "tensor<fp16, [64,1,128]>"},
		{"reshape volume", x4, ints("s", "1", "4", "16", "127"), "reshape(x=x,shape=s)", "error: mil: 5:9: reshape \"R\": cannot reshape tensor<fp16, [1,64,1,128]> (8192 elements) to [1 4 16 127] (8128 elements)"},
		{"transpose", x4, ints("p", "0", "3", "1", "2"), "transpose(x=x,perm=p)", "tensor<fp16, [1,128,64,1]>"},
		{"transpose not a permutation", x4, ints("p", "0", "1", "1", "2"), "transpose(x=x,perm=p)", "is not a permutation"},
		{"matmul", "tensor<fp16, [1, 4, 64, 32]>", bF + bT, "matmul(x=x,y=x,transpose_x=bF,transpose_y=bT)", "tensor<fp16, [1,4,64,64]>"},
		{"matmul tx", "tensor<fp16, [1, 4, 64, 32]>", bF + bT, "matmul(x=x,y=x,transpose_x=bT,transpose_y=bF)", "tensor<fp16, [1,4,32,32]>"},
		{"matmul inner mismatch", "tensor<fp16, [1, 4, 64, 32]>", "", "matmul(x=x,y=x)", `inner dimensions differ: x tensor<fp16, [1,4,64,32]> (transpose_x=false) has 32, y tensor<fp16, [1,4,64,32]> (transpose_y=false) has 64`},
		{"conv 1x1", "tensor<fp16, [1, 64, 1, 128]>", "        tensor<fp16, [32,64,1,1]> w = const()[name=string(\"w\"), val=tensor<fp16, [32,64,1,1]>(BLOBFILE(path=string(\"@model_path/weights/w.bin\"), offset=uint64(64)))];\n", "conv(x=x,weight=w)", "tensor<fp16, [1,32,1,128]>"},
		{"conv 3x3 same stride 2", "tensor<fp16, [1, 8, 15, 16]>", "        tensor<fp16, [4,8,3,3]> w = const()[name=string(\"w\"), val=tensor<fp16, [4,8,3,3]>(BLOBFILE(path=string(\"w.bin\"), offset=uint64(64)))];\n" + scalar("pt", "string", `"same"`) + ints("st", "2", "2"), "conv(x=x,weight=w,pad_type=pt,strides=st)", "tensor<fp16, [1,4,8,8]>"},
		{"conv custom pad dilation groups", "tensor<fp16, [1, 8, 10, 10]>", "        tensor<fp16, [4,2,3,3]> w = const()[name=string(\"w\"), val=tensor<fp16, [4,2,3,3]>(BLOBFILE(path=string(\"w.bin\"), offset=uint64(64)))];\n" + scalar("pt", "string", `"custom"`) + ints("pd", "1", "0", "2", "2") + ints("dl", "2", "1") + scalar("g", "int32", "4"), "conv(x=x,weight=w,pad_type=pt,pad=pd,dilations=dl,groups=g)", "tensor<fp16, [1,4,7,12]>"},
		{"conv groups mismatch", "tensor<fp16, [1, 8, 10, 10]>", "        tensor<fp16, [4,4,3,3]> w = const()[name=string(\"w\"), val=tensor<fp16, [4,4,3,3]>(BLOBFILE(path=string(\"w.bin\"), offset=uint64(64)))];\n", "conv(x=x,weight=w)", "dimension 1 must be input channels / groups = 8"},
		{"add broadcast", x4, "        tensor<fp16, [64,1,1]> c = const()[name=string(\"c\"), val=tensor<fp16, [64,1,1]>(BLOBFILE(path=string(\"c.bin\"), offset=uint64(64)))];\n", "add(x=x,y=c)", "tensor<fp16, [1,64,1,128]>"},
		{"sub scalar", x4, scalar("c", "fp16", "1"), "sub(x=c,y=x)", "tensor<fp16, [1,64,1,128]>"},
		{"mul scalars", x4, scalar("c", "fp16", "1"), "mul(x=c,y=c)", "fp16"},
		{"real_div no broadcast", x4, "        tensor<fp16, [1,1,1,64]> c = const()[name=string(\"c\"), val=tensor<fp16, [1,1,1,64]>(BLOBFILE(path=string(\"c.bin\"), offset=uint64(64)))];\n", "real_div(x=x,y=c)", "do not broadcast"},
		{"maximum", x4, "", "maximum(x=x,y=x)", "tensor<fp16, [1,64,1,128]>"},
		{"minimum dtype", x4, scalar("c", "fp32", "1"), "minimum(x=x,y=c)", "x is tensor<fp16, [1,64,1,128]> but y is fp32"},
		{"pow", x4, scalar("c", "fp16", "-0.5"), "pow(x=x,y=c)", "tensor<fp16, [1,64,1,128]>"},
		{"softmax", x4, scalar("a", "int32", "1"), "softmax(x=x,axis=a)", "tensor<fp16, [1,64,1,128]>"},
		{"softmax axis range", x4, scalar("a", "int32", "4"), "softmax(x=x,axis=a)", "axis 4 out of range for rank 4"},
		{"concat", x4, scalar("a", "int32", "-1") + scalar("i", "bool", "false"), "concat(values=(x,x,x),axis=a,interleave=i)", "tensor<fp16, [1,64,1,384]>"},
		{"concat interleave", x4, scalar("a", "int32", "1") + scalar("i", "bool", "true"), "concat(values=(x,x),axis=a,interleave=i)", "tensor<fp16, [1,128,1,128]>"},
		{"concat mismatch", x4, ints("b", "0", "0", "0", "0") + ints("s", "1", "32", "1", "128") + "        tensor<fp16, [1,32,1,128]> h = slice_by_size(x=x,begin=b,size=s)[name=string(\"h\")];\n" + scalar("a", "int32", "3"), "concat(values=(x,h),axis=a)", "which does not match x tensor<fp16, [1,64,1,128]> on axis 1"},
		{"concat needs tuple", x4, scalar("a", "int32", "3"), "concat(values=x,axis=a)", `argument "values" takes a tuple`},
		{"reduce_sum keep", x4, "        tensor<int32, [1]> ax = const()[name=string(\"ax\"), val=tensor<int32, [1]>([1])];\n" + bT, "reduce_sum(x=x,axes=ax,keep_dims=bT)", "tensor<fp16, [1,1,1,128]>"},
		{"reduce_mean drop", x4, ints("ax", "-1", "1"), "reduce_mean(x=x,axes=ax)", "tensor<fp16, [1,1]>"},
		{"reduce_max all", x4, "", "reduce_max(x=x)", "fp16"},
		{"rsqrt eps", x4, scalar("e", "fp16", "0.00001"), "rsqrt(x=x,epsilon=e)", "tensor<fp16, [1,64,1,128]>"},
		{"sqrt", x4, "", "sqrt(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"sigmoid", x4, "", "sigmoid(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"silu", x4, "", "silu(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"exp", x4, "", "exp(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"tanh", x4, "", "tanh(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"relu", x4, "", "relu(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"square", x4, "", "square(x=x)", "tensor<fp16, [1,64,1,128]>"},
		{"cast", x4, scalar("d", "string", `"fp32"`), "cast(x=x,dtype=d)", "tensor<fp32, [1,64,1,128]>"},
		{"cast bad", x4, scalar("d", "string", `"int8"`), "cast(x=x,dtype=d)", `dtype "int8" is not int32, fp16, fp32 or bool`},
		{"unknown arg", x4, "", "relu(x=x,alpha=x)", `unknown argument "alpha" (takes x)`},
		{"missing arg", x4, "", "matmul(x=x)", `missing argument "y"`},
		{"non-const attr", x4, "", "softmax(x=x,axis=x)", `argument "axis" (x) must be a const`},
	}
	for _, c := range cases {
		got := inferred(t, c.input, c.consts, c.stmt)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestMatMulBroadcast(t *testing.T) {
	src := `program(1.3)
{
    func main<ios18>(tensor<fp16, [3, 1, 8, 16]> x) {
        tensor<int32, [4]> s = const()[name=string("s"), val=tensor<int32, [4]>([1,3,16,8])];
        tensor<fp16, [1,3,16,8]> w = reshape(x=x,shape=s)[name=string("w")];
        tensor<fp16, [3,3,8,8]> y = matmul(x=x,y=w)[name=string("y")];
    } -> (y);
}
`
	if _, err := Parse([]byte(src)); err != nil {
		t.Fatal(err)
	}
}
