package model

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/format"
)

// Tolerances against llama2.c run.c (fp32, gcc -O3), absolute on logits of
// magnitude up to ~16: 1e-4 is about 1e-5 relative, the float32 rounding
// that run.c itself accumulates over 64 positions (measured: ≤ 4.4e-5). The
// reference files print logits with 6 decimals (greedy) or 7 significant
// digits (logits).
const (
	conformanceTol64 = 1e-4 // float64 reference
	conformanceTol32 = 1e-4 // float32 decoder
)

func loadStories260K(t *testing.T) (string, Config, *Weights[float32]) {
	sh := sharedtest.Dir(t)
	m, err := format.ReadLlama2Model(filepath.Join(sh, "data", "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c, w, err := FromLlama2(m, "stories260K")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "stories260K", Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, HeadDim: 8,
		VocabSize: 512, SeqLen: 512, RopeTheta: 1e4, NormEps: 1e-5, TiedEmbeddings: true, ResidualScale: "1"}
	if c != want {
		t.Fatalf("config %+v, want %+v", c, want)
	}
	return filepath.Join(sh, "conformance", "llama2c"), c, w
}

func parseFloats(t *testing.T, s string) []float64 {
	var out []float64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestStories260KLogits(t *testing.T) {
	dir, c, w32 := loadStories260K(t)
	data, err := os.ReadFile(filepath.Join(dir, "stories260K_logits_bos_pos0-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float64
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want = append(want, parseFloats(t, line))
	}
	if len(want) != 4 || len(want[0]) != 512 {
		t.Fatalf("reference has %d rows", len(want))
	}
	tokens := []int{1, 461, 461, 401} // BOS, then the greedy continuation (stories260K_greedy.txt)
	got64 := Forward(c, ConvertWeights[float64](c, w32), tokens)
	got32, err := Forward32(c, w32, tokens)
	if err != nil {
		t.Fatal(err)
	}
	var e64, e32 float64
	for p := range want {
		for v := range want[p] {
			e64 = math.Max(e64, math.Abs(got64[p][v]-want[p][v]))
			e32 = math.Max(e32, math.Abs(float64(got32[p][v])-want[p][v]))
		}
	}
	t.Logf("all 4x512 logits: max |float64 - llama2.c| = %.3g, max |float32 - llama2.c| = %.3g", e64, e32)
	if e64 > conformanceTol64 || e32 > conformanceTol32 {
		t.Errorf("logits differ from llama2.c: float64 by %.3g (tol %g), float32 by %.3g (tol %g)",
			e64, conformanceTol64, e32, conformanceTol32)
	}
}

type greedyRow struct {
	pos, input, argmax, second, next int
	maxLogit, secondLogit            float64
}

type greedyRun struct {
	name   string
	prompt []int
	next   []int
	rows   []greedyRow
}

func parseGreedy(t *testing.T, path string) []greedyRun {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ints := func(s string) []int {
		var out []int
		for _, p := range strings.Split(strings.TrimSpace(s), ",") {
			v, err := strconv.Atoi(p)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, v)
		}
		return out
	}
	var runs []greedyRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "["):
			runs = append(runs, greedyRun{name: line})
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "prompt_ids:"):
			runs[len(runs)-1].prompt = ints(strings.TrimPrefix(line, "prompt_ids:"))
		case strings.HasPrefix(line, "next_ids:"):
			runs[len(runs)-1].next = ints(strings.TrimPrefix(line, "next_ids:"))
		default:
			f := strings.Fields(line)
			if len(f) != 7 {
				t.Fatalf("%s: bad row %q", path, line)
			}
			n := func(i int) int {
				v, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			x := func(i int) float64 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			r := &runs[len(runs)-1]
			r.rows = append(r.rows, greedyRow{n(0), n(1), n(2), n(4), n(6), x(3), x(5)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return runs
}

func top2(l []float32) (int, int) {
	a, b := 0, -1
	for i := 1; i < len(l); i++ {
		if l[i] > l[a] {
			a, b = i, a
		} else if b < 0 || l[i] > l[b] {
			b = i
		}
	}
	return a, b
}

func TestStories260KGreedy(t *testing.T) {
	dir, c, w32 := loadStories260K(t)
	runs := parseGreedy(t, filepath.Join(dir, "stories260K_greedy.txt"))
	if len(runs) != 2 {
		t.Fatalf("%d runs in the reference, want 2", len(runs))
	}
	w64 := ConvertWeights[float64](c, w32)
	for _, run := range runs {
		// Run the sampler loop as run.c does: forced prompt, then greedy,
		// stopping after a BOS.
		d, err := NewDecoder32(c, w32)
		if err != nil {
			t.Fatal(err)
		}
		var next, inputs []int
		var e32 float64
		tok := run.prompt[0]
		for pos := 0; pos < len(run.rows); pos++ {
			inputs = append(inputs, tok)
			l, err := d.Step(tok, pos)
			if err != nil {
				t.Fatal(err)
			}
			a, b := top2(l)
			r := run.rows[pos]
			if a != r.argmax || r.input != tok {
				t.Errorf("%s pos %d: input %d argmax %d, llama2.c input %d argmax %d", run.name, pos, tok, a, r.input, r.argmax)
			}
			if b == r.second {
				e32 = math.Max(e32, math.Abs(float64(l[b])-r.secondLogit))
			}
			e32 = math.Max(e32, math.Abs(float64(l[a])-r.maxLogit))
			if pos+1 < len(run.prompt) {
				tok = run.prompt[pos+1]
			} else {
				tok = a
			}
			next = append(next, tok)
			if tok == 1 {
				break
			}
		}
		if len(next) != len(run.next) {
			t.Errorf("%s: %d steps, llama2.c %d", run.name, len(next), len(run.next))
		}
		matched := 0
		for i := range next {
			if i < len(run.next) && next[i] == run.next[i] {
				matched++
			}
		}
		if matched != len(run.next) {
			t.Errorf("%s: %d of %d next ids match", run.name, matched, len(run.next))
		}

		// The float64 reference over the whole input sequence at once.
		logits := Forward(c, w64, inputs)
		var e64 float64
		for pos, r := range run.rows[:len(inputs)] {
			e64 = math.Max(e64, math.Abs(logits[pos][r.argmax]-r.maxLogit))
			e64 = math.Max(e64, math.Abs(logits[pos][r.second]-r.secondLogit))
			for v, x := range logits[pos] {
				if x > logits[pos][r.argmax] {
					t.Errorf("%s pos %d: float64 argmax %d, llama2.c %d", run.name, pos, v, r.argmax)
					break
				}
			}
		}
		t.Logf("%s: %d/%d ids match; max logit error float32 %.3g, float64 %.3g", run.name, matched, len(run.next), e32, e64)
		if e32 > conformanceTol32 || e64 > conformanceTol64 {
			t.Errorf("%s: logits differ from llama2.c: float32 %.3g (tol %g), float64 %.3g (tol %g)",
				run.name, e32, conformanceTol32, e64, conformanceTol64)
		}
	}
}
