package model

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func TestExampleModels(t *testing.T) {
	dir := filepath.Join(sharedtest.Root(t), "examples", "models")
	want := map[string]struct {
		d, h, l, nh, nkv, hd, v, s int
		tied, qk                   bool
		theta                      float64
	}{
		"tiny":        {128, 384, 4, 4, 2, 32, 258, 128, true, false, 1e4},
		"stories15m":  {288, 768, 6, 6, 6, 48, 32000, 256, true, false, 1e4},
		"stories42m":  {512, 1376, 8, 8, 8, 64, 32000, 1024, true, false, 1e4},
		"stories110m": {768, 2048, 12, 12, 12, 64, 32000, 1024, true, false, 1e4},
		"qwen3-0.6b":  {1024, 3072, 28, 16, 8, 128, 151936, 1024, true, true, 1e6},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(want) {
		t.Errorf("examples/models has %d yaml files, want %d", len(files), len(want))
	}
	for name, w := range want {
		c, err := LoadConfig(filepath.Join(dir, name+".yaml"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := [8]int{c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKVHeads, c.HeadDim, c.VocabSize, c.SeqLen}
		if got != [8]int{w.d, w.h, w.l, w.nh, w.nkv, w.hd, w.v, w.s} || c.TiedEmbeddings != w.tied ||
			c.QKNorm != w.qk || c.RopeTheta != w.theta || c.Name != name {
			t.Errorf("%s: got %+v", name, c)
		}
		if c.Alpha() != 1 {
			t.Errorf("%s: residual scale %v, want 1", name, c.Alpha())
		}
	}
}

func TestConfigParams(t *testing.T) {
	// stories110M: 109.53M parameters with the embedding counted once
	// (research notes §3.1); Qwen3-0.6B shape: 596.04M (without q/k norms).
	c, err := LoadConfig(filepath.Join(sharedtest.Root(t), "examples", "models", "stories110m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.NumParams(); math.Abs(float64(n)/1e6-109.53) > 0.01 {
		t.Errorf("stories110m: %d params, want 109.53M", n)
	}
	q, err := LoadConfig(filepath.Join(sharedtest.Root(t), "examples", "models", "qwen3-0.6b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := q.NumParams() - int64(2*q.HeadDim*q.NLayers); math.Abs(float64(n)/1e6-596.04) > 0.01 {
		t.Errorf("qwen3: %d params, want 596.04M", n)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte("dim: 64\nhidden_dim: 172\nn_layers: 5\nn_heads: 8\nvocab_size: 512\nseq_len: 512\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.NKVHeads != 8 || c.HeadDim != 8 || c.RopeTheta != 1e4 || c.NormEps != 1e-5 ||
		c.TiedEmbeddings || c.QKNorm || c.Alpha() != 1 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseConfig([]byte("dim: 64\nhidden_dim: 172\nn_layers: 8\nn_heads: 8\nvocab_size: 512\nseq_len: 512\nresidual_scale: deepnet\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Alpha(); a != 0.25 {
		t.Errorf("deepnet alpha with 8 layers = %v, want 0.25", a)
	}
	c, err = ParseConfig([]byte("dim: 64\nhidden_dim: 172\nn_layers: 8\nn_heads: 8\nvocab_size: 512\nseq_len: 512\nresidual_scale: 0.5\n"), "m.yaml")
	if err != nil || c.Alpha() != 0.5 {
		t.Errorf("residual_scale 0.5: %v %v", c.Alpha(), err)
	}
}

func TestConfigErrors(t *testing.T) {
	const base = "dim: 64\nhidden_dim: 172\nn_layers: 5\nn_heads: 8\nvocab_size: 512\nseq_len: 512\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", base + "n_kv_head: 4\n", `bad.yaml:7: unknown key "n_kv_head"`},
		{"unknown key early", "dim: 64\nlayers: 2\n", `bad.yaml:2: unknown key "layers"`},
		{"string for int", "dim: sixty\nhidden_dim: 172\n", `bad.yaml:1: dim: "sixty" is not an integer`},
		{"float for int", base + "n_kv_heads: 2.5\n", `bad.yaml:7: n_kv_heads: "2.5" is not an integer`},
		{"bad bool", base + "qk_norm: maybe\n", `bad.yaml:7: qk_norm: "maybe" is not true or false`},
		{"bad float", base + "rope_theta: big\n", `bad.yaml:7: rope_theta: "big" is not a number`},
		{"duplicate key", base + "dim: 32\n", `bad.yaml:7: mapping key "dim" already defined at line 1`},
		{"syntax", "dim: [64\n", `bad.yaml:`},
		{"empty", "", `bad.yaml: empty document`},
		{"not a mapping", "- dim\n", `bad.yaml: line 1: the document must be a mapping`},
		{"two documents", base + "---\ndim: 3\n", `a second YAML document`},
		{"missing", "dim: 64\nn_heads: 8\n", `missing required key(s): hidden_dim, n_layers, vocab_size, seq_len`},
		{"kv not dividing", strings.Replace(base, "n_heads: 8", "n_heads: 12", 1) + "n_kv_heads: 5\n",
			`dim 64 is not divisible by n_heads 12`},
		{"kv not dividing hd", strings.Replace(base, "n_heads: 8", "n_heads: 12", 1) + "n_kv_heads: 5\nhead_dim: 16\n",
			`n_heads 12 is not divisible by n_kv_heads 5`},
		{"kv more than heads", base + "n_kv_heads: 16\n", `n_kv_heads 16 is more than n_heads 8`},
		{"odd head_dim", base + "head_dim: 7\n", `head_dim 7 is odd`},
		{"odd implied head_dim", strings.Replace(base, "dim: 64\n", "dim: 72\n", 1), `head_dim 9 is odd`},
		{"zero dim", strings.Replace(base, "dim: 64\n", "dim: 0\n", 1), `dim is 0; it must be a positive integer`},
		{"negative vocab", strings.Replace(base, "vocab_size: 512", "vocab_size: -3", 1), `vocab_size is -3`},
		{"zero layers", strings.Replace(base, "n_layers: 5", "n_layers: 0", 1), `n_layers is 0`},
		{"zero kv", base + "n_kv_heads: 0\n", `n_kv_heads is 0`},
		{"huge vocab", strings.Replace(base, "vocab_size: 512", "vocab_size: 99999999999", 1), `vocab_size 99999999999 is larger than the supported maximum`},
		{"short seq", strings.Replace(base, "seq_len: 512", "seq_len: 1", 1), `seq_len 1 is too short`},
		{"bad theta", base + "rope_theta: 0\n", `rope_theta 0 must be`},
		{"bad eps", base + "norm_eps: -1e-5\n", `norm_eps -1e-05 must be in (0, 1)`},
		{"bad residual", base + "residual_scale: huge\n", `bad.yaml:7: residual_scale: "huge" is not 1, deepnet or a positive number`},
		{"negative residual", base + "residual_scale: -1\n", `residual_scale: "-1" is not`},
		{"residual list", base + "residual_scale: [1]\n", `bad.yaml:7: residual_scale: want 1, deepnet`},
	} {
		_, err := ParseConfig([]byte(tc.yaml), "bad.yaml")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q\n\twant it to contain %q", tc.name, err, tc.want)
		}
		if strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: error spans lines: %q", tc.name, err)
		}
	}
}

func TestValidateExplicitHeadDim(t *testing.T) {
	// dim != n_heads*head_dim is fine when head_dim is explicit (Qwen3 style).
	c, err := ParseConfig([]byte("dim: 64\nhidden_dim: 96\nn_layers: 1\nn_heads: 4\nhead_dim: 32\nvocab_size: 10\nseq_len: 8\n"), "q.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.QDim() != 128 || c.KVDim() != 128 || c.KVGroup() != 1 {
		t.Errorf("QDim %d KVDim %d group %d", c.QDim(), c.KVDim(), c.KVGroup())
	}
}

func TestLoadConfigNameDefault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mini.yaml")
	if err := os.WriteFile(p, []byte("dim: 32\nhidden_dim: 64\nn_layers: 1\nn_heads: 2\nvocab_size: 9\nseq_len: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil || c.Name != "mini" {
		t.Errorf("name %q, err %v", c.Name, err)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Error("absent file: no error")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("dim: 64\nhidden_dim: 172\nn_layers: 5\nn_heads: 8\nn_kv_heads: 4\nvocab_size: 512\nseq_len: 512\n"))
	f.Add([]byte("dim: 1024\nhidden_dim: 3072\nn_layers: 28\nn_heads: 16\nn_kv_heads: 8\nhead_dim: 128\nvocab_size: 151936\nseq_len: 1024\nrope_theta: 1e6\nqk_norm: true\nresidual_scale: deepnet\n"))
	f.Add([]byte("dim: [1, 2]\nfoo: {a: b}\n---\n"))
	f.Add([]byte("residual_scale: 0.25\ndim: 0x40\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig returned an invalid config: %v", err)
		}
		_ = c.Alpha()
		_ = c.NumParams()
	})
}
