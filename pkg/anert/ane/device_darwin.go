//go:build darwin && arm64

package ane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/mil"
	"github.com/ebitengine/purego/objc"
)

func init() {
	anert.Register("ane", func() (anert.Device, error) { return Open() })
}

var (
	budgetOnce sync.Once
	budget     *Budget
	budgetErr  error
)

// processBudget is the compile budget shared by every device of the
// process, read once from BudgetEnv.
func processBudget() (*Budget, error) {
	budgetOnce.Do(func() {
		n, err := ParseBudget(os.Getenv(BudgetEnv))
		budget, budgetErr = NewBudget(n), err
	})
	return budget, budgetErr
}

// Device is the Neural Engine backend.
type Device struct {
	f       *fw
	budget  *Budget
	mu      sync.Mutex
	n       int // successful compiles
	kernels map[*kernel]struct{}
	closed  bool
}

// Open loads the framework (once per process) and returns a device. On a
// Mac without the private framework, its classes or selectors the error
// wraps anert.ErrUnavailable.
func Open() (*Device, error) {
	f, err := load()
	if err != nil {
		return nil, err
	}
	b, err := processBudget()
	if err != nil {
		return nil, err
	}
	return &Device{f: f, budget: b, kernels: map[*kernel]struct{}{}}, nil
}

// Chip returns the Neural Engine's sub-type as _ANEDeviceInfo reports it
// (for example "H16G"), or an error when the class or method is absent.
func Chip() (string, error) {
	f, err := load()
	if err != nil {
		return "", err
	}
	if f.DeviceInfo == 0 || !f.classRespondsToSelector(f.objectGetClass(objc.ID(f.DeviceInfo)), f.selANESubType) {
		return "", errors.New("ane: _ANEDeviceInfo +aneSubType is not available")
	}
	var chip string
	err = f.run(func() error {
		chip = f.goString(f.send(objc.ID(f.DeviceInfo), f.selANESubType))
		return nil
	})
	return chip, err
}

// Name returns "ane".
func (d *Device) Name() string { return "ane" }

// Compiles is the number of successful compiles on d.
func (d *Device) Compiles() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Budget returns the process-wide compile budget.
func (d *Device) Budget() *Budget { return d.budget }

// Close closes every kernel compiled on d.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	ks := make([]*kernel, 0, len(d.kernels))
	for k := range d.kernels {
		ks = append(ks, k)
	}
	d.mu.Unlock()
	var errs []error
	for _, k := range ks {
		errs = append(errs, k.Close())
	}
	return errors.Join(errs...)
}

// Compile plans p (NewPlan), takes one compile from the budget, and runs
// the framework's sequence: descriptor from MIL text and weights, in-memory
// model, its temporary directory pre-populated, compile, load. A failed
// compile or load writes the MIL and weights to a directory the error
// names.
func (d *Device) Compile(p *mil.Program, blobs anert.BlobSource) (anert.Kernel, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, errors.New("ane: device is closed")
	}
	pl, err := NewPlan(p, blobs, os.Getenv(UncheckedEnv) != "1")
	if err != nil {
		return nil, err
	}
	if err := d.budget.Take(); err != nil {
		return nil, err
	}
	k := &kernel{d: d, prog: p, plan: pl, bindings: map[*binding]struct{}{}}
	err = d.f.run(func() error { return k.compile() })
	if err != nil {
		if dir, derr := DumpFailure("", pl); derr == nil {
			err = fmt.Errorf("%w (MIL text and weights written to %s)", err, dir)
		} else {
			err = fmt.Errorf("%w (could not write the MIL text for inspection: %v)", err, derr)
		}
		return nil, err
	}
	d.mu.Lock()
	d.n++
	d.kernels[k] = struct{}{}
	d.mu.Unlock()
	return k, nil
}

type kernel struct {
	d        *Device
	prog     *mil.Program
	plan     *Plan
	model    objc.ID // retained
	hex      string
	dir      string // NSTemporaryDirectory()/hex
	mu       sync.Mutex
	bindings map[*binding]struct{}
	closed   bool
}

