//go:build darwin && arm64

package ane

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/ebitengine/purego"
	"github.com/ebitengine/purego/objc"
)

// Library paths. Foundation and CoreFoundation are public; IOSurface is
// public; AppleNeuralEngine is private and may move or change without
// notice between macOS releases.
const (
	libObjC           = "/usr/lib/libobjc.A.dylib"
	libFoundation     = "/System/Library/Frameworks/Foundation.framework/Foundation"
	libCoreFoundation = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
	libIOSurface      = "/System/Library/Frameworks/IOSurface.framework/IOSurface"
	libANE            = "/System/Library/PrivateFrameworks/AppleNeuralEngine.framework/AppleNeuralEngine"
)

// kIOSurfaceLockReadOnly is IOSurfaceLock's read-only option; 0 locks for
// reading and writing.
const kIOSurfaceLockReadOnly = 1

// fw is the loaded framework: C functions, one typed objc_msgSend per call
// signature, classes and selectors, all resolved and checked once by load.
type fw struct {
	// libobjc
	classRespondsToSelector func(objc.Class, objc.SEL) bool
	objectGetClass          func(objc.ID) objc.Class
	poolPush                func() uintptr
	poolPop                 func(uintptr)

	// Foundation, CoreFoundation, IOSurface
	nsTemporaryDirectory    func() objc.ID
	cfRelease               func(uintptr)
	ioSurfaceCreate         func(objc.ID) uintptr
	ioSurfaceLock           func(uintptr, uint32, *uint32) int32
	ioSurfaceUnlock         func(uintptr, uint32, *uint32) int32
	ioSurfaceGetBaseAddress func(uintptr) unsafe.Pointer
	ioSurfaceGetAllocSize   func(uintptr) uintptr
	surfaceKeys             map[string]objc.ID // "kIOSurfaceWidth" -> its CFStringRef

	// objc_msgSend, one typed function per signature used.
	send          func(objc.ID, objc.SEL) objc.ID                                                                // -x, +x
	sendBool      func(objc.ID, objc.SEL) bool                                                                   // +hasANE
	sendStr       func(objc.ID, objc.SEL) string                                                                 // -UTF8String
	send1         func(objc.ID, objc.SEL, objc.ID) objc.ID                                                       // +inMemoryModelWithDescriptor:, +objectWithIOSurface:
	send3         func(objc.ID, objc.SEL, objc.ID, objc.ID, objc.ID) objc.ID                                     // +modelWithMILText:weights:optionsPlist:
	send7         func(objc.ID, objc.SEL, objc.ID, objc.ID, objc.ID, objc.ID, objc.ID, objc.ID, objc.ID) objc.ID // +requestWithInputs:...
	sendCString   func(objc.ID, objc.SEL, string) objc.ID                                                        // +stringWithUTF8String:
	sendBytes     func(objc.ID, objc.SEL, unsafe.Pointer, uint) objc.ID                                          // +dataWithBytes:length:
	sendInt64     func(objc.ID, objc.SEL, int64) objc.ID                                                         // +numberWithLongLong:
	sendObjs      func(objc.ID, objc.SEL, *objc.ID, uint) objc.ID                                                // +arrayWithObjects:count:
	sendObjsKeys  func(objc.ID, objc.SEL, *objc.ID, *objc.ID, uint) objc.ID                                      // +dictionaryWithObjects:forKeys:count:
	sendQoSOptErr func(objc.ID, objc.SEL, uint32, objc.ID, *objc.ID) bool                                        // -compileWithQoS:options:error:, -loadWithQoS:options:error:
	sendQoSEval   func(objc.ID, objc.SEL, uint32, objc.ID, objc.ID, *objc.ID) bool                               // -evaluateWithQoS:options:request:error:
	sendQoSErr    func(objc.ID, objc.SEL, uint32, *objc.ID) bool                                                 // -unloadWithQoS:error:

	// Classes.
	NSObject, NSString, NSData, NSNumber, NSArray, NSDictionary, NSError objc.Class
	Descriptor, Model, Request, IOSurfaceObject                          objc.Class
	DeviceInfo                                                           objc.Class // optional

	// Selectors.
	selRetain, selRelease, selDescription, selLocalizedDescription, selUTF8String objc.SEL
	selStringWithUTF8String, selDataWithBytesLength, selNumberWithLongLong        objc.SEL
	selArrayWithObjectsCount, selDictionaryWithObjectsForKeysCount, selDictionary objc.SEL
	selModelWithMILText, selInMemoryModelWithDescriptor, selHexStringIdentifier   objc.SEL
	selCompile, selLoad, selEvaluate, selUnload                                   objc.SEL
	selRequest, selObjectWithIOSurface, selANESubType, selHasANE                  objc.SEL
}

