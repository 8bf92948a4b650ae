//go:build darwin && arm64

package ane

import (
	"fmt"
	"runtime"
	"sync"
)

// All framework calls of the process run on one goroutine locked to one OS
// thread, each inside its own autorelease pool: Objective-C autorelease
// pools are per thread, and a single thread keeps the framework's view of
// its callers simple. Objects that outlive a call are retained explicitly
// and released by Close.

type job struct {
	fn   func() error
	done chan error
}

var (
	workerOnce sync.Once
	jobs       chan job
)

// run executes fn on the framework thread inside an autorelease pool and
// returns its error. A panic in fn becomes an error.
func (f *fw) run(fn func() error) error {
	return f.runJob(job{fn: fn, done: make(chan error, 1)})
}

// runJob is run with a caller-owned job (done must have capacity 1), so
// that a hot path (Eval) allocates nothing per call.
func (f *fw) runJob(j job) error {
	workerOnce.Do(func() {
		jobs = make(chan job)
		go f.serve()
	})
	jobs <- j
	return <-j.done
}

func (f *fw) serve() {
	runtime.LockOSThread() // never unlocked: the thread belongs to the framework
	for j := range jobs {
		j.done <- f.inPool(j.fn)
	}
}

func (f *fw) inPool(fn func() error) (err error) {
	pool := f.poolPush()
	defer f.poolPop(pool)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ane: panic on the framework thread: %v", r)
		}
	}()
	return fn()
}
