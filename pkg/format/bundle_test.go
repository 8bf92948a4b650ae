package format_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/model"
)

func bundleConfig() model.Config {
	return model.Config{Name: "t", Dim: 64, HiddenDim: 128, NLayers: 2, NHeads: 2, NKVHeads: 1, HeadDim: 32,
		VocabSize: 300, SeqLen: 64, RopeTheta: 1e4, NormEps: 1e-5, TiedEmbeddings: true, ResidualScale: "1"}
}

func writeTestBundle(t testing.TB, dir string) {
	ks, err := model.BuildKernels(bundleConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBundleDeterministic(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a.aneb"), filepath.Join(t.TempDir(), "b.aneb")
	writeTestBundle(t, a)
	writeTestBundle(t, b)
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) || len(ta) < 5 {
		t.Fatalf("%d files vs %d", len(ta), len(tb))
	}
	for p, d := range ta {
		if !bytes.Equal(d, tb[p]) {
			t.Errorf("%s differs between two writes", p)
		}
	}
	ba, err := format.OpenBundle(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := format.OpenBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if ba.Hash != bb.Hash || len(ba.Programs) != len(ba.Manifest.Kernels) {
		t.Fatalf("hashes %s %s", ba.Hash, bb.Hash)
	}
	if _, _, err := model.OpenBundle(a); err != nil {
		t.Fatal(err)
	}
}

// editManifest rewrites manifest.json through a JSON map.
func editManifest(t *testing.T, dir string, edit func(m map[string]any)) {
	p := filepath.Join(dir, "manifest.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, _ = json.Marshal(m)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func kernel0(m map[string]any) map[string]any { return m["kernels"].([]any)[0].(map[string]any) }

func TestBundleRejects(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.bin")
	cases := []struct {
		name string
		harm func(t *testing.T, dir string)
		want string
	}{
		{"changed kernel", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "kernels", "attn_fwd.mil")
			d, _ := os.ReadFile(p)
			d[len(d)-3] ^= 1
			os.WriteFile(p, d, 0o644)
		}, "kernels/attn_fwd.mil does not match"},
		{"missing blob", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "blobs", "mask.bin")) }, "blobs/mask.bin"},
		{"symlink out", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "blobs", "mask.bin")
			d, _ := os.ReadFile(p)
			os.WriteFile(outside, d, 0o644)
			os.Remove(p)
			if err := os.Symlink(outside, p); err != nil {
				t.Skip(err)
			}
		}, "outside the bundle"},
		{"dotdot path", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { kernel0(m)["mil"] = "kernels/../../x.mil" })
		}, "kernels[0].mil"},
		{"absolute path", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				m["files"].([]any)[0].(map[string]any)["path"] = "/etc/passwd"
			})
		}, "files[0].path"},
		{"input shape", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				in := kernel0(m)["input"].(map[string]any)
				in["shape"] = []any{1, 64, 1, 4096}
			})
		}, "input.shape"},
		{"overlap", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				rs := kernel0(m)["input"].(map[string]any)["regions"].([]any)
				rs[1].(map[string]any)["s0"] = 10
			})
		}, "overlap"},
		{"outside shape", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				rs := kernel0(m)["output"].(map[string]any)["regions"].([]any)
				rs[0].(map[string]any)["c"] = 100000
			})
		}, "leaves the surface"},
		{"unknown field", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["extra"] = 1 })
		}, "unknown field"},
		{"version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["version"] = 2 })
		}, "version"},
		{"undeclared blob", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { kernel0(m)["blobs"] = []any{"blobs/mask.bin"} })
		}, "not one of the kernel's blobs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m.aneb")
			writeTestBundle(t, dir)
			tc.harm(t, dir)
			_, err := format.OpenBundle(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "m.aneb") {
				t.Errorf("error %v does not name the bundle", err)
			}
		})
	}
}

func TestBundleFLOPsChecked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m.aneb")
	writeTestBundle(t, dir)
	editManifest(t, dir, func(m map[string]any) { kernel0(m)["flops"] = 12345 })
	if _, _, err := model.OpenBundle(dir); err == nil || !strings.Contains(err.Error(), "flops") {
		t.Fatalf("error %v, want one about flops", err)
	}
}

func FuzzBundleManifest(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "m.aneb")
	writeTestBundle(f, dir)
	good, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"anekit-bundle","version":1,"model":{},"positions":64,"kernels":[],"files":[]}`))
	f.Add(bytes.Replace(good, []byte(`"kernels/`), []byte(`"../`), 1))
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := format.ParseBundleManifest("manifest.json", data)
		if err != nil {
			return
		}
		// A manifest that parses re-marshals into one that parses.
		files := map[string][]byte{}
		for _, fl := range m.Files {
			files[fl.Path] = nil
		}
		if _, err := format.MarshalBundleManifest(m, files); err != nil && !strings.Contains(err.Error(), "does not validate") {
			t.Fatal(err)
		}
	})
}