var (
	loadOnce sync.Once
	loaded   *fw
	loadErr  error
)

// load opens the frameworks once per process. Its error wraps
// anert.ErrUnavailable: a Mac without the private framework, one of the
// four classes or one of the selectors used is a machine without an ANE
// as far as anekit is concerned.
func load() (*fw, error) {
	loadOnce.Do(func() {
		loaded, loadErr = doLoad()
		if loadErr != nil {
			loaded = nil
			loadErr = fmt.Errorf("ane: %v: %w", loadErr, anert.ErrUnavailable)
		}
	})
	return loaded, loadErr
}

// bind resolves symbol name in lib and registers it as fptr.
func bind(lib uintptr, libName, name string, fptr any) error {
	sym, err := purego.Dlsym(lib, name)
	if err != nil || sym == 0 {
		return fmt.Errorf("%s: symbol %s not found: %v", libName, name, err)
	}
	purego.RegisterFunc(fptr, sym)
	return nil
}

func doLoad() (*fw, error) {
	f := &fw{}
	open := func(path string) (uintptr, error) {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			return 0, fmt.Errorf("dlopen %s: %v", path, err)
		}
		return h, nil
	}
	lobjc, err := open(libObjC)
	if err != nil {
		return nil, err
	}
	found, err := open(libFoundation)
	if err != nil {
		return nil, err
	}
	cf, err := open(libCoreFoundation)
	if err != nil {
		return nil, err
	}
	ios, err := open(libIOSurface)
	if err != nil {
		return nil, err
	}
	if _, err := open(libANE); err != nil {
		return nil, err
	}

	type fn struct {
		lib       uintptr
		lib0, sym string
		ptr       any
	}
	msgSends := []any{&f.send, &f.sendBool, &f.sendStr, &f.send1, &f.send3, &f.send7, &f.sendCString, &f.sendBytes,
		&f.sendInt64, &f.sendObjs, &f.sendObjsKeys, &f.sendQoSOptErr, &f.sendQoSEval, &f.sendQoSErr}
	fns := []fn{
		{lobjc, "libobjc", "class_respondsToSelector", &f.classRespondsToSelector},
		{lobjc, "libobjc", "object_getClass", &f.objectGetClass},
		{lobjc, "libobjc", "objc_autoreleasePoolPush", &f.poolPush},
		{lobjc, "libobjc", "objc_autoreleasePoolPop", &f.poolPop},
		{found, "Foundation", "NSTemporaryDirectory", &f.nsTemporaryDirectory},
		{cf, "CoreFoundation", "CFRelease", &f.cfRelease},
		{ios, "IOSurface", "IOSurfaceCreate", &f.ioSurfaceCreate},
		{ios, "IOSurface", "IOSurfaceLock", &f.ioSurfaceLock},
		{ios, "IOSurface", "IOSurfaceUnlock", &f.ioSurfaceUnlock},
		{ios, "IOSurface", "IOSurfaceGetBaseAddress", &f.ioSurfaceGetBaseAddress},
		{ios, "IOSurface", "IOSurfaceGetAllocSize", &f.ioSurfaceGetAllocSize},
	}
	for _, p := range msgSends {
		fns = append(fns, fn{lobjc, "libobjc", "objc_msgSend", p})
	}
	for _, x := range fns {
		if err := bind(x.lib, x.lib0, x.sym, x.ptr); err != nil {
			return nil, err
		}
	}

	// The property keys are exported CFStringRef variables: the symbol is
	// the address of the variable holding the string.
	f.surfaceKeys = map[string]objc.ID{}
	for _, p := range SurfaceProps(0) {
		sym, err := purego.Dlsym(ios, p.Key)
		if err != nil || sym == 0 {
			return nil, fmt.Errorf("IOSurface: symbol %s not found: %v", p.Key, err)
		}
		v := **(**objc.ID)(unsafe.Pointer(&sym))
		if v == 0 {
			return nil, fmt.Errorf("IOSurface: %s is NULL", p.Key)
		}
		f.surfaceKeys[p.Key] = v
	}

	classes := []struct {
		name string
		c    *objc.Class
	}{
		{"NSObject", &f.NSObject}, {"NSString", &f.NSString}, {"NSData", &f.NSData},
		{"NSNumber", &f.NSNumber}, {"NSArray", &f.NSArray}, {"NSDictionary", &f.NSDictionary},
		{"NSError", &f.NSError},
		{"_ANEInMemoryModelDescriptor", &f.Descriptor}, {"_ANEInMemoryModel", &f.Model},
		{"_ANERequest", &f.Request}, {"_ANEIOSurfaceObject", &f.IOSurfaceObject},
	}
	names := map[objc.Class]string{}
	for _, c := range classes {
		names[objc.GetClass(c.name)] = c.name
		if *c.c = objc.GetClass(c.name); *c.c == 0 {
			return nil, fmt.Errorf("class %s not found (AppleNeuralEngine.framework changed?)", c.name)
		}
	}
	f.DeviceInfo = objc.GetClass("_ANEDeviceInfo")

	// Every selector is checked here, before any is sent: a message a
	// class does not understand raises an Objective-C exception, which
	// Go cannot catch and which kills the process.
	type check struct {
		sel   *objc.SEL
		name  string
		class objc.Class
		meta  bool // a class method
	}
	checks := []check{
		{&f.selRetain, "retain", f.NSObject, false},
		{&f.selRelease, "release", f.NSObject, false},
		{&f.selDescription, "description", f.NSObject, false},
		{&f.selLocalizedDescription, "localizedDescription", f.NSError, false},
		{&f.selUTF8String, "UTF8String", f.NSString, false},
		{&f.selStringWithUTF8String, "stringWithUTF8String:", f.NSString, true},
		{&f.selDataWithBytesLength, "dataWithBytes:length:", f.NSData, true},
		{&f.selNumberWithLongLong, "numberWithLongLong:", f.NSNumber, true},
		{&f.selArrayWithObjectsCount, "arrayWithObjects:count:", f.NSArray, true},
		{&f.selDictionaryWithObjectsForKeysCount, "dictionaryWithObjects:forKeys:count:", f.NSDictionary, true},
		{&f.selDictionary, "dictionary", f.NSDictionary, true},
		{&f.selModelWithMILText, "modelWithMILText:weights:optionsPlist:", f.Descriptor, true},
		{&f.selInMemoryModelWithDescriptor, "inMemoryModelWithDescriptor:", f.Model, true},
		{&f.selHexStringIdentifier, "hexStringIdentifier", f.Model, false},
		{&f.selCompile, "compileWithQoS:options:error:", f.Model, false},
		{&f.selLoad, "loadWithQoS:options:error:", f.Model, false},
		{&f.selEvaluate, "evaluateWithQoS:options:request:error:", f.Model, false},
		{&f.selUnload, "unloadWithQoS:error:", f.Model, false},
		{&f.selRequest, "requestWithInputs:inputIndices:outputs:outputIndices:weightsBuffer:perfStats:procedureIndex:", f.Request, true},
		{&f.selObjectWithIOSurface, "objectWithIOSurface:", f.IOSurfaceObject, true},
	}
	for _, c := range checks {
		*c.sel = objc.RegisterName(c.name)
		cls := c.class
		kind := "-"
		if c.meta {
			cls = f.objectGetClass(objc.ID(cls))
			kind = "+"
		}
		if !f.classRespondsToSelector(cls, *c.sel) {
			return nil, fmt.Errorf("%s does not respond to %s%s (AppleNeuralEngine.framework changed?)", names[c.class], kind, c.name)
		}
	}
	f.selANESubType = objc.RegisterName("aneSubType")

	// Where the framework can say there is no Neural Engine (a virtual
	// machine, for one), believe it rather than fail at the first compile.
	f.selHasANE = objc.RegisterName("hasANE")
	if f.DeviceInfo != 0 && f.classRespondsToSelector(f.objectGetClass(objc.ID(f.DeviceInfo)), f.selHasANE) {
		var has bool
		f.run(func() error { has = f.sendBool(objc.ID(f.DeviceInfo), f.selHasANE); return nil })
		if !has {
			return nil, fmt.Errorf("_ANEDeviceInfo reports no Neural Engine (+hasANE is NO)")
		}
	}
	return f, nil
}

