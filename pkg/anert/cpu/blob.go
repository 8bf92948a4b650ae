package cpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/format"
	"github.com/anekit/anekit/pkg/mil"
)

// readBlob decodes the fp16 or fp32 tensor of type t whose metadata record
// is at offset in the weight blob file (package format checks the file).
func readBlob(file []byte, path string, offset uint64, t mil.Type) ([]float32, error) {
	bf, err := format.ParseBlobFile(path, file)
	if err != nil {
		return nil, err
	}
	dt := format.BlobFP16
	if t.DType == mil.FP32 {
		dt = format.BlobFP32
	} else if t.DType != mil.FP16 {
		return nil, fmt.Errorf("%s: blob at offset %d: the cpu backend reads fp16 and fp32 blobs, not %s", path, offset, t.DType)
	}
	raw, err := bf.Read(offset, dt, t.Elems())
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Elems())
	if dt == format.BlobFP16 {
		h := make([]uint16, len(out))
		for i := range h {
			h[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		f16.Decode(out, h)
		return out, nil
	}
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}
