package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/anekit/anekit/pkg/format"
)

// TestValSplitContents checks the ids of both shards of a held-out split,
// document by document, against a split computed here with isVal, for two
// input files (document numbers run on across files) and 1 or 2 workers.
func TestValSplitContents(t *testing.T) {
	dir := t.TempDir()
	text := corpus(t)
	half := bytes.LastIndexByte(text[:len(text)/2], '\n') + 1
	os.WriteFile(filepath.Join(dir, "a.txt"), text[:half], 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), text[half:], 0o644)
	const frac, seed = 0.3, 5
	var wantTrain, wantVal []uint32
	d := int64(0)
	for _, line := range bytes.Split(text, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		doc := []uint32{256}
		for _, c := range line {
			doc = append(doc, uint32(c))
		}
		doc = append(doc, 257)
		if isVal(seed, d, frac) {
			wantVal = append(wantVal, doc...)
		} else {
			wantTrain = append(wantTrain, doc...)
		}
		d++
	}
	for _, j := range []string{"1", "2"} {
		mustRun(t, dir, nil, "--sep", "line", "--bos", "--eos", "--val-fraction", fmt.Sprint(frac), "--seed", fmt.Sprint(seed),
			"-j", j, "-o", "d.bin", "a.txt", "b.txt")
		for _, f := range []struct {
			name string
			want []uint32
		}{{"d.bin", wantTrain}, {"d.val.bin", wantVal}} {
			s, err := format.OpenShard(filepath.Join(dir, f.name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Window(nil, 0, int(s.Len()))
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, f.want) {
				t.Fatalf("-j %s: %s holds %d ids, want %d (or they differ)", j, f.name, len(got), len(f.want))
			}
		}
	}
}
