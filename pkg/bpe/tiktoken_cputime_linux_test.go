package bpe

import "syscall"

// tiktokenThreadCPU returns the CPU time, in seconds, used so far by the
// calling OS thread (the caller locks itself to the thread), so benchmarks
// can report throughput per CPU-second on a loaded machine.
func tiktokenThreadCPU() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}
