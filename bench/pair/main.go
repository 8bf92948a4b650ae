//go:build openblas

// Command pair times anekit's GEMM and fp16 conversion against OpenBLAS's
// cblas_sgemm and a plain F16C C loop in one process, alternating the two
// every repetition, and reports the median of the per-pair ratios: on a
// shared, busy machine both sides of a pair see nearly the same load, which
// separate processes minutes apart do not. bench/gemm.sh runs it after the
// separate-process comparison.
//
//	go run -tags openblas ./bench/pair -threads 1,2 -pairs 15
//
// It needs cgo and libopenblas-dev; OpenBLAS's threads are set with
// openblas_set_num_threads.
package main

/*
#cgo CFLAGS: -O3 -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
#include <immintrin.h>
#include <stdint.h>

void openblas_set_num_threads(int);

static void sgemm(int m, int n, int k, const float *a, const float *b, float *c) {
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
}

__attribute__((target("avx2,f16c"))) static void encode(uint16_t *h, const float *f, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(f + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		h[i] = _cvtss_sh(f[i], _MM_FROUND_TO_NEAREST_INT);
}
*/
import "C"

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/internal/gemm"
)

func main() {
	threads := flag.String("threads", "1,2", "thread counts")
	pairs := flag.Int("pairs", 15, "alternating (ours, theirs) pairs per shape")
	flag.Parse()
	shapes := [][3]int{{256, 768, 768}, {256, 2048, 768}, {256, 768, 2048}, {768, 768, 256},
		{256, 288, 288}, {256, 32000, 288}, {2048, 2048, 2048}}
	fmt.Printf("paired, in one process: median over %d pairs of ours/theirs (each side >= 20 ms per timing)\n", *pairs)
	fmt.Printf("%-18s %3s %9s %9s %7s %12s\n", "M,N,K / n", "thr", "ours", "ref", "ratio", "ratio p25-p75")
	for _, ts := range strings.Split(*threads, ",") {
		th, err := strconv.Atoi(ts)
		if err != nil || th < 1 {
			fmt.Fprintln(os.Stderr, "pair: bad -threads", *threads)
			os.Exit(2)
		}
		gemm.SetThreads(th)
		C.openblas_set_num_threads(C.int(th))
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range b {
				b[i] = float32(i%5) * 0.1
			}
			ours := func() { gemm.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }
			theirs := func() {
				C.sgemm(C.int(m), C.int(n), C.int(k), (*C.float)(&a[0]), (*C.float)(&b[0]), (*C.float)(&c[0]))
			}
			flop := 2 * float64(m) * float64(n) * float64(k) / 1e9
			report(fmt.Sprintf("%d,%d,%d", m, n, k), th, *pairs, flop, ours, theirs, "GF/s vs OpenBLAS")
		}
	}
	n := 1 << 20
	fs, hs := make([]float32, n), make([]uint16, n)
	for i := range fs {
		fs[i] = float32(i%1000)*0.01 - 5
	}
	ours := func() { f16.Encode(hs, fs) }
	theirs := func() { C.encode((*C.uint16_t)(unsafe.Pointer(&hs[0])), (*C.float)(&fs[0]), C.long(n)) }
	report(fmt.Sprintf("encode %d", n), 1, *pairs, 6*float64(n)/1e9, ours, theirs, "GB/s vs F16C C loop")
}

// report times ours and theirs alternately and prints medians of the rates
// and of the per-pair ratio.
func report(name string, th, pairs int, work float64, ours, theirs func(), unit string) {
	ours()
	theirs()
	var ro, rt, ratio []float64
	for range pairs {
		o := work / perOp(ours)
		t := work / perOp(theirs)
		ro, rt, ratio = append(ro, o), append(rt, t), append(ratio, o/t)
	}
	slices.Sort(ratio)
	q := func(p float64) float64 { return ratio[int(p*float64(len(ratio)-1)+0.5)] }
	fmt.Printf("%-18s %3d %9.1f %9.1f %7.2f %5.2f-%.2f   (%s)\n", name, th, med(ro), med(rt), q(0.5), q(0.25), q(0.75), unit)
}

func med(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func perOp(f func()) float64 {
	for iters := 1; ; iters *= 2 {
		t0 := time.Now()
		for range iters {
			f()
		}
		if dt := time.Since(t0); dt >= 20*time.Millisecond {
			return dt.Seconds() / float64(iters)
		}
	}
}