// responds reports whether obj's class implements sel (an instance
// method). Used on objects the framework returns, whose class may be a
// subclass of the one checked at load.
func (f *fw) responds(obj objc.ID, sel objc.SEL) bool {
	return obj != 0 && f.classRespondsToSelector(f.objectGetClass(obj), sel)
}

// str makes an autoreleased NSString.
func (f *fw) str(s string) objc.ID {
	return f.sendCString(objc.ID(f.NSString), f.selStringWithUTF8String, s)
}

// goString returns the UTF-8 text of an NSString (or "" for nil).
func (f *fw) goString(s objc.ID) string {
	if s == 0 || !f.responds(s, f.selUTF8String) {
		return ""
	}
	return f.sendStr(s, f.selUTF8String)
}

// data makes an autoreleased NSData holding a copy of b.
func (f *fw) data(b []byte) objc.ID {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	return f.sendBytes(objc.ID(f.NSData), f.selDataWithBytesLength, p, uint(len(b)))
}

// num makes an autoreleased NSNumber.
func (f *fw) num(v int64) objc.ID {
	return f.sendInt64(objc.ID(f.NSNumber), f.selNumberWithLongLong, v)
}

// array makes an autoreleased NSArray of objs (none may be nil).
func (f *fw) array(objs ...objc.ID) objc.ID {
	var p *objc.ID
	if len(objs) > 0 {
		p = &objs[0]
	}
	return f.sendObjs(objc.ID(f.NSArray), f.selArrayWithObjectsCount, p, uint(len(objs)))
}

