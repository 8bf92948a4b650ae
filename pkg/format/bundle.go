package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/anekit/anekit/pkg/mil"
)

// A kernel bundle (model.aneb/) is a directory that a person can read with
// cat: manifest.json, the kernels' MIL text under kernels/ and their
// constant weight blobs under blobs/. docs/formats/bundle.md specifies it.
//
// The manifest names every other file with its size and SHA-256, so the
// manifest's own SHA-256 (Bundle.Hash) identifies the whole bundle.
// WriteBundle is deterministic: the same manifest and files give the same
// bytes. OpenBundle validates everything before anything runs.

// Bundle format identity.
const (
	BundleFormat       = "anekit-bundle"
	BundleVersion      = 1
	BundleManifestName = "manifest.json"
	// MaxManifestSize bounds manifest.json; MaxBundleFile any other file.
	MaxManifestSize = 64 << 20
	MaxBundleFile   = 1 << 31
)

// BundleManifest is manifest.json.
type BundleManifest struct {
	Format    string          `json:"format"`    // BundleFormat
	Version   int             `json:"version"`   // BundleVersion
	Model     json.RawMessage `json:"model"`     // the model config (package model's Config as JSON)
	Positions int             `json:"positions"` // S: positions per evaluation (seq_len rounded up to 64)
	Kernels   []BundleKernel  `json:"kernels"`
	Files     []BundleFile    `json:"files"` // every file but the manifest, sorted by path
}

// BundleKernel is one kernel of a bundle.
type BundleKernel struct {
	Name         string   `json:"name"`           // [a-z0-9_]+, unique
	Phase        string   `json:"phase"`          // "forward" or "backward"
	EvalsPerStep int      `json:"evals_per_step"` // evaluations per training step (one per layer)
	MIL          string   `json:"mil"`            // "kernels/NAME.mil"
	Blobs        []string `json:"blobs"`          // "blobs/FILE.bin" the program reads as @model_path/weights/FILE.bin
	FLOPs        int64    `json:"flops"`          // per evaluation, counted from the program's ops
	Input        Layout   `json:"input"`
	Output       Layout   `json:"output"`
}

// BundleFile is the size and SHA-256 (lower-case hex) of one file.
type BundleFile struct {
	Path   string `json:"path"` // slash-separated, relative to the bundle
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

var (
	reKernelName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	reSHA256     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// checkBundlePath accepts a clean, relative, slash-separated path under
// kernels/ or blobs/ with no "..", backslash or empty element.
func checkBundlePath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.ContainsAny(p, "\\\x00:"):
		return fmt.Errorf("path %q: backslash, colon or NUL", p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("path %q is absolute", p)
	case path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("path %q is not a clean path inside the bundle", p)
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." || e == "." || e == "" {
			return fmt.Errorf("path %q has a %q element", p, e)
		}
	}
	dir, name, _ := strings.Cut(p, "/")
	if (dir != "kernels" && dir != "blobs") || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("path %q: want kernels/NAME or blobs/NAME", p)
	}
	return nil
}

