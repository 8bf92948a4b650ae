// Package model is the Llama family of language models as anekit trains and
// runs them: token embedding, N × [RMSNorm → Q,K,V → RoPE → causal attention
// (multi-head or grouped-query) → Wo → residual, RMSNorm → SwiGLU → residual],
// final RMSNorm and a classifier that is either tied to the embedding or its
// own matrix.
//
// The package holds the model's configuration (the model.yaml schema, see
// docs/formats/model-yaml.md), its weights under llama-style names, the
// float64 reference math (forward, cross-entropy loss and the full backward,
// written to be read top to bottom like llama2.c's run.c), a float32 decoder
// for sampling, and the float32 CPU-side operations (cpuops.go) that the
// trainer and sampler run between accelerator kernels.
package model

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is the shape of one model. The zero value is not valid; build one
// with ParseConfig or LoadConfig (which apply the defaults) or fill every
// field and call Validate.
type Config struct {
	Name      string `yaml:"name" json:"name"`
	Dim       int    `yaml:"dim" json:"dim"`               // model width D
	HiddenDim int    `yaml:"hidden_dim" json:"hidden_dim"` // SwiGLU width H
	NLayers   int    `yaml:"n_layers" json:"n_layers"`
	NHeads    int    `yaml:"n_heads" json:"n_heads"`
	NKVHeads  int    `yaml:"n_kv_heads" json:"n_kv_heads"` // divides NHeads; NHeads for MHA
	HeadDim   int    `yaml:"head_dim" json:"head_dim"`     // even; Dim/NHeads unless given
	VocabSize int    `yaml:"vocab_size" json:"vocab_size"`
	SeqLen    int    `yaml:"seq_len" json:"seq_len"` // longest context (training window)

	RopeTheta      float64       `yaml:"rope_theta" json:"rope_theta"`
	NormEps        float64       `yaml:"norm_eps" json:"norm_eps"`
	TiedEmbeddings bool          `yaml:"tied_embeddings" json:"tied_embeddings"`
	ResidualScale  ResidualScale `yaml:"residual_scale" json:"residual_scale"`
	QKNorm         bool          `yaml:"qk_norm" json:"qk_norm"`
}

// Defaults of the optional keys.
const (
	DefaultRopeTheta = 10000.0
	DefaultNormEps   = 1e-5
)

// Limits Validate enforces so that every size and product of sizes fits an
// int on every platform and a mistyped number fails early.
const (
	MaxDim      = 1 << 16 // dim, hidden_dim, n_heads*head_dim
	MaxLayers   = 1024
	MaxVocab    = 1 << 24
	MaxSeqLen   = 1 << 20
	MaxHeadDim  = 1 << 12
	MaxNumHeads = 1 << 12
)

// ResidualScale says how each residual branch is scaled before it is added
// back (x = x + α·branch): "1" (llama2.c, α = 1), "deepnet"
// (α = 1/√(2·n_layers), as the public ANE research trainer does) or a
// positive number written in decimal.
type ResidualScale string

// UnmarshalYAML accepts a scalar "deepnet" or a positive number.
func (r *ResidualScale) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: residual_scale: want 1, deepnet or a positive number", n.Line)}}
	}
	v := ResidualScale(strings.TrimSpace(n.Value))
	if err := v.check(); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: residual_scale: %v", n.Line, err)}}
	}
	*r = v
	return nil
}

func (r ResidualScale) check() error {
	if r == "" || r == "deepnet" {
		return nil
	}
	f, err := strconv.ParseFloat(string(r), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return fmt.Errorf("%q is not 1, deepnet or a positive number", string(r))
	}
	return nil
}

// Alpha returns the residual multiplier α of a model with nLayers layers.
// It panics on a value Validate rejects.
func (r ResidualScale) Alpha(nLayers int) float64 {
	switch r {
	case "", "1":
		return 1
	case "deepnet":
		return 1 / math.Sqrt(2*float64(nLayers))
	}
	f, err := strconv.ParseFloat(string(r), 64)
	if err != nil {
		panic("model: invalid residual scale " + strconv.Quote(string(r)))
	}
	return f
}

// Alpha is the residual multiplier of c.
func (c Config) Alpha() float64 { return c.ResidualScale.Alpha(c.NLayers) }

// QDim is the width of the query projection, NHeads·HeadDim.
func (c Config) QDim() int { return c.NHeads * c.HeadDim }

// KVDim is the width of the key and value projections, NKVHeads·HeadDim.
func (c Config) KVDim() int { return c.NKVHeads * c.HeadDim }

