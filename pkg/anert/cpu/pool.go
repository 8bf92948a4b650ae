package cpu

import "sync"

// task is a step that can be split: work runs piece part of parts on
// worker w (whose scratch it may use).
type task interface {
	work(w, part, parts int)
}

type job struct {
	t           task
	part, parts int
}

// pool is a binding's set of worker goroutines. run hands pieces of a task
// to them over channels (no allocation) and does piece 0 itself.
type pool struct {
	jobs []chan job
	wg   sync.WaitGroup
}

func newPool(threads int) *pool {
	p := &pool{}
	for i := 1; i < threads; i++ {
		ch := make(chan job)
		p.jobs = append(p.jobs, ch)
		go func(w int) {
			for j := range ch {
				j.t.work(w, j.part, j.parts)
				p.wg.Done()
			}
		}(i)
	}
	return p
}

func (p *pool) threads() int { return len(p.jobs) + 1 }

func (p *pool) run(t task, parts int) {
	parts = min(max(parts, 1), p.threads())
	if parts == 1 {
		t.work(0, 0, 1)
		return
	}
	p.wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		p.jobs[i-1] <- job{t, i, parts}
	}
	t.work(0, 0, parts)
	p.wg.Wait()
}

func (p *pool) close() {
	for _, ch := range p.jobs {
		close(ch)
	}
	p.jobs = nil
}
