//go:build !(darwin && arm64)

package ane

import (
	"fmt"
	"runtime"

	"github.com/anekit/anekit/pkg/anert"
)

// Nothing is registered here: anert.Open("ane") reports that the backend
// runs only on darwin/arm64, wrapping anert.ErrUnavailable.

// Chip returns the Neural Engine's sub-type as _ANEDeviceInfo reports it
// (for example "H16G"); here, an error wrapping anert.ErrUnavailable.
func Chip() (string, error) {
	return "", fmt.Errorf("ane: no Neural Engine on %s/%s: %w", runtime.GOOS, runtime.GOARCH, anert.ErrUnavailable)
}
