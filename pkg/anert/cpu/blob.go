package cpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/anekit/anekit/internal/f16"
	"github.com/anekit/anekit/pkg/mil"
)

// readBlob decodes the tensor of type t stored in a weight blob file (the
// coremltools MIL blob storage v2 layout, docs/FORMATS.md): the 64-byte
// metadata record at offset (sentinel 0xDEADBEEF, data type, size in bytes,
// data offset), then the data.
func readBlob(file []byte, path string, offset uint64, t mil.Type) ([]float32, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("blob %s at offset %d: %s", path, offset, fmt.Sprintf(format, a...))
	}
	if offset > uint64(len(file)) || uint64(len(file))-offset < 64 {
		return nil, bad("metadata record beyond the end of the %d-byte file", len(file))
	}
	m := file[offset:]
	if s := binary.LittleEndian.Uint32(m[0:]); s != 0xDEADBEEF {
		return nil, bad("sentinel is %#x, want 0xdeadbeef", s)
	}
	dt := binary.LittleEndian.Uint32(m[4:])
	size := binary.LittleEndian.Uint64(m[8:])
	data := binary.LittleEndian.Uint64(m[16:])
	n := t.Elems()
	var want mil.DType
	switch dt {
	case 1:
		want = mil.FP16
	case 2:
		want = mil.FP32
	default:
		return nil, bad("data type %d is not fp16 (1) or fp32 (2)", dt)
	}
	if want != t.DType {
		return nil, bad("holds %s data but the program declares %s", want, t)
	}
	if size != uint64(n*want.Size()) {
		return nil, bad("size field is %d bytes, %s needs %d", size, t, n*want.Size())
	}
	if data > uint64(len(file)) || uint64(len(file))-data < size {
		return nil, bad("data [%d, +%d) beyond the end of the %d-byte file", data, size, len(file))
	}
	raw := file[data : data+size]
	out := make([]float32, n)
	if want == mil.FP16 {
		h := make([]uint16, n)
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
