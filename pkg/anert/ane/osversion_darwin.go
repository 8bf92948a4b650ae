//go:build darwin

package ane

import "golang.org/x/sys/unix"

// OSVersion returns the macOS product version (sysctl
// kern.osproductversion, e.g. "15.3.1"), or "" when it cannot be read.
func OSVersion() string {
	v, err := unix.Sysctl("kern.osproductversion")
	if err != nil {
		return ""
	}
	return v
}
