package bpe

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiktokenByteFile returns a valid .tiktoken text of the 256 bytes plus
// extra tokens.
func tiktokenByteFile(extra ...string) string {
	var b strings.Builder
	for i := 0; i < 256; i++ {
		fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(i)}), i)
	}
	for i, tok := range extra {
		fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(tok)), 256+i)
	}
	return b.String()
}

func TestLoadTiktokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.tiktoken")
	if err := os.WriteFile(path, []byte(tiktokenByteFile("he", "ll", "hell", "hello", " hello")), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := LoadTiktokenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 263 {
		t.Fatalf("VocabSize %d, want 261 ranks + 2 specials", tk.VocabSize())
	}
	if id, _ := tk.Special("bos"); id != 261 {
		t.Fatalf("bos %d", id)
	}
	if id, _ := tk.Special("eos"); id != 262 {
		t.Fatalf("eos %d", id)
	}
	if ids := tk.Encode(nil, []byte("hello hello")); fmt.Sprint(ids) != "[259 260]" {
		t.Fatalf("encode: %v", ids)
	}
	out, err := tk.Decode(nil, []uint32{259, 262, 261})
	if err != nil || string(out) != "hello<|eos|><|bos|>" {
		t.Fatalf("decode: %q %v", out, err)
	}
	// Declared specials change the ids and the identity.
	tk2, err := LoadTiktokenFile(path, []string{"<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tk2.Special("eos"); !ok || id != 261 || tk2.VocabSize() != 262 || tk2.Identity() == tk.Identity() {
		t.Fatalf("specials [<|endoftext|>]: eos %d %v, vocab %d, identity %s", id, ok, tk2.VocabSize(), tk2.Identity())
	}
	// Writing reproduces the file.
	var buf bytes.Buffer
	if err := tk.WriteTiktoken(&buf); err != nil || buf.String() != tiktokenByteFile("he", "ll", "hell", "hello", " hello") {
		t.Fatalf("WriteTiktoken differs (err %v)", err)
	}
	if _, err := LoadTiktokenFile(filepath.Join(t.TempDir(), "missing.tiktoken"), nil); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestLoadTiktokenFileErrors(t *testing.T) {
	good := tiktokenByteFile("ab")
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	with := func(i int, l string) string {
		c := append([]string(nil), lines...)
		c[i] = l
		return strings.Join(c, "\n") + "\n"
	}
	cases := []struct{ name, text, want string }{
		{"empty", "", "empty file"},
		{"bad base64", with(256, "YW$ 256"), "v.tiktoken:257: token: bad base64"},
		{"unpadded base64", with(256, "YWI 256"), "v.tiktoken:257: token: bad base64"},
		{"no space", with(3, "Aw=="), "v.tiktoken:4: want"},
		{"empty line", with(10, ""), "v.tiktoken:11: empty line"},
		{"bad rank", with(256, "YWI= x"), "v.tiktoken:257: rank"},
		{"negative rank", with(256, "YWI= -1"), "v.tiktoken:257: rank"},
		{"leading zero", with(256, "YWI= 0256"), "v.tiktoken:257: rank"},
		{"huge rank", with(256, "YWI= 99999999999"), "v.tiktoken:257: rank"},
		{"two spaces", with(256, "YWI=  256"), "v.tiktoken:257: rank"},
		{"crlf", with(256, "YWI= 256\r"), "v.tiktoken:257: rank"},
		{"duplicate token", with(256, "AA== 256"), "v.tiktoken:257: token \"\\x00\" already has a rank on line 1"},
		{"duplicate rank", with(256, "YWI= 255"), "rank 255 already given on line"},
		{"gap", with(256, "YWI= 257"), "rank 256 is missing"},
		{"far rank", with(256, "YWI= 100000"), "far above"},
		{"empty token", with(256, " 256"), "v.tiktoken:257: token: empty"},
		{"missing rank 0", strings.Join(lines[1:], "\n") + "\n", "rank 0 is missing"},
		{"missing byte dense", strings.Replace(good, "AA== 0\n", "", 1) + "AA== 0\n", "nothing"},
	}
	for _, c := range cases {
		_, err := ReadTiktoken(strings.NewReader(c.text), "v.tiktoken", nil)
		if c.want == "nothing" {
			if err != nil {
				t.Errorf("%s: %v (rank order should not matter)", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	// 257 tokens without byte 0x41: a vocabulary that cannot encode 'A'.
	noA := strings.Replace(good, base64.StdEncoding.EncodeToString([]byte("A"))+" 65\n", base64.StdEncoding.EncodeToString([]byte("xyz"))+" 65\n", 1)
	if _, err := ReadTiktoken(strings.NewReader(noA), "v.tiktoken", nil); err == nil || !strings.Contains(err.Error(), "0x41") {
		t.Errorf("missing byte: err %v", err)
	}
	if _, err := ReadTiktoken(strings.NewReader(good), "v.tiktoken", []string{"<|a|>", "<|a|>"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate special: err %v", err)
	}
	// No final newline is fine.
	if _, err := ReadTiktoken(strings.NewReader(strings.TrimSuffix(good, "\n")), "v.tiktoken", nil); err != nil {
		t.Errorf("no final newline: %v", err)
	}
}

func FuzzLoadTiktokenFile(f *testing.F) {
	f.Add([]byte(tiktokenByteFile("ab", "abc")))
	f.Add([]byte(tiktokenByteFile()))
	f.Add([]byte("AA== 0\n"))
	f.Add([]byte("YWI= 1\nAA== 0\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ReadTiktoken(bytes.NewReader(data), "fuzz.tiktoken", nil)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tiktoken") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// A vocabulary that loads must encode and decode anything.
		for _, s := range [][]byte{data, []byte("hello \xff world\n")} {
			back, err := tk.Decode(nil, tk.Encode(nil, s))
			if err != nil || !bytes.Equal(back, s) {
				t.Fatalf("round trip failed: %v", err)
			}
		}
		var buf bytes.Buffer
		if err := tk.WriteTiktoken(&buf); err != nil {
			t.Fatal(err)
		}
		tk2, err := ReadTiktoken(&buf, "rewritten", nil)
		if err != nil || tk2.Identity() != tk.Identity() {
			t.Fatalf("rewritten file: %v", err)
		}
	})
}
