package model

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

// BundleFiles returns the manifest (without its file list, which
// format.WriteBundle fills in) and the files of ks's bundle:
// kernels/NAME.mil and blobs/FILE. Every kernel is evaluated once per
// layer per training step.
func (ks *KernelSet) BundleFiles() (*format.BundleManifest, map[string][]byte, error) {
	cfg, err := json.Marshal(ks.Config)
	if err != nil {
		return nil, nil, err
	}
	m := &format.BundleManifest{Format: format.BundleFormat, Version: format.BundleVersion, Model: cfg, Positions: ks.S}
	files := map[string][]byte{}
	for name, data := range ks.Files {
		files["blobs/"+name] = data
	}
	for _, k := range ks.Kernels {
		milPath := "kernels/" + k.Name + ".mil"
		files[milPath] = mil.Print(k.Program)
		var blobs []string
		for _, b := range k.Blobs {
			blobs = append(blobs, "blobs/"+b)
		}
		m.Kernels = append(m.Kernels, format.BundleKernel{
			Name: k.Name, Phase: k.Phase, EvalsPerStep: ks.Config.NLayers, MIL: milPath, Blobs: blobs,
			FLOPs: k.FLOPs, Input: k.In, Output: k.Out,
		})
	}
	return m, files, nil
}

// WriteBundle writes ks as a bundle into dir (which must not exist or be
// empty). The same configuration always gives the same bytes.
func (ks *KernelSet) WriteBundle(dir string) error {
	m, files, err := ks.BundleFiles()
	if err != nil {
		return err
	}
	return format.WriteBundle(dir, m, files)
}

// OpenBundle opens and validates the bundle in dir (format.OpenBundle),
// then decodes and validates its model config and recounts every
// kernel's FLOPs from its program.
func OpenBundle(dir string) (*format.Bundle, Config, error) {
	b, err := format.OpenBundle(dir)
	if err != nil {
		return nil, Config{}, err
	}
	mname := b.Dir + "/" + format.BundleManifestName
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b.Manifest.Model))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Config{}, fmt.Errorf("%s: model: %v", mname, err)
	}
	if err := c.Validate(); err != nil {
		return nil, Config{}, fmt.Errorf("%s: model: %v", mname, err)
	}
	if want := roundUp(c.SeqLen, 64); b.Manifest.Positions != want {
		return nil, Config{}, fmt.Errorf("%s: positions: %d, want %d for seq_len %d", mname, b.Manifest.Positions, want, c.SeqLen)
	}
	for i, k := range b.Manifest.Kernels {
		n, err := anert.FLOPs(b.Programs[k.Name])
		if err != nil {
			return nil, Config{}, fmt.Errorf("%s: kernels[%d] (%s): %v", mname, i, k.Name, err)
		}
		if n != k.FLOPs {
			return nil, Config{}, fmt.Errorf("%s: kernels[%d] (%s).flops: %d, the program counts %d", mname, i, k.Name, k.FLOPs, n)
		}
	}
	return b, c, nil
}
