// Package anert is anekit's runtime for compiled MIL kernels: the contract
// between the kernels a bundle holds and the hardware that runs them.
//
// A Device compiles a MIL program (package mil) once into a Kernel. A Kernel
// hands out Bindings: each binding owns one input and one output Surface, the
// fp16 [1, C, 1, S] buffers of the Neural Engine's boundary. Writing weights
// into a binding's input surface once per optimizer step and activations
// before each Eval is the "weights as tensors" scheme (DESIGN.md §1, §5):
//
//	dev, err := anert.Open("auto")        // "ane" on Apple silicon, else "cpu"
//	k, err := dev.Compile(prog, anert.DirBlobs("model.aneb/k"))
//	b, err := k.NewBinding()
//	err = b.In().WriteRegionT(wq, wqRowMajor) // weights, stored transposed
//	err = b.In().WriteRegion(x, act)          // activations
//	err = b.Eval()
//	err = b.Out().ReadRegion(y, dst)
//
// Backends register themselves by name, as database/sql drivers do:
// importing github.com/anekit/anekit/pkg/anert/cpu registers "cpu" (every
// platform); the Neural Engine backend registers "ane" on darwin/arm64.
//
// Concurrency: a Device and a Kernel may be used from several goroutines; a
// Binding (and its surfaces) by one goroutine at a time.
package anert

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/anekit/anekit/pkg/mil"
)

// ErrUnavailable is wrapped by the error Open returns when the requested
// backend cannot run here (not built for this platform, or the hardware or
// framework is missing).
var ErrUnavailable = errors.New("backend unavailable")

// Device compiles MIL programs for one backend.
type Device interface {
	// Name is the backend's registered name ("cpu", "ane").
	Name() string
	// Compile turns p (one function "main" with one fp16 [1,C,1,S] input
	// and one fp16 [1,C,1,S] output) into a kernel. blobs resolves the
	// BLOBFILE paths of p's constants; it may be nil when p has none.
	// Compiling is expensive on real hardware and budgeted: compile each
	// kernel kind once and bind it many times.
	Compile(p *mil.Program, blobs BlobSource) (Kernel, error)
	// Compiles is the number of successful Compile calls so far.
	Compiles() int
	// Close releases the device. Kernels compiled on it must not be used
	// afterwards.
	Close() error
}

// Kernel is a compiled program.
type Kernel interface {
	// Program returns the program the kernel was compiled from; callers
	// must not modify it.
	Program() *mil.Program
	// InputShape and OutputShape are [1, C, 1, S].
	InputShape() [4]int
	OutputShape() [4]int
	// NewBinding allocates an input and an output surface bound to the
	// kernel. The input surface starts zeroed.
	NewBinding() (Binding, error)
	// Close releases the kernel; its bindings must not be used afterwards.
	Close() error
}

// Binding is one request of a kernel: its own input and output surfaces.
type Binding interface {
	In() *Surface
	Out() *Surface
	// Eval runs the kernel on In and overwrites Out. It is synchronous.
	Eval() error
	Close() error
}

// BlobSource returns the bytes of the weight blob file a program names in a
// BLOBFILE constant, e.g. "@model_path/weights/mask.bin" (the whole file,
// in the blob format of package format).
type BlobSource func(path string) ([]byte, error)

var (
	regMu    sync.RWMutex
	registry = map[string]func() (Device, error){}
)

// Register makes a backend available to Open under name. It panics if name
// is registered twice, as database/sql.Register does; backends call it from
// init. open should return an error wrapping ErrUnavailable when the
// backend cannot run on this machine.
func Register(name string, open func() (Device, error)) {
	regMu.Lock()
	defer regMu.Unlock()
	if open == nil {
		panic("anert: Register open func is nil")
	}
	if _, dup := registry[name]; dup {
		panic("anert: Register called twice for backend " + name)
	}
	registry[name] = open
}

// Backends returns the registered backend names, sorted.
func Backends() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fallbackOut receives the one line "auto" prints when it falls back to the
// CPU backend; fallbackOnce makes it once per process.
var (
	fallbackOut  io.Writer = os.Stderr
	fallbackOnce sync.Once
)

// Open returns a device of the named kind:
//
//	"cpu"  the CPU backend (needs pkg/anert/cpu imported),
//	"ane"  the Neural Engine (darwin/arm64 with its backend imported);
//	       elsewhere an error wrapping ErrUnavailable,
//	"auto" "ane" if it opens, else "cpu", saying so once per process on
//	       standard error.
func Open(kind string) (Device, error) {
	switch kind {
	case "auto", "":
		d, err := open("ane")
		if err == nil {
			return d, nil
		}
		d, cerr := open("cpu")
		if cerr != nil {
			return nil, fmt.Errorf("anert: auto: %v; and %v", err, cerr)
		}
		fallbackOnce.Do(func() {
			fmt.Fprintf(fallbackOut, "anert: %v; using the cpu backend\n", err)
		})
		return d, nil
	default:
		return open(kind)
	}
}

func open(name string) (Device, error) {
	regMu.RLock()
	f := registry[name]
	regMu.RUnlock()
	if f != nil {
		return f()
	}
	switch name {
	case "ane":
		if runtime.GOOS == "darwin" && runtime.GOARCH == "arm64" {
			return nil, fmt.Errorf("anert: backend \"ane\" not registered (import _ \"github.com/anekit/anekit/pkg/anert/ane\"): %w", ErrUnavailable)
		}
		return nil, fmt.Errorf("anert: backend \"ane\" runs only on darwin/arm64, not %s/%s: %w", runtime.GOOS, runtime.GOARCH, ErrUnavailable)
	case "cpu":
		return nil, fmt.Errorf("anert: backend \"cpu\" not registered (import _ \"github.com/anekit/anekit/pkg/anert/cpu\"): %w", ErrUnavailable)
	}
	return nil, fmt.Errorf("anert: unknown backend %q (want auto, cpu or ane)", name)
}