// KVGroup is the number of query heads sharing one key/value head; query
// head h reads key/value head h / KVGroup() (as llama2.c and Hugging Face's
// repeat_interleave do).
func (c Config) KVGroup() int { return c.NHeads / c.NKVHeads }

// NumParams is the number of trainable parameters (the embedding counted
// once when tied).
func (c Config) NumParams() int64 {
	d, h := int64(c.Dim), int64(c.HiddenDim)
	qd, kvd := int64(c.QDim()), int64(c.KVDim())
	layer := 2*d + qd*d + 2*kvd*d + d*qd + 3*h*d
	if c.QKNorm {
		layer += 2 * int64(c.HeadDim)
	}
	n := int64(c.NLayers)*layer + d + int64(c.VocabSize)*d
	if !c.TiedEmbeddings {
		n += int64(c.VocabSize) * d
	}
	return n
}

// Validate reports the first thing that makes c impossible to build, in a
// sentence that says what to change.
func (c Config) Validate() error {
	type sz struct {
		key string
		v   int
		max int
	}
	for _, f := range []sz{
		{"dim", c.Dim, MaxDim},
		{"hidden_dim", c.HiddenDim, MaxDim},
		{"n_layers", c.NLayers, MaxLayers},
		{"n_heads", c.NHeads, MaxNumHeads},
		{"n_kv_heads", c.NKVHeads, MaxNumHeads},
		{"head_dim", c.HeadDim, MaxHeadDim},
		{"vocab_size", c.VocabSize, MaxVocab},
		{"seq_len", c.SeqLen, MaxSeqLen},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s is %d; it must be a positive integer", f.key, f.v)
		}
		if f.v > f.max {
			return fmt.Errorf("%s %d is larger than the supported maximum %d", f.key, f.v, f.max)
		}
	}
	if c.NKVHeads > c.NHeads {
		return fmt.Errorf("n_kv_heads %d is more than n_heads %d; it must divide n_heads", c.NKVHeads, c.NHeads)
	}
	if c.NHeads%c.NKVHeads != 0 {
		return fmt.Errorf("n_heads %d is not divisible by n_kv_heads %d", c.NHeads, c.NKVHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim %d is odd; RoPE rotates features in pairs, so it must be even", c.HeadDim)
	}
	if c.QDim() > MaxDim {
		return fmt.Errorf("n_heads*head_dim = %d*%d = %d is larger than the supported maximum %d",
			c.NHeads, c.HeadDim, c.QDim(), MaxDim)
	}
	if c.SeqLen < 2 {
		return fmt.Errorf("seq_len %d is too short; a training window needs at least 2 tokens", c.SeqLen)
	}
	if !(c.RopeTheta > 1) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("rope_theta %g must be a finite number greater than 1", c.RopeTheta)
	}
	if !(c.NormEps > 0 && c.NormEps < 1) {
		return fmt.Errorf("norm_eps %g must be in (0, 1)", c.NormEps)
	}
	if err := c.ResidualScale.check(); err != nil {
		return fmt.Errorf("residual_scale: %v", err)
	}
	return nil
}

// rawConfig mirrors Config with pointers so that an absent key can be told
// from a zero.
type rawConfig struct {
	Name           *string        `yaml:"name"`
	Dim            *int           `yaml:"dim"`
	HiddenDim      *int           `yaml:"hidden_dim"`
	NLayers        *int           `yaml:"n_layers"`
	NHeads         *int           `yaml:"n_heads"`
	NKVHeads       *int           `yaml:"n_kv_heads"`
	HeadDim        *int           `yaml:"head_dim"`
	VocabSize      *int           `yaml:"vocab_size"`
	SeqLen         *int           `yaml:"seq_len"`
	RopeTheta      *float64       `yaml:"rope_theta"`
	NormEps        *float64       `yaml:"norm_eps"`
	TiedEmbeddings *bool          `yaml:"tied_embeddings"`
	ResidualScale  *ResidualScale `yaml:"residual_scale"`
	QKNorm         *bool          `yaml:"qk_norm"`
}

var intKeys = map[string]bool{"dim": true, "hidden_dim": true, "n_layers": true, "n_heads": true,
	"n_kv_heads": true, "head_dim": true, "vocab_size": true, "seq_len": true}

var knownKeys = []string{"name", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
	"head_dim", "vocab_size", "seq_len", "rope_theta", "norm_eps", "tied_embeddings",
	"residual_scale", "qk_norm"}

// LoadConfig reads and validates the model.yaml file at path. A missing name
// defaults to the file's base name without extension.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data, path)
	if err != nil {
		return Config{}, err
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return c, nil
}

