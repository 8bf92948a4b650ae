package ane

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/anekit/anekit/pkg/anert"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

// Plan is everything the framework is handed for one kernel, computed
// without touching it: the MIL text, the weight files, and the sizes of the
// request's two surfaces.
type Plan struct {
	// MIL is the program text, mil.Print of the program compiled.
	MIL []byte
	// Weights are the blob files the program's BLOBFILE constants name,
	// one entry per file, sorted by Key. They become the descriptor's
	// weights dictionary {Key: {"offset": @0, "data": NSData(Data)}} and
	// the files Rel under the model's temporary directory.
	Weights []Weight
	// In and Out are the [1, C, 1, S] shapes of the input and the output.
	In, Out [4]int
	// InBytes and OutBytes are the byte sizes of the two IOSurfaces:
	// C*S*2 rounded up to a multiple of SurfaceAlign.
	InBytes, OutBytes int
	// Request is the index plan of the _ANERequest.
	Request RequestPlan
}

// Weight is one blob file of a program.
type Weight struct {
	Key  string // the path as the program names it: "@model_path/weights/mask.bin"
	Rel  string // Key without "@model_path/": "weights/mask.bin" (slash-separated, local)
	Data []byte // the whole file, in the blob format of package format
}

// RequestPlan is what requestWithInputs:inputIndices:outputs:outputIndices:
// weightsBuffer:perfStats:procedureIndex: receives besides the surfaces:
// one input at index 0, one output at index 0, no weights buffer, no
// performance statistics, procedure 0.
type RequestPlan struct {
	InputIndices   []int
	OutputIndices  []int
	ProcedureIndex int
}

// SurfaceAlign is the byte alignment of every IOSurface size (and of its
// base address, which the IOSurface allocator page-aligns): 128 bytes,
// required on recent chips.
const SurfaceAlign = anert.SurfaceAlign

// QoS is the quality-of-service value passed to compile, load, evaluate and
// unload (21, QOS_CLASS_DEFAULT's 0x15, as the research code uses).
const QoS = 21

// SurfaceBytes is the size of the IOSurface holding an fp16 [1, c, 1, s]
// tensor: c*s*2 bytes rounded up to a multiple of SurfaceAlign.
func SurfaceBytes(c, s int) int {
	n := c * s * 2
	return (n + SurfaceAlign - 1) / SurfaceAlign * SurfaceAlign
}

// SurfaceProp is one entry of the property dictionary given to
// IOSurfaceCreate: Key names the IOSurface framework's exported CFString
// constant (for example "kIOSurfaceWidth").
type SurfaceProp struct {
	Key   string
	Value int64
}

// SurfaceProps returns the six properties of a flat byte buffer of the
// given size: width = bytes, height 1, one byte per element, bytes per row
// = bytes, allocation size = bytes, pixel format 0.
func SurfaceProps(bytes int) []SurfaceProp {
	b := int64(bytes)
	return []SurfaceProp{
		{"kIOSurfaceWidth", b},
		{"kIOSurfaceHeight", 1},
		{"kIOSurfaceBytesPerElement", 1},
		{"kIOSurfaceBytesPerRow", b},
		{"kIOSurfaceAllocSize", b},
		{"kIOSurfacePixelFormat", 0},
	}
}

// UncheckedEnv is the environment variable that, set to 1, makes the
// backend compile programs that break the Neural Engine rules of
// mil.Validate: for probing the hardware (is a rule real?), never for
// training, since some broken rules give wrong results without an error.
const UncheckedEnv = "ANEKIT_ANE_UNCHECKED"

