package bpe

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

// tiktokenBenchLoop runs f b.N times on a locked thread and also reports
// MB per CPU-second of that thread ("cpuMB/s"), which waiting for a busy
// machine's cores does not dilute.
func tiktokenBenchLoop(b *testing.B, size int, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(size))
	b.ResetTimer()
	c0, ok := tiktokenThreadCPU()
	for i := 0; i < b.N; i++ {
		f()
	}
	c1, _ := tiktokenThreadCPU()
	if ok && c1 > c0 {
		b.ReportMetric(float64(size)*float64(b.N)/(c1-c0)/1e6, "cpuMB/s")
	}
}

func tiktokenBenchText(b *testing.B) []byte {
	shared := sharedtest.Dir(b, "conformance/tiktoken")
	text, err := os.ReadFile(filepath.Join(shared, "data", "tinyshakespeare.txt"))
	if err != nil {
		b.Skipf("tinyshakespeare.txt: %v", err)
	}
	return text
}

// BenchmarkTiktokenEncode encodes the whole of tinyshakespeare on one core.
func BenchmarkTiktokenEncode(b *testing.B) {
	text := tiktokenBenchText(b)
	for _, name := range tiktokenEncodings {
		b.Run(name, func(b *testing.B) {
			tk := mustTiktoken(b, name)
			ids := make([]uint32, 0, len(text)/2)
			tiktokenBenchLoop(b, len(text), func() { ids = tk.Encode(ids[:0], text) })
		})
	}
}

// BenchmarkTiktokenGoEncode is the reference: tiktoken-go's EncodeOrdinary
// on the same text and ranks.
func BenchmarkTiktokenGoEncode(b *testing.B) {
	text := string(tiktokenBenchText(b))
	for _, name := range tiktokenEncodings {
		b.Run(name, func(b *testing.B) {
			core := tiktokenGoCore(b, mustTiktoken(b, name), pretokPatterns[name])
			tiktokenBenchLoop(b, len(text), func() { tiktokenGoEncode(core, text) })
		})
	}
}

// BenchmarkPretokenize measures the pre-tokenizers alone.
func BenchmarkPretokenize(b *testing.B) {
	text := tiktokenBenchText(b)
	for name, f := range pretokFuncs {
		b.Run(name, func(b *testing.B) {
			tiktokenBenchLoop(b, len(text), func() {
				for j := 0; j < len(text); {
					j = f(text, j)
				}
			})
		})
	}
}