// ParseConfig decodes a model.yaml document strictly (an unknown or
// repeated key is an error with its line), applies the defaults and
// validates the result. name is the file name used in error messages.
func ParseConfig(data []byte, name string) (Config, error) {
	fail := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...))
	}
	// First pass: the node tree, for syntax errors and for the key on each line.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s:%s", name, explainYAML(err, nil))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return fail("empty document; want a mapping of keys such as dim, n_layers, n_heads")
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fail("line %d: the document must be a mapping of keys (dim: 64, ...)", top.Line)
	}
	keyAt := map[int]string{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		keyAt[v.Line] = k.Value
		keyAt[k.Line] = k.Value
		// The decoder would truncate 2.5 into an int; sizes must be written as integers.
		if intKeys[k.Value] && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!int" {
			return Config{}, fmt.Errorf("%s:%d: %s: %q is not an integer", name, v.Line, k.Value, v.Value)
		}
	}

	var raw rawConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("%s:%s", name, explainYAML(err, keyAt))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail("line %d: a second YAML document; a model.yaml holds exactly one", extra.Line)
	}

	var c Config
	missing := []string{}
	reqInt := func(key string, p *int, dst *int) {
		if p == nil {
			missing = append(missing, key)
			return
		}
		*dst = *p
	}
	reqInt("dim", raw.Dim, &c.Dim)
	reqInt("hidden_dim", raw.HiddenDim, &c.HiddenDim)
	reqInt("n_layers", raw.NLayers, &c.NLayers)
	reqInt("n_heads", raw.NHeads, &c.NHeads)
	reqInt("vocab_size", raw.VocabSize, &c.VocabSize)
	reqInt("seq_len", raw.SeqLen, &c.SeqLen)
	if len(missing) > 0 {
		return fail("missing required key(s): %s", strings.Join(missing, ", "))
	}
	if raw.Name != nil {
		c.Name = *raw.Name
	}
	c.NKVHeads = c.NHeads
	if raw.NKVHeads != nil {
		c.NKVHeads = *raw.NKVHeads
	}
	if raw.HeadDim != nil {
		c.HeadDim = *raw.HeadDim
	} else {
		if c.NHeads <= 0 {
			return fail("n_heads is %d; it must be a positive integer", c.NHeads)
		}
		if c.Dim%c.NHeads != 0 {
			return fail("dim %d is not divisible by n_heads %d (or give head_dim explicitly, as Qwen3 does)",
				c.Dim, c.NHeads)
		}
		c.HeadDim = c.Dim / c.NHeads
	}
	c.RopeTheta = DefaultRopeTheta
	if raw.RopeTheta != nil {
		c.RopeTheta = *raw.RopeTheta
	}
	c.NormEps = DefaultNormEps
	if raw.NormEps != nil {
		c.NormEps = *raw.NormEps
	}
	if raw.TiedEmbeddings != nil {
		c.TiedEmbeddings = *raw.TiedEmbeddings
	}
	c.ResidualScale = "1"
	if raw.ResidualScale != nil {
		c.ResidualScale = *raw.ResidualScale
	}
	if raw.QKNorm != nil {
		c.QKNorm = *raw.QKNorm
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

var (
	reLine    = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown = regexp.MustCompile(`^field (\S+) not found in type`)
	reType    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// explainYAML turns the decoder's messages into "LINE: what is wrong" lines.
func explainYAML(err error, keyAt map[int]string) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := reLine.FindStringSubmatch(msg); m != nil {
			return m[1] + ": " + m[2]
		}
		return " " + msg
	}
	var out []string
	for _, e := range te.Errors {
		m := reLine.FindStringSubmatch(e)
		if m == nil {
			out = append(out, " "+e)
			continue
		}
		line, msg := m[1], m[2]
		n, _ := strconv.Atoi(line)
		if u := reUnknown.FindStringSubmatch(msg); u != nil {
			known := append([]string(nil), knownKeys...)
			sort.Strings(known)
			msg = fmt.Sprintf("unknown key %q (known keys: %s)", u[1], strings.Join(known, ", "))
		} else if t := reType.FindStringSubmatch(msg); t != nil {
			want := map[string]string{"int": "an integer", "float64": "a number", "bool": "true or false",
				"string": "a string"}[strings.TrimPrefix(t[3], "*")]
			if want == "" {
				want = t[3]
			}
			msg = fmt.Sprintf("%s: %q is not %s", keyAt[n], t[2], want)
		}
		out = append(out, line+": "+msg)
	}
	return strings.Join(out, "; ")
}
