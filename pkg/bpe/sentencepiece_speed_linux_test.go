//go:build linux

package bpe

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/anekit/anekit/internal/sharedtest"
)

// threadCPU returns the CPU time used by the calling OS thread.
func threadCPU(t *testing.T) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Fatal(err)
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// TestSentencePieceSpeed measures single-core encoding rates in MB per
// second of CPU time of the encoding thread, which stays meaningful on a
// busy machine where wall-clock benchmarks do not. Run it with
// ANEKIT_SPEED=1 go test -run SentencePieceSpeed -v ./pkg/bpe.
func TestSentencePieceSpeed(t *testing.T) {
	if os.Getenv("ANEKIT_SPEED") == "" {
		t.Skip("set ANEKIT_SPEED=1 to measure encoding speed")
	}
	d := sharedtest.Dir(t, "conformance/sentencepiece")
	data, err := os.ReadFile(filepath.Join(d, "data", "llama2-tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(d, "data", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(text, []byte("\n"))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mb := float64(len(text)) / 1e6
	measure := func(name string, runs int, fresh bool, f func(tok *SentencePiece)) {
		tok, err := ParseSentencePiece(data, "llama2")
		if err != nil {
			t.Fatal(err)
		}
		f(tok) // warm up
		var rates []float64
		for range runs {
			if fresh {
				tok, _ = ParseSentencePiece(data, "llama2")
				runtime.GC()
			}
			t0 := threadCPU(t)
			f(tok)
			rates = append(rates, mb/(threadCPU(t)-t0))
		}
		slicesSortFloat(rates)
		t.Logf("%-34s median %6.1f MB/s (min %.1f, max %.1f, %d runs)", name, rates[len(rates)/2], rates[0], rates[len(rates)-1], runs)
	}
	var ids []uint32
	measure("whole text, warm cache", 9, false, func(tok *SentencePiece) { ids = tok.Encode(ids[:0], text) })
	measure("whole text, fresh tokenizer", 5, true, func(tok *SentencePiece) { ids = tok.Encode(ids[:0], text) })
	measure("line by line, warm cache", 9, false, func(tok *SentencePiece) {
		for _, l := range lines {
			ids = tok.Encode(ids[:0], l)
		}
	})
	measure("line by line, fresh tokenizer", 5, true, func(tok *SentencePiece) {
		for _, l := range lines {
			ids = tok.Encode(ids[:0], l)
		}
	})
	measure("whole text, no cache", 5, false, func(tok *SentencePiece) {
		tok.cache = nil
		ids = tok.Encode(ids[:0], text)
	})
}

func slicesSortFloat(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
