package sharedtest

import (
	"runtime/debug"
	"testing"
)

// AllocsPerRun is testing.AllocsPerRun with the garbage collector off: f runs
// once to warm up, then runs times, and the average number of heap
// allocations per run is returned. With the collector off, a sync.Pool
// cannot be emptied between runs, so the count is what f itself allocates
// in steady state, not when a collection happens to land in the middle.
func AllocsPerRun(runs int, f func()) float64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	f()
	return testing.AllocsPerRun(runs, f)
}
