package cpu

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anekit/anekit/internal/sharedtest"
	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/anekit/anekit/pkg/model"
)

// TestStepProfile prints the time of each step of a kernel, slowest first.
// It runs only when ANEKIT_STEPS names kernels, as model/kernel (model in
// examples/models) or a .mil path, comma-separated:
//
//	ANEKIT_STEPS=tiny/attn_fwd go test ./pkg/anert/cpu -run StepProfile -v
func TestStepProfile(t *testing.T) {
	spec := os.Getenv("ANEKIT_STEPS")
	if spec == "" {
		t.Skip("set ANEKIT_STEPS to profile kernels")
	}
	root := sharedtest.Root(t)
	for _, name := range strings.Split(spec, ",") {
		var p *mil.Program
		var blobs anert.BlobSource
		if strings.HasSuffix(name, ".mil") {
			p = loadProgram(t, name)
			blobs = anert.DirBlobs(filepath.Dir(name))
		} else {
			m, kn, _ := strings.Cut(name, "/")
			c, err := model.LoadConfig(filepath.Join(root, "examples", "models", m+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			ks, err := model.BuildKernels(c)
			if err != nil {
				t.Fatal(err)
			}
			p, blobs = ks.Kernel(kn).Program, ks.BlobSource()
		}
		k, err := New(Options{Strict: os.Getenv("ANEKIT_STRICT") != ""}).Compile(p, blobs)
		if err != nil {
			t.Fatal(err)
		}
		bi, _ := k.NewBinding()
		b := bi.(*binding)
		reps := 21
		all := make([][]time.Duration, len(b.steps))
		b.Eval()
		t0 := time.Now()
		for range reps {
			for i, s := range b.steps {
				st := time.Now()
				s.run()
				all[i] = append(all[i], time.Since(st))
			}
		}
		total := time.Since(t0)
		times := make([]time.Duration, len(b.steps)) // medians
		for i, ts := range all {
			slices.Sort(ts)
			times[i] = ts[len(ts)/2] * time.Duration(reps)
		}
		idx := make([]int, len(times))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, c int) bool { return times[idx[a]] > times[idx[c]] })
		t.Logf("%s: %d steps, %.3f ms/eval (steps: medians)", name, len(b.steps), total.Seconds()*1e3/float64(reps))
		for _, i := range idx {
			t.Logf("  %3d %8.3f ms  %s", i, times[i].Seconds()*1e3/float64(reps), describe(b.k.plan.steps[i]))
		}
		b.Close()
	}
}

func describe(s stepDesc) string {
	switch d := s.(type) {
	case *mmDesc:
		return fmt.Sprintf("matmul %v m%d n%d k%d alpha %g round %v a%v b%v c%v", d.c.shape, d.m, d.n, d.k, d.alpha, d.round, d.a.st, d.b.st, d.c.st)
	case *ewDesc:
		ops := []string{}
		for _, in := range d.code {
			ops = append(ops, fmt.Sprint(in.op))
		}
		return fmt.Sprintf("ew %v leaves %d code %v out st %v", d.shape, len(d.leaves), ops, d.out.st)
	default:
		return fmt.Sprintf("%T %+v", s, s)
	}
}
