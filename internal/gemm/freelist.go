package gemm

import "sync"

// freeList keeps reusable objects for the next call. Unlike sync.Pool it is
// never emptied by the garbage collector and never allocates once it holds
// as many objects as are in use at the same time (at most one per worker),
// which is what makes a multiply allocation-free in steady state.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// get returns a kept object, or a new zero one.
func (l *freeList[T]) get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		x := l.free[n-1]
		l.free = l.free[:n-1]
		return x
	}
	return new(T)
}

// put keeps x for a later get.
func (l *freeList[T]) put(x *T) {
	l.mu.Lock()
	l.free = append(l.free, x)
	l.mu.Unlock()
}