// NewPlan checks that p has the shape the backend runs (a function "main"
// with one fp16 [1, C, 1, S] input and one fp16 [1, C, 1, S] output, well
// typed) and, when validate is set, that it keeps every rule of
// mil.Validate; and gathers its blob files through blobs, checking that
// every BLOBFILE constant's record is in its file with the declared type
// and size. blobs may be nil when p has no BLOBFILE constants.
func NewPlan(p *mil.Program, blobs anert.BlobSource, validate bool) (*Plan, error) {
	if p == nil {
		return nil, fmt.Errorf("ane: nil program")
	}
	f := p.Main()
	if f == nil {
		return nil, fmt.Errorf("ane: program has no function main")
	}
	if len(f.Inputs) != 1 {
		return nil, fmt.Errorf("ane: function main has %d inputs, want exactly one (multi-input requests fail on the ANE; pack inputs along the spatial axis)", len(f.Inputs))
	}
	if len(f.Outputs) != 1 {
		return nil, fmt.Errorf("ane: function main has %d outputs, want exactly one (concatenate results along channels)", len(f.Outputs))
	}
	sc, err := mil.NewScope(f)
	if err != nil {
		return nil, fmt.Errorf("ane: %w", err)
	}
	if validate {
		if vs := mil.Validate(p); len(vs) > 0 {
			msg := make([]string, len(vs))
			for i, v := range vs {
				msg[i] = v.String()
			}
			return nil, fmt.Errorf("ane: the program breaks %d Neural Engine rule(s) (mil.Validate; %s=1 compiles it anyway): %s",
				len(vs), UncheckedEnv, strings.Join(msg, "; "))
		}
	}
	pl := &Plan{MIL: mil.Print(p), Request: RequestPlan{InputIndices: []int{0}, OutputIndices: []int{0}}}
	if pl.In, err = boundary("input "+f.Inputs[0].Name, f.Inputs[0].Type); err != nil {
		return nil, err
	}
	ot, _ := sc.Type(f.Outputs[0])
	if pl.Out, err = boundary("output "+f.Outputs[0], ot); err != nil {
		return nil, err
	}
	pl.InBytes = SurfaceBytes(pl.In[1], pl.In[3])
	pl.OutBytes = SurfaceBytes(pl.Out[1], pl.Out[3])

	files := map[string]*format.BlobFile{}
	for _, fn := range p.Funcs {
		for _, op := range fn.Ops {
			if op.Kind != "const" || op.Val == nil || op.Val.Blob == nil {
				continue
			}
			ref := op.Val.Blob
			bf, ok := files[ref.Path]
			if !ok {
				rel, ok := strings.CutPrefix(ref.Path, anert.ModelPath)
				if !ok || !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
					return nil, fmt.Errorf("ane: const %s: blob path %q: want %q followed by a clean relative path", op.Result, ref.Path, anert.ModelPath)
				}
				if blobs == nil {
					return nil, fmt.Errorf("ane: const %s names blob %q but no blob source was given", op.Result, ref.Path)
				}
				data, err := blobs(ref.Path)
				if err != nil {
					return nil, fmt.Errorf("ane: const %s: %w", op.Result, err)
				}
				if bf, err = format.ParseBlobFile(ref.Path, data); err != nil {
					return nil, fmt.Errorf("ane: const %s: %w", op.Result, err)
				}
				files[ref.Path] = bf
				pl.Weights = append(pl.Weights, Weight{Key: ref.Path, Rel: rel, Data: data})
			}
			var dt format.BlobDType
			switch op.Val.Type.DType {
			case mil.FP16:
				dt = format.BlobFP16
			case mil.FP32:
				dt = format.BlobFP32
			default:
				return nil, fmt.Errorf("ane: const %s: blob of type %s: want fp16 or fp32", op.Result, op.Val.Type)
			}
			if _, err := bf.Read(ref.Offset, dt, op.Val.Type.Elems()); err != nil {
				return nil, fmt.Errorf("ane: const %s: %w", op.Result, err)
			}
		}
	}
	sort.Slice(pl.Weights, func(i, j int) bool { return pl.Weights[i].Key < pl.Weights[j].Key })
	return pl, nil
}

// boundary checks that t is an fp16 [1, C, 1, S] tensor and returns its shape.
func boundary(what string, t mil.Type) ([4]int, error) {
	if t.DType != mil.FP16 || !t.Tensor || len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[2] != 1 || t.Shape[1] < 1 || t.Shape[3] < 1 {
		return [4]int{}, fmt.Errorf("ane: %s is %s, want tensor<fp16, [1, C, 1, S]>", what, t)
	}
	return [4]int{1, t.Shape[1], 1, t.Shape[3]}, nil
}
