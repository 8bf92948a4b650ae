package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/model"
)

var bin string // the ane-compile binary built by TestMain

func TestMain(m *testing.M) { sharedtest.MainWithBinary(m, "ane-compile", &bin) }

type result struct {
	stdout, stderr string
	code           int
}

func runBin(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{o.String(), e.String(), code}
}

func TestExampleModels(t *testing.T) {
	yamls, _ := filepath.Glob(filepath.Join(sharedtest.Root(t), "examples", "models", "*.yaml"))
	if len(yamls) < 5 {
		t.Fatalf("found %d example models", len(yamls))
	}
	for _, y := range yamls {
		name := strings.TrimSuffix(filepath.Base(y), ".yaml")
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name+".aneb")
			start := time.Now()
			r := runBin(t, y, "-o", out, "--target", "cpu")
			t.Logf("%s in %v", name, time.Since(start))
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, k := range []string{"attn_fwd", "ffn_fwd", "ffn_bwd", "attn_bwd", "per step", "wrote " + out} {
				if !strings.Contains(r.stderr, k) {
					t.Errorf("table lacks %q:\n%s", k, r.stderr)
				}
			}
			b, c, err := model.OpenBundle(out)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != name || !strings.Contains(r.stderr, b.Hash) {
				t.Errorf("bundle of %q, hash %s not printed", c.Name, b.Hash)
			}
			if c.QKNorm != (b.Manifest.Kernels[len(b.Manifest.Kernels)-1].Name == "qkv_bwd") {
				t.Errorf("qk_norm %v but kernels %v", c.QKNorm, len(b.Manifest.Kernels))
			}
		})
	}
}

func TestDefaultOutputDeterministicAndJSON(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(sharedtest.Root(t), "examples", "models", "tiny.yaml"))
	y := filepath.Join(dir, "model.yaml")
	os.WriteFile(y, src, 0o644)
	r := runBin(t, y, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.Bundle != filepath.Join(dir, "model.aneb") || len(rep.Kernels) != 4 || rep.GFLOPPerStep <= 0 {
		t.Fatalf("report %+v", rep)
	}
	first := readAll(t, rep.Bundle)
	// Again over the existing bundle, and into a second directory: same bytes.
	if r := runBin(t, y); r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	other := filepath.Join(dir, "other.aneb")
	if r := runBin(t, y, "-o", other); r.code != 0 {
		t.Fatalf("third run: exit %d: %s", r.code, r.stderr)
	}
	for _, d := range []string{rep.Bundle, other} {
		got := readAll(t, d)
		if len(got) != len(first) {
			t.Fatalf("%s: %d files, first run %d", d, len(got), len(first))
		}
		for p, data := range first {
			if !bytes.Equal(got[p], data) {
				t.Errorf("%s/%s differs from the first run", d, p)
			}
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("leftovers in %s: %v", dir, ents)
	}
}

func readAll(t *testing.T, dir string) map[string][]byte {
	m := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			m[rel], _ = os.ReadFile(p)
		}
		return err
	})
	return m
}

const headDim8 = `name: small8
dim: 64
hidden_dim: 172
n_layers: 2
n_heads: 8
n_kv_heads: 4
vocab_size: 512
seq_len: 512
`

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "small8.yaml")
	os.WriteFile(y, []byte(headDim8), 0o644)
	tiny := filepath.Join(sharedtest.Root(t), "examples", "models", "tiny.yaml")

	r := runBin(t, y, "--target", "cpu")
	if r.code != 0 || strings.Count(r.stderr, "warning") != 1 || !strings.Contains(r.stderr, "matmul-inner") {
		t.Fatalf("cpu target: exit %d, want 0 and one warning line:\n%s", r.code, r.stderr)
	}
	r = runBin(t, y, "--target", "ane", "-o", filepath.Join(dir, "x.aneb"))
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "cannot take this shape") {
		t.Fatalf("ane target, head_dim 8: exit %d, want 2 and one line:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.aneb")); err == nil {
		t.Error("a refused bundle was written")
	}
	if runtime.GOOS != "darwin" || runtime.GOARCH != "arm64" {
		r = runBin(t, tiny, "--target", "ane", "-o", filepath.Join(dir, "t.aneb"))
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no Neural Engine") {
			t.Fatalf("ane target without ANE: exit %d, want 1 and one line:\n%s", r.code, r.stderr)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	notBundle := filepath.Join(dir, "occupied")
	os.MkdirAll(notBundle, 0o755)
	os.WriteFile(filepath.Join(notBundle, "keep.txt"), []byte("x"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{write("u.yaml", "dim: 64\nhidden_dim: 128\nn_layrs: 2\n")}, `u.yaml:3: unknown key "n_layrs"`},
		{"heads", []string{write("h.yaml", "dim: 64\nhidden_dim: 128\nn_layers: 2\nn_heads: 4\nn_kv_heads: 3\nvocab_size: 10\nseq_len: 64\n")}, "not divisible"},
		{"syntax", []string{write("s.yaml", "dim: [64\n")}, "s.yaml"},
		{"missing", []string{write("m.yaml", "dim: 64\n")}, "missing required key"},
		{"not int", []string{write("f.yaml", "dim: 64.5\nhidden_dim: 128\nn_layers: 2\nn_heads: 4\nvocab_size: 10\nseq_len: 64\n")}, "not an integer"},
		{"no file", []string{filepath.Join(dir, "absent.yaml")}, "absent.yaml"},
		{"no args", nil, "want one model.yaml"},
		{"two args", []string{"a.yaml", "b.yaml"}, "want one model.yaml"},
		{"bad target", []string{"--target", "gpu", "x.yaml"}, "--target"},
		{"occupied output", []string{"-o", notBundle, filepath.Join(sharedtest.Root(t), "examples", "models", "tiny.yaml")}, "not a bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "ane-compile: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q, want one line mentioning %q", r.stderr, tc.want)
			}
		})
	}
}
