// Package ane is anekit's Apple Neural Engine backend for package anert.
// On darwin/arm64 importing it registers the backend "ane":
//
//	import _ "github.com/anekit/anekit/pkg/anert/ane"
//
// It drives Apple's private AppleNeuralEngine.framework through purego
// (no cgo): a kernel's MIL text and weight blobs become an in-memory model
// that is compiled and loaded once; each binding is an _ANERequest over two
// IOSurfaces (one input, one output) whose memory is the binding's
// anert.Surface; Eval is one synchronous evaluateWithQoS call. docs/ANE.md
// describes the call sequence, the threading and what has and has not been
// verified on hardware.
//
// On every other platform the package registers nothing, and anert.Open
// ("ane") returns an error wrapping anert.ErrUnavailable; "auto" falls back
// to the CPU backend.
//
// The parts that do not touch the framework are plain Go, built and tested
// everywhere: the compile plan (MIL text, the weight dictionary, surface
// sizes, IOSurface properties, request indices; NewPlan), the per-process
// compile budget (Budget), the dump written when a compile fails
// (DumpFailure).
package ane
