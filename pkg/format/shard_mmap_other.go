//go:build !unix

package format

import (
	"io"
	"os"
)

// mmap reads the file into memory where syscall.Mmap is not available.
func mmap(f *os.File, size int) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