// ParseBundleManifest decodes and checks manifest.json (name is used in
// errors): strict JSON (unknown fields are errors), the format and version,
// paths, hashes, kernel names and layouts. It does not touch other files.
func ParseBundleManifest(name string, data []byte) (*BundleManifest, error) {
	bad := func(field, format string, a ...any) (*BundleManifest, error) {
		return nil, fmt.Errorf("%s: %s: %s", name, field, fmt.Sprintf(format, a...))
	}
	if len(data) > MaxManifestSize {
		return bad("size", "%d bytes, more than %d", len(data), MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m BundleManifest
	if err := dec.Decode(&m); err != nil {
		return bad("json", "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("json", "data after the manifest object")
	}
	if m.Format != BundleFormat {
		return bad("format", "%q, want %q", m.Format, BundleFormat)
	}
	if m.Version != BundleVersion {
		return bad("version", "%d, this reader knows %d", m.Version, BundleVersion)
	}
	if t := bytes.TrimSpace(m.Model); len(t) == 0 || t[0] != '{' {
		return bad("model", "want the model config as a JSON object")
	}
	if m.Positions <= 0 || m.Positions > MaxBundleDim {
		return bad("positions", "%d, want 1..%d", m.Positions, MaxBundleDim)
	}
	files := map[string]bool{}
	for i, f := range m.Files {
		field := fmt.Sprintf("files[%d]", i)
		if err := checkBundlePath(f.Path); err != nil {
			return bad(field+".path", "%v", err)
		}
		if files[f.Path] {
			return bad(field+".path", "%q is listed twice", f.Path)
		}
		if i > 0 && m.Files[i-1].Path > f.Path {
			return bad(field+".path", "%q is out of order (files are sorted by path)", f.Path)
		}
		files[f.Path] = true
		if f.Size < 0 || f.Size > MaxBundleFile {
			return bad(field+".size", "%d, want 0..%d", f.Size, int64(MaxBundleFile))
		}
		if !reSHA256.MatchString(f.SHA256) {
			return bad(field+".sha256", "%q is not 64 lower-case hex digits", f.SHA256)
		}
	}
	if len(m.Kernels) == 0 {
		return bad("kernels", "empty")
	}
	names := map[string]bool{}
	for i, k := range m.Kernels {
		field := fmt.Sprintf("kernels[%d]", i)
		switch {
		case !reKernelName.MatchString(k.Name):
			return bad(field+".name", "%q: want 1-64 of a-z, 0-9, _", k.Name)
		case names[k.Name]:
			return bad(field+".name", "%q is repeated", k.Name)
		case k.Phase != "forward" && k.Phase != "backward":
			return bad(field+".phase", "%q: want forward or backward", k.Phase)
		case k.EvalsPerStep < 0 || k.EvalsPerStep > 1<<20:
			return bad(field+".evals_per_step", "%d out of range", k.EvalsPerStep)
		case k.FLOPs < 0:
			return bad(field+".flops", "%d is negative", k.FLOPs)
		case !strings.HasPrefix(k.MIL, "kernels/") || !files[k.MIL]:
			return bad(field+".mil", "%q: want a file under kernels/ listed in files", k.MIL)
		}
		names[k.Name] = true
		for j, b := range k.Blobs {
			if !strings.HasPrefix(b, "blobs/") || !files[b] {
				return bad(fmt.Sprintf("%s.blobs[%d]", field, j), "%q: want a file under blobs/ listed in files", b)
			}
		}
		if err := k.Input.Check(field + ".input"); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := k.Output.Check(field + ".output"); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &m, nil
}

// MarshalBundleManifest returns the manifest's JSON (indented, with a
// final newline), after filling m.Files from files (path -> contents).
func MarshalBundleManifest(m *BundleManifest, files map[string][]byte) ([]byte, error) {
	m.Files = m.Files[:0]
	for p, data := range files {
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, BundleFile{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if _, err := ParseBundleManifest(BundleManifestName, data); err != nil {
		return nil, fmt.Errorf("bundle manifest does not validate: %w", err)
	}
	return data, nil
}

// WriteBundle writes a bundle into dir, which must not exist yet or be
// empty: the files (path -> contents, paths as in the manifest) and
// manifest.json, which it fills in (m.Files). The same m and files always
// give the same bytes. Writers that replace a bundle should write to a
// temporary directory beside it and rename it on success.
func WriteBundle(dir string, m *BundleManifest, files map[string][]byte) error {
	data, err := MarshalBundleManifest(m, files)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return err
	} else if len(ents) > 0 {
		return fmt.Errorf("bundle directory %s is not empty", dir)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, BundleManifestName), data, 0o644)
}

// Bundle is an opened, fully validated bundle.
type Bundle struct {
	Dir      string
	Manifest *BundleManifest
	Hash     string                  // SHA-256 of manifest.json (hex): names the bundle
	Programs map[string]*mil.Program // by kernel name
	files    map[string][]byte       // verified contents by path
}

// Kernel returns the manifest entry of the kernel called name.
func (b *Bundle) Kernel(name string) (*BundleKernel, bool) {
	for i := range b.Manifest.Kernels {
		if b.Manifest.Kernels[i].Name == name {
			return &b.Manifest.Kernels[i], true
		}
	}
	return nil, false
}

// File returns the verified contents of the bundle file at path.
func (b *Bundle) File(path string) ([]byte, bool) {
	d, ok := b.files[path]
	return d, ok
}

// BlobModelPath is the prefix under which programs name bundle blobs:
// "@model_path/weights/rope.bin" is the bundle file "blobs/rope.bin".
const BlobModelPath = "@model_path/weights/"

// Blobs resolves a program's BLOBFILE path to the verified bytes of the
// bundle's blob file (an anert.BlobSource).
func (b *Bundle) Blobs(p string) ([]byte, error) {
	rest, ok := strings.CutPrefix(p, BlobModelPath)
	if !ok {
		return nil, fmt.Errorf("%s: blob path %q: want %s...", b.Dir, p, BlobModelPath)
	}
	d, ok := b.files["blobs/"+rest]
	if !ok {
		return nil, fmt.Errorf("%s: blob path %q: no file blobs/%s in the bundle", b.Dir, p, rest)
	}
	return d, nil
}

// OpenBundle reads and validates the bundle in dir: the manifest
// (ParseBundleManifest); every listed file stays inside the bundle (no
// symlink leads out), is a regular file and has the listed size and
// SHA-256; every kernel's MIL parses and checks, has one fp16 input and one
// output of exactly the manifest's shapes, and names only blobs the kernel
// lists, at offsets holding fp16 data of the declared size.
func OpenBundle(dir string) (*Bundle, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	read := func(rel string, limit int64) ([]byte, error) {
		full := filepath.Join(root, filepath.FromSlash(rel))
		real, err := filepath.EvalSymlinks(full)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel), err)
		}
		if r, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(r) {
			return nil, fmt.Errorf("%s: leads outside the bundle (to %s)", filepath.Join(dir, rel), real)
		}
		st, err := os.Stat(real)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", filepath.Join(dir, rel))
		}
		if st.Size() > limit {
			return nil, fmt.Errorf("%s: %d bytes, more than %d", filepath.Join(dir, rel), st.Size(), limit)
		}
		return os.ReadFile(real)
	}
	mdata, err := read(BundleManifestName, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	mname := filepath.Join(dir, BundleManifestName)
	m, err := ParseBundleManifest(mname, mdata)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(mdata)
	b := &Bundle{Dir: dir, Manifest: m, Hash: hex.EncodeToString(sum[:]), Programs: map[string]*mil.Program{}, files: map[string][]byte{}}
	for i, f := range m.Files {
		data, err := read(f.Path, f.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: files[%d]: %w", mname, i, err)
		}
		if int64(len(data)) != f.Size {
			return nil, fmt.Errorf("%s: files[%d].size: %s has %d bytes, manifest says %d", mname, i, f.Path, len(data), f.Size)
		}
		if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != f.SHA256 {
			return nil, fmt.Errorf("%s: files[%d].sha256: %s does not match (the file changed after the bundle was written)", mname, i, f.Path)
		}
		b.files[f.Path] = data
	}
	for i, k := range m.Kernels {
		field := fmt.Sprintf("%s: kernels[%d] (%s)", mname, i, k.Name)
		p, err := mil.Parse(b.files[k.MIL])
		if err != nil {
			return nil, fmt.Errorf("%s.mil: %s: %w", field, k.MIL, err)
		}
		if err := checkBundleProgram(b, &k, p); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", field, k.MIL, err)
		}
		b.Programs[k.Name] = p
	}
	return b, nil
}