// compile runs on the framework thread.
func (k *kernel) compile() error {
	f := k.d.f
	keys := make([]objc.ID, len(k.plan.Weights))
	vals := make([]objc.ID, len(k.plan.Weights))
	for i, w := range k.plan.Weights {
		keys[i] = f.str(w.Key)
		vals[i] = f.dict([]objc.ID{f.str("offset"), f.str("data")}, []objc.ID{f.num(0), f.data(w.Data)})
		if keys[i] == 0 || vals[i] == 0 {
			return fmt.Errorf("ane: could not build the weights dictionary entry for %s", w.Key)
		}
	}
	weights := f.dict(keys, vals)
	milData := f.data(k.plan.MIL)
	desc := f.send3(objc.ID(f.Descriptor), f.selModelWithMILText, milData, weights, 0)
	if desc == 0 {
		return errors.New("ane: _ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist: returned nil (the framework rejected the MIL text or the weights dictionary)")
	}
	model := f.send1(objc.ID(f.Model), f.selInMemoryModelWithDescriptor, desc)
	if model == 0 {
		return errors.New("ane: _ANEInMemoryModel inMemoryModelWithDescriptor: returned nil")
	}
	for _, sel := range []objc.SEL{f.selHexStringIdentifier, f.selCompile, f.selLoad, f.selEvaluate, f.selUnload} {
		if !f.responds(model, sel) {
			return fmt.Errorf("ane: the in-memory model (class %#x) does not respond to a selector the backend uses", uintptr(f.objectGetClass(model)))
		}
	}
	k.hex = f.goString(f.send(model, f.selHexStringIdentifier))
	if k.hex == "" || !filepath.IsLocal(k.hex) || strings.ContainsAny(k.hex, `/\`) {
		return fmt.Errorf("ane: model hexStringIdentifier %q is not a usable directory name", k.hex)
	}
	tmp := f.goString(f.nsTemporaryDirectory())
	if tmp == "" {
		return errors.New("ane: NSTemporaryDirectory() returned nothing")
	}
	k.dir = filepath.Join(tmp, k.hex)
	if err := writeModelDir(k.dir, k.plan); err != nil {
		return fmt.Errorf("ane: pre-populating the model directory %s: %w", k.dir, err)
	}
	var nserr objc.ID
	if !f.sendQoSOptErr(model, f.selCompile, QoS, f.dict(nil, nil), &nserr) {
		os.RemoveAll(k.dir)
		return fmt.Errorf("ane: compile (model %s): %s", k.hex, f.errorText(nserr))
	}
	nserr = 0
	if !f.sendQoSOptErr(model, f.selLoad, QoS, f.dict(nil, nil), &nserr) {
		// The research bridge retries a failed load once after 100 ms
		// while the daemon reclaims a slot.
		time.Sleep(100 * time.Millisecond)
		first := f.errorText(nserr)
		nserr = 0
		if !f.sendQoSOptErr(model, f.selLoad, QoS, f.dict(nil, nil), &nserr) {
			os.RemoveAll(k.dir)
			return fmt.Errorf("ane: load (model %s): %s (first attempt: %s)", k.hex, f.errorText(nserr), first)
		}
	}
	k.model = f.retain(model)
	return nil
}

func (k *kernel) Program() *mil.Program { return k.prog }
func (k *kernel) InputShape() [4]int    { return k.plan.In }
func (k *kernel) OutputShape() [4]int   { return k.plan.Out }

// NewBinding creates the input and output IOSurfaces and the request over
// them. Both surfaces stay locked for CPU access except while Eval runs.
func (k *kernel) NewBinding() (anert.Binding, error) {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil, errors.New("ane: kernel is closed")
	}
	b := &binding{k: k}
	b.evalJob = job{fn: b.eval, done: make(chan error, 1)}
	f := k.d.f
	err := f.run(func() error {
		var err error
		if b.inRef, b.inObj, err = b.surface(k.plan.InBytes); err != nil {
			return err
		}
		if b.outRef, b.outObj, err = b.surface(k.plan.OutBytes); err != nil {
			return err
		}
		rp := k.plan.Request
		idx := func(v []int) objc.ID {
			ids := make([]objc.ID, len(v))
			for i, x := range v {
				ids[i] = f.num(int64(x))
			}
			return f.array(ids...)
		}
		req := f.send7(objc.ID(f.Request), f.selRequest,
			f.array(b.inObj), idx(rp.InputIndices), f.array(b.outObj), idx(rp.OutputIndices),
			0, 0, f.num(int64(rp.ProcedureIndex)))
		if req == 0 {
			return errors.New("ane: _ANERequest requestWithInputs:... returned nil")
		}
		b.req = f.retain(req)
		if err := b.lock(); err != nil {
			return err
		}
		if b.in, err = b.wrap(b.inRef, k.plan.In); err != nil {
			return err
		}
		b.out, err = b.wrap(b.outRef, k.plan.Out)
		return err
	})
	if err != nil {
		b.free()
		return nil, err
	}
	k.mu.Lock()
	k.bindings[b] = struct{}{}
	k.mu.Unlock()
	return b, nil
}

// Close closes the kernel's bindings, unloads the model, releases it and
// removes its temporary directory.
func (k *kernel) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	bs := make([]*binding, 0, len(k.bindings))
	for b := range k.bindings {
		bs = append(bs, b)
	}
	k.mu.Unlock()
	var errs []error
	for _, b := range bs {
		errs = append(errs, b.Close())
	}
	f := k.d.f
	errs = append(errs, f.run(func() error {
		var nserr objc.ID
		var err error
		if !f.sendQoSErr(k.model, f.selUnload, QoS, &nserr) {
			err = fmt.Errorf("ane: unload (model %s): %s", k.hex, f.errorText(nserr))
		}
		f.release(k.model)
		k.model = 0
		return err
	}))
	if k.dir != "" {
		errs = append(errs, os.RemoveAll(k.dir))
	}
	k.d.mu.Lock()
	delete(k.d.kernels, k)
	k.d.mu.Unlock()
	return errors.Join(errs...)
}

type binding struct {
	k               *kernel
	inRef, outRef   uintptr // IOSurfaceRef, owned (+1 from IOSurfaceCreate)
	inObj, outObj   objc.ID // _ANEIOSurfaceObject, retained
	req             objc.ID // _ANERequest, retained
	in, out         *anert.Surface
	inBase, outBase unsafe.Pointer
	locked          bool
	evalJob         job
	mu              sync.Mutex
	closed          bool
}

// surface creates an IOSurface of n bytes and its _ANEIOSurfaceObject.
// On the framework thread.
func (b *binding) surface(n int) (uintptr, objc.ID, error) {
	f := b.k.d.f
	props := SurfaceProps(n)
	keys := make([]objc.ID, len(props))
	vals := make([]objc.ID, len(props))
	for i, p := range props {
		keys[i], vals[i] = f.surfaceKeys[p.Key], f.num(p.Value)
	}
	ref := f.ioSurfaceCreate(f.dict(keys, vals))
	if ref == 0 {
		return 0, 0, fmt.Errorf("ane: IOSurfaceCreate(%d bytes) failed", n)
	}
	if got := f.ioSurfaceGetAllocSize(ref); got < uintptr(n) {
		f.cfRelease(ref)
		return 0, 0, fmt.Errorf("ane: IOSurface of %d bytes allocated only %d", n, got)
	}
	obj := f.send1(objc.ID(f.IOSurfaceObject), f.selObjectWithIOSurface, objc.ID(ref))
	if obj == 0 {
		f.cfRelease(ref)
		return 0, 0, errors.New("ane: _ANEIOSurfaceObject objectWithIOSurface: returned nil")
	}
	return ref, f.retain(obj), nil
}

// wrap makes the anert.Surface over a locked IOSurface's memory.
func (b *binding) wrap(ref uintptr, shape [4]int) (*anert.Surface, error) {
	f := b.k.d.f
	base := f.ioSurfaceGetBaseAddress(ref)
	if base == nil {
		return nil, errors.New("ane: IOSurfaceGetBaseAddress returned NULL")
	}
	if ref == b.inRef {
		b.inBase = base
	} else {
		b.outBase = base
	}
	return anert.WrapSurface(shape[1], shape[3], unsafe.Slice((*uint16)(base), shape[1]*shape[3]))
}

// lock locks both surfaces for CPU reading and writing.
func (b *binding) lock() error {
	f := b.k.d.f
	if r := f.ioSurfaceLock(b.inRef, 0, nil); r != 0 {
		return fmt.Errorf("ane: IOSurfaceLock(input) = %#x", uint32(r))
	}
	if r := f.ioSurfaceLock(b.outRef, 0, nil); r != 0 {
		f.ioSurfaceUnlock(b.inRef, 0, nil)
		return fmt.Errorf("ane: IOSurfaceLock(output) = %#x", uint32(r))
	}
	b.locked = true
	return nil
}

func (b *binding) unlock() {
	if b.locked {
		f := b.k.d.f
		f.ioSurfaceUnlock(b.inRef, 0, nil)
		f.ioSurfaceUnlock(b.outRef, 0, nil)
		b.locked = false
	}
}

func (b *binding) In() *anert.Surface  { return b.in }
func (b *binding) Out() *anert.Surface { return b.out }

// Eval unlocks the surfaces (CPU writes are complete), evaluates the
// request synchronously, and locks them again for the caller to read.
func (b *binding) Eval() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("ane: binding is closed")
	}
	return b.k.d.f.runJob(b.evalJob)
}

// eval runs on the framework thread.
func (b *binding) eval() error {
	f := b.k.d.f
	b.unlock()
	var nserr objc.ID
	ok := f.sendQoSEval(b.k.model, f.selEvaluate, QoS, f.dict(nil, nil), b.req, &nserr)
	if err := b.lock(); err != nil {
		return err
	}
	if f.ioSurfaceGetBaseAddress(b.inRef) != b.inBase || f.ioSurfaceGetBaseAddress(b.outRef) != b.outBase {
		return errors.New("ane: an IOSurface's base address changed across evaluation; its anert.Surface is stale")
	}
	if !ok {
		return fmt.Errorf("ane: evaluate (model %s): %s", b.k.hex, f.errorText(nserr))
	}
	return nil
}

// Close releases the request and the surfaces.
func (b *binding) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.k.mu.Lock()
	delete(b.k.bindings, b)
	b.k.mu.Unlock()
	b.free()
	return nil
}

// free releases whatever the binding holds (also after a failed NewBinding).
func (b *binding) free() {
	f := b.k.d.f
	f.run(func() error {
		b.unlock()
		f.release(b.req)
		f.release(b.inObj)
		f.release(b.outObj)
		if b.inRef != 0 {
			f.cfRelease(b.inRef)
		}
		if b.outRef != 0 {
			f.cfRelease(b.outRef)
		}
		b.req, b.inObj, b.outObj, b.inRef, b.outRef = 0, 0, 0, 0, 0
		b.in, b.out = nil, nil
		return nil
	})
}
