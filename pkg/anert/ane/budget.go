package ane

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// BudgetEnv is the environment variable that sets the compile budget.
const BudgetEnv = "ANEKIT_ANE_COMPILE_BUDGET"

// DefaultBudget is the default number of compiles per process: below the
// ~119 compile-and-load cycles after which the ANE compiler service starts
// failing in one process (it leaks; research notes §1.8).
const DefaultBudget = 100

// ErrCompileBudget is wrapped by the error Compile returns once the
// process has used its compile budget. The remedy is a new process (save a
// checkpoint and re-exec), or fewer kernel kinds.
var ErrCompileBudget = errors.New("ANE compile budget exhausted")

// Budget counts compile attempts against a limit. Attempts count whether
// or not they succeed, since failed compiles consume the compiler's
// resources too. It is safe for concurrent use.
type Budget struct {
	mu    sync.Mutex
	limit int
	used  int
}

// NewBudget returns a budget of limit attempts.
func NewBudget(limit int) *Budget { return &Budget{limit: limit} }

// ParseBudget reads the value of BudgetEnv: empty means DefaultBudget,
// otherwise a positive integer.
func ParseBudget(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultBudget, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("ane: %s=%q: want a positive integer (default %d)", BudgetEnv, v, DefaultBudget)
	}
	return n, nil
}

// Take records one compile attempt, or returns an error wrapping
// ErrCompileBudget when the limit is reached.
func (b *Budget) Take() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used >= b.limit {
		return fmt.Errorf("ane: %w: %d compiles used of %d allowed per process (%s; the ANE compiler fails after ~119): compile each kernel kind once, or restart the process from a checkpoint",
			ErrCompileBudget, b.used, b.limit, BudgetEnv)
	}
	b.used++
	return nil
}

// Used is the number of attempts recorded.
func (b *Budget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit is the number of attempts allowed.
func (b *Budget) Limit() int { return b.limit }
