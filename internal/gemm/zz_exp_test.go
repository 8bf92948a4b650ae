//go:build amd64 && !purego && exp

package gemm

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func thrCPU() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}

func procCPU() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}

// perOpCPU: median over reps of per-op time (thread CPU time if clock=thread, process CPU if proc, wall otherwise)
func perOpCPU(clock string, reps int, f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	now := thrCPU
	switch clock {
	case "proc":
		now = procCPU
	case "wall":
		t0 := time.Now()
		now = func() float64 { return time.Since(t0).Seconds() }
	}
	f()
	var v []float64
	for r := 0; r < reps; r++ {
		for it := 1; ; it *= 2 {
			t0 := now()
			for i := 0; i < it; i++ {
				f()
			}
			if dt := now() - t0; dt >= 0.03 {
				v = append(v, dt/float64(it))
				break
			}
		}
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func TestExpKernel(t *testing.T) {
	for _, k := range []int{64, 256, 384, 512} {
		for _, npan := range []int{1, 10} {
			a, bp, c := make([]float32, 14*k), make([]float32, 32*k*npan), make([]float32, 14*32*npan)
			f := func() {
				for j := 0; j < npan; j++ {
					run512(14, k, a, bp[j*32*k:], c[j*32:], 32*npan, 1, 0)
				}
			}
			s := perOpCPU("thread", 5, f)
			fmt.Printf("kc=%d npan=%d  %.1f GFLOPS\n", k, npan, 2*14*32*float64(k*npan)/s/1e9)
		}
	}
}

func TestExpShapes(t *testing.T) {
	clock := os.Getenv("CLK")
	if clock == "" {
		clock = "thread"
	}
	for _, s := range benchShapes {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range bb {
			bb[i] = float32(i%5) * 0.1
		}
		defer SetThreads(SetThreads(1))
		sec := perOpCPU(clock, 5, func() { Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n) })
		fmt.Printf("%dx%dx%d  %.1f GFLOPS\n", m, n, k, 2*float64(m*n*k)/sec/1e9)
	}
}

func packBOld(buf *buffers, b Mat, p0, kc, j0, nb, NR int) {
	dst := buf.b
	for q := 0; q*NR < nb; q++ {
		panel := dst[q*NR*kc : (q+1)*NR*kc]
		nr := min(NR, nb-q*NR)
		base := b.Off + p0*b.RowStride + (j0+q*NR)*b.ColStride
		for p := 0; p < kc; p++ {
			s := base + p*b.RowStride
			copy(panel[p*NR:p*NR+nr], b.F32[s:s+nr])
		}
	}
}

func packBNew(buf *buffers, b Mat, p0, kc, j0, nb, NR int) {
	dst := buf.b
	full := nb / NR
	for p := 0; p < kc; p++ {
		s := b.Off + (p0+p)*b.RowStride + j0
		row := b.F32[s : s+nb]
		for q := 0; q < full; q++ {
			*(*[32]float32)(dst[q*NR*kc+p*NR:]) = *(*[32]float32)(row[q*NR:])
		}
	}
}

func TestExpPackB(t *testing.T) {
	for _, s := range [][3]int{{384, 320, 2048}, {288, 320, 32000}, {384, 320, 768}} {
		kc, nb, ldb := s[0], s[1], s[2]
		src := make([]float32, (kc+1)*ldb)
		buf := &buffers{b: make([]float32, kc*nb)}
		B := Mat{F32: src, RowStride: ldb, ColStride: 1}
		for it := 0; it < 3; it++ {
			j := 0
			next := func() int { j = (j + nb) % (ldb - nb); return j }
			to := perOpCPU("thread", 3, func() { packBOld(buf, B, 0, kc, next(), nb, 32) })
			tn := perOpCPU("thread", 3, func() { packBNew(buf, B, 0, kc, next(), nb, 32) })
			ta := perOpCPU("thread", 3, func() { packB(buf, B, 0, kc, next(), nb, 32) })
			gb := func(x float64) float64 { return float64(kc*nb*8) / x / 1e9 }
			fmt.Printf("kc=%d nb=%d ldb=%d old %.1f GB/s new %.1f GB/s cur %.1f\n", kc, nb, ldb, gb(to), gb(tn), gb(ta))
		}
	}
}

type variant struct {
	name string
	set  func() // apply; baseline restored before each
}

// compareVariants alternates the variants on each shape, rounds times,
// and prints median GFLOPS (thread CPU time, 1 thread) and median ratio to variant 0.
func compareVariants(t *testing.T, shapes [][3]int, rounds int, vs []variant) {
	base := *avx512Kernel
	defer func() { *avx512Kernel = base }()
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range bb {
			bb[i] = float32(i%5) * 0.1
		}
		gf := make([][]float64, len(vs))
		for r := 0; r < rounds; r++ {
			for i, v := range vs {
				*avx512Kernel = base
				v.set()
				sec := perOpCPU(clk(), 1, func() { Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n) })
				gf[i] = append(gf[i], 2*float64(m*n*k)/sec/1e9)
			}
		}
		line := fmt.Sprintf("%5dx%5dx%5d", m, n, k)
		for i, v := range vs {
			var ratio []float64
			for r := range gf[i] {
				ratio = append(ratio, gf[i][r]/gf[0][r])
			}
			slices.Sort(ratio)
			g := slices.Clone(gf[i])
			slices.Sort(g)
			line += fmt.Sprintf("  %s %.1f (%.3f)", v.name, g[len(g)/2], ratio[len(ratio)/2])
		}
		fmt.Println(line)
	}
}

func clk() string {
	if c := os.Getenv("CLK"); c != "" {
		return c
	}
	return "thread"
}

var expShapes = [][3]int{
	{256, 768, 768}, {256, 2048, 768}, {256, 768, 2048}, {768, 768, 256},
	{256, 288, 288}, {256, 32000, 288}, {2048, 2048, 2048},
}

func TestExpBlock(t *testing.T) {
	defer SetThreads(SetThreads(1))
	compareVariants(t, expShapes, 7, []variant{
		{"base", func() {}},
		{"mb4096", func() { avx512Kernel.mb = 4096 }},
		{"kc256", func() { avx512Kernel.kc = 256 }},
		{"kc512", func() { avx512Kernel.kc = 512 }},
	})
}
