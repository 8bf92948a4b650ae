//go:build !linux

package bpe

func tiktokenThreadCPU() (float64, bool) { return 0, false }
