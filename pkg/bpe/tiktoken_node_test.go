package bpe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// TestTiktokenAgainstNode compares ids with OpenAI's tiktoken itself (its
// Rust core compiled to WASM, npm package "tiktoken") on random adversarial
// text. It runs only when TIKTOKEN_NODE_DIR names a directory holding
// node_modules/tiktoken (npm install tiktoken) and node is on PATH:
//
//	TIKTOKEN_NODE_DIR=/tmp/tkref go test -run AgainstNode ./pkg/bpe
func TestTiktokenAgainstNode(t *testing.T) {
	dir := os.Getenv("TIKTOKEN_NODE_DIR")
	if dir == "" {
		t.Skip("TIKTOKEN_NODE_DIR not set (a directory with node_modules/tiktoken)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	rng := rand.New(rand.NewSource(12))
	var texts []string
	for k := 0; k < 3000; k++ {
		b := tiktokenRandomText(rng, rng.Intn(400), false)
		if !utf8.Valid(b) { // random ASCII bytes are valid; be sure
			continue
		}
		texts = append(texts, string(b))
	}
	in, _ := json.Marshal(texts)
	script := `
const { get_encoding } = require("tiktoken");
const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const name of ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"]) {
  const enc = get_encoding(name);
  console.log(JSON.stringify({name, ids: texts.map(s => Array.from(enc.encode_ordinary(s)))}));
  enc.free();
}`
	cmd := exec.Command(node, "-e", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<28)
	encodings := 0
	for sc.Scan() {
		var r struct {
			Name string     `json:"name"`
			IDs  [][]uint32 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		tk := mustTiktoken(t, r.Name)
		for i, want := range r.IDs {
			got := tk.Encode(nil, []byte(texts[i]))
			if len(got) != len(want) || tiktokenFirstDiff(got, want) != len(got) {
				t.Errorf("%s: %q: got %v, tiktoken %v", r.Name, texts[i], got, want)
			}
		}
		encodings++
	}
	if encodings != 4 {
		t.Fatalf("node answered for %d encodings", encodings)
	}
	t.Logf("%d texts agree with tiktoken (npm) for 4 encodings", len(texts))
}
