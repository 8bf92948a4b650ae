//go:build !darwin

package ane

// OSVersion returns the macOS product version; "" on other systems.
func OSVersion() string { return "" }
