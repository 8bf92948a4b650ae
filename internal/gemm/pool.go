package gemm

import "sync"

// The worker pool: goroutines started on first need and kept, so a
// multiply pays a channel hand-off, not a goroutine start, per part.
var workers struct {
	sync.Mutex
	n  int
	ch chan part
}

type part struct {
	j *job
	i int
}

// parallel runs parts 1.. of j on pool workers and part 0 on the caller,
// and returns when all are done.
func parallel(j *job) {
	ensureWorkers(j.parts - 1)
	j.wg.Add(j.parts - 1)
	for i := 1; i < j.parts; i++ {
		workers.ch <- part{j, i}
	}
	j.runPart(0)
	j.wg.Wait()
}

func ensureWorkers(n int) {
	workers.Lock()
	defer workers.Unlock()
	if workers.ch == nil {
		workers.ch = make(chan part, 64)
	}
	for ; workers.n < n; workers.n++ {
		go func() {
			for p := range workers.ch {
				p.j.runPart(p.i)
				p.j.wg.Done()
			}
		}()
	}
}
