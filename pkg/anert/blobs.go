package anert

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModelPath is the prefix of BLOBFILE paths in the programs anekit writes
// and reads: "@model_path/weights/mask.bin".
const ModelPath = "@model_path/"

// DirBlobs resolves "@model_path/REST" to the file dir/REST. Paths without
// the prefix, absolute paths and paths that climb out of dir are errors.
func DirBlobs(dir string) BlobSource {
	return func(path string) ([]byte, error) {
		rest, ok := strings.CutPrefix(path, ModelPath)
		if !ok || !filepath.IsLocal(filepath.FromSlash(rest)) {
			return nil, fmt.Errorf("anert: blob path %q: want %q followed by a relative path", path, ModelPath)
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(rest)))
	}
}

// MapBlobs resolves paths from a map of path to file bytes.
func MapBlobs(m map[string][]byte) BlobSource {
	return func(path string) ([]byte, error) {
		b, ok := m[path]
		if !ok {
			return nil, fmt.Errorf("anert: no blob %q", path)
		}
		return b, nil
	}
}
