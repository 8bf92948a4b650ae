package main

import (
	"encoding/json"
	"io"
	"os"
	"testing"
)

// run runs ane-bench with args in-process and returns its stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	err = newApp().Run(append([]string{"ane-bench"}, args...))
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), err
}

func TestGemmJSON(t *testing.T) {
	out, err := run(t, "gemm", "--shapes", "8,9,10;3,3,3", "--threads", "1,2", "--reps", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Tool, Command, Kernel, Go string
		Machine                   struct {
			CPU   string
			Cores int
		}
		Results []gemmResult
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if rec.Tool != "ane-bench" || rec.Command != "gemm" || rec.Kernel == "" || rec.Go == "" ||
		rec.Machine.CPU == "" || rec.Machine.Cores < 1 || len(rec.Results) != 4 {
		t.Fatalf("incomplete record: %+v", rec)
	}
	for _, r := range rec.Results {
		if !(r.GFLOPS > 0) || len(r.Reps) != 1 {
			t.Errorf("bad result %+v", r)
		}
	}
}

func TestConvertJSON(t *testing.T) {
	out, err := run(t, "convert", "--n", "1000", "--reps", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Results convertResult }
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Results.N != 1000 || !(rec.Results.EncodeGBps > 0) || !(rec.Results.DecodeGBps > 0) {
		t.Fatalf("bad result %+v", rec.Results)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"gemm", "--shapes", "1,2"},
		{"gemm", "--threads", "0"},
		{"gemm", "--reps", "0"},
		{"gemm", "--bogus"},
		{"convert", "--n", "0"},
		{"nosuch"},
	} {
		if _, err := run(t, args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: got %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