// dict makes an autoreleased NSDictionary of keys[i] -> vals[i].
func (f *fw) dict(keys, vals []objc.ID) objc.ID {
	if len(keys) == 0 {
		return f.send(objc.ID(f.NSDictionary), f.selDictionary)
	}
	return f.sendObjsKeys(objc.ID(f.NSDictionary), f.selDictionaryWithObjectsForKeysCount, &vals[0], &keys[0], uint(len(keys)))
}

func (f *fw) retain(o objc.ID) objc.ID {
	if o == 0 {
		return 0
	}
	return f.send(o, f.selRetain)
}

func (f *fw) release(o objc.ID) {
	if o != 0 {
		f.send(o, f.selRelease)
	}
}

// errorText is an NSError's localizedDescription and, when it says more,
// its description (domain, code, userInfo).
func (f *fw) errorText(e objc.ID) string {
	if e == 0 {
		return "the framework returned failure without an NSError"
	}
	var loc string
	if f.responds(e, f.selLocalizedDescription) {
		loc = f.goString(f.send(e, f.selLocalizedDescription))
	}
	var desc string
	if f.responds(e, f.selDescription) {
		desc = f.goString(f.send(e, f.selDescription))
	}
	switch {
	case loc == "":
		return desc
	case desc == "" || desc == loc:
		return loc
	}
	return loc + " (" + desc + ")"
}