func checkBundleProgram(b *Bundle, k *BundleKernel, p *mil.Program) error {
	if err := mil.Check(p); err != nil {
		return err
	}
	f := p.Main()
	if f == nil {
		return errors.New("no function main")
	}
	if len(f.Inputs) != 1 || len(f.Outputs) != 1 {
		return fmt.Errorf("main has %d inputs and %d outputs, want 1 and 1", len(f.Inputs), len(f.Outputs))
	}
	sc, err := mil.NewScope(f)
	if err != nil {
		return err
	}
	out, _ := sc.Type(f.Outputs[0])
	for _, io := range []struct {
		field string
		t     mil.Type
		want  [4]int
	}{{"input.shape", f.Inputs[0].Type, k.Input.Shape}, {"output.shape", out, k.Output.Shape}} {
		if !io.t.Equal(mil.Tensor(mil.FP16, io.want[:]...)) {
			return fmt.Errorf("%s: manifest says %v, the program declares %s", io.field, io.want, io.t)
		}
	}
	blobs := map[string]*BlobFile{}
	for _, op := range f.Ops {
		if op.Val == nil || op.Val.Blob == nil {
			continue
		}
		ref := op.Val.Blob
		rest, ok := strings.CutPrefix(ref.Path, BlobModelPath)
		file := "blobs/" + rest
		if !ok || !contains(k.Blobs, file) {
			return fmt.Errorf("line %d: const %q reads %q, which is not one of the kernel's blobs %v", op.Line, op.Result, ref.Path, k.Blobs)
		}
		bf := blobs[file]
		if bf == nil {
			if bf, err = ParseBlobFile(file, b.files[file]); err != nil {
				return err
			}
			blobs[file] = bf
		}
		if op.Type.DType != mil.FP16 {
			return fmt.Errorf("line %d: const %q: blob constants must be fp16, have %s", op.Line, op.Result, op.Type.DType)
		}
		if _, err := bf.Read(ref.Offset, BlobFP16, op.Type.Elems()); err != nil {
			return fmt.Errorf("line %d: const %q: %w", op.Line, op.Result, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
