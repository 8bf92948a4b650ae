package ane

import (
	"fmt"
	"os"
	"path/filepath"
)

// DumpFailure writes what a failed compile was given — model.mil and every
// weight file under its relative path — to a new directory under dir (the
// system temporary directory when dir is empty) and returns that
// directory's path, for the error message and a bug report.
func DumpFailure(dir string, pl *Plan) (string, error) {
	out, err := os.MkdirTemp(dir, "anekit-ane-failed-*")
	if err != nil {
		return "", err
	}
	if err := writeModelDir(out, pl); err != nil {
		return out, err
	}
	return out, nil
}

// writeModelDir writes model.mil and the weight files of pl into dir, the
// layout the framework expects in a model's temporary directory.
func writeModelDir(dir string, pl *Plan) error {
	if err := os.MkdirAll(filepath.Join(dir, "weights"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.mil"), pl.MIL, 0o644); err != nil {
		return err
	}
	for _, w := range pl.Weights {
		p := filepath.Join(dir, filepath.FromSlash(w.Rel))
		if !filepath.IsLocal(filepath.FromSlash(w.Rel)) {
			return fmt.Errorf("ane: weight path %q leaves the model directory", w.Key)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, w.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
