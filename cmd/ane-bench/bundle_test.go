package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/anekit/anekit/pkg/model"
)

// runApp runs ane-bench with args and returns what it wrote on stdout.
func runApp(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = f
	app := &cli.App{Name: "ane-bench", ExitErrHandler: func(*cli.Context, error) {}}
	for _, c := range commands {
		app.Commands = append(app.Commands, c())
	}
	err = app.Run(append([]string{"ane-bench"}, args...))
	os.Stdout = old
	f.Close()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

func TestBundleBench(t *testing.T) {
	c := model.Config{Name: "bench", Dim: 64, HiddenDim: 128, NLayers: 2, NHeads: 2, NKVHeads: 1, HeadDim: 32,
		VocabSize: 100, SeqLen: 64, RopeTheta: 1e4, NormEps: 1e-5, TiedEmbeddings: true, ResidualScale: "1"}
	ks, err := model.BuildKernels(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bench.aneb")
	if err := ks.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	out, err := runApp(t, "bundle", dir, "--reps", "1", "--min", "1ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Results bundleResult `json:"results"`
	}
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := rec.Results
	if len(r.Kernels) != 4 || r.ForwardMS <= 0 || r.SyncMS <= 0 || r.SyncBytes <= 0 || r.Positions != 64 {
		t.Fatalf("results %+v", r)
	}
	var flops int64
	for _, k := range r.Kernels {
		want := ks.Kernel(k.Name).FLOPs
		if k.FLOPs != want || k.LatencyMS <= 0 || k.GFLOPS <= 0 {
			t.Errorf("%s: flops %d (kernel %d), latency %g", k.Name, k.FLOPs, want, k.LatencyMS)
		}
		flops += k.FLOPs
	}
	// Weight bytes: every weight matrix once per kernel that holds it, per layer, in fp16.
	d, h, q, kv := int64(c.Dim), int64(c.HiddenDim), int64(c.QDim()), int64(c.KVDim())
	perLayer := (q*d + 2*kv*d + d*q) + 3*h*d + 3*h*d + (d*q + q*d + 2*kv*d)
	if r.SyncBytes != 2*perLayer*int64(c.NLayers) {
		t.Errorf("sync bytes %d, want %d", r.SyncBytes, 2*perLayer*int64(c.NLayers))
	}
	if _, err := runApp(t, "bundle", filepath.Join(dir, "nope")); err == nil {
		t.Error("a missing bundle is not an error")
	}
}
