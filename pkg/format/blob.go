package format

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ANE weight blobs: the MIL blob storage format, version 2, of Core ML
// (coremltools mlmodel/src/MILBlob/Blob/StorageFormat.hpp), in which a
// MIL const names its data as BLOBFILE(path, offset). docs/formats/blob.md
// gives the bytes:
//
//	file header, 64 bytes:   u32 count, u32 version (2), 56 zero bytes
//	per blob, at a 64-byte aligned offset M:
//	  metadata, 64 bytes:    u32 sentinel 0xDEADBEEF, u32 dtype, u64 size in bytes,
//	                         u64 absolute data offset D, u64 padding bits (0), 32 zero bytes
//	  data at D (64-byte aligned, D = M + 64 when written here), size bytes
//
// All integers are little-endian. A BLOBFILE offset is M, the offset of
// the metadata, not of the data.

// Sizes and magic numbers of the blob format.
const (
	BlobHeaderSize   = 64
	BlobMetadataSize = 64
	BlobAlignment    = 64
	BlobVersion      = 2
	BlobSentinel     = 0xDEADBEEF
)

// BlobDType is the element type code of a blob (coremltools BlobDataType).
type BlobDType uint32

// The element types anekit writes and reads (codes from coremltools).
const (
	BlobFP16  BlobDType = 1
	BlobFP32  BlobDType = 2
	BlobUInt8 BlobDType = 3
	BlobInt8  BlobDType = 4
	BlobBF16  BlobDType = 5
	BlobInt16 BlobDType = 6
	BlobU16   BlobDType = 7
	BlobInt32 BlobDType = 14
	BlobU32   BlobDType = 15
)

// Size is the size of one element in bytes, or 0 for codes anekit does not
// read (sub-byte and fp8 types).
func (d BlobDType) Size() int {
	switch d {
	case BlobUInt8, BlobInt8:
		return 1
	case BlobFP16, BlobBF16, BlobInt16, BlobU16:
		return 2
	case BlobFP32, BlobInt32, BlobU32:
		return 4
	}
	return 0
}

func (d BlobDType) String() string {
	switch d {
	case BlobFP16:
		return "fp16"
	case BlobFP32:
		return "fp32"
	case BlobUInt8:
		return "uint8"
	case BlobInt8:
		return "int8"
	case BlobBF16:
		return "bf16"
	case BlobInt16:
		return "int16"
	case BlobU16:
		return "uint16"
	case BlobInt32:
		return "int32"
	case BlobU32:
		return "uint32"
	}
	return fmt.Sprintf("dtype(%d)", uint32(d))
}

// Blob is one tensor's raw little-endian data and element type.
type Blob struct {
	DType BlobDType
	Data  []byte
}

// MarshalBlobs returns a blob file holding blobs in order, and for each the
// offset of its metadata (the BLOBFILE offset): 64 for the first.
func MarshalBlobs(blobs []Blob) ([]byte, []uint64, error) {
	size := BlobHeaderSize
	offs := make([]uint64, len(blobs))
	for i, b := range blobs {
		if b.DType.Size() == 0 {
			return nil, nil, fmt.Errorf("blob %d: unsupported dtype %s", i, b.DType)
		}
		if len(b.Data)%b.DType.Size() != 0 {
			return nil, nil, fmt.Errorf("blob %d: %d bytes is not a whole number of %s elements", i, len(b.Data), b.DType)
		}
		offs[i] = uint64(size)
		size = alignUp(size + BlobMetadataSize + len(b.Data))
	}
	out := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(out[0:], uint32(len(blobs)))
	le.PutUint32(out[4:], BlobVersion)
	for i, b := range blobs {
		m := out[offs[i]:]
		le.PutUint32(m[0:], BlobSentinel)
		le.PutUint32(m[4:], uint32(b.DType))
		le.PutUint64(m[8:], uint64(len(b.Data)))
		le.PutUint64(m[16:], offs[i]+BlobMetadataSize)
		copy(m[BlobMetadataSize:], b.Data)
	}
	return out, offs, nil
}

// WriteBlobs writes MarshalBlobs(blobs) to w and returns the offsets.
func WriteBlobs(w io.Writer, blobs []Blob) ([]uint64, error) {
	data, offs, err := MarshalBlobs(blobs)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	return offs, nil
}

func alignUp(n int) int { return (n + BlobAlignment - 1) / BlobAlignment * BlobAlignment }

// BlobFile is a blob file held in memory.
type BlobFile struct {
	Name    string // for errors
	Count   uint32 // as written; the research code writes 1 even for files of many blobs
	Version uint32
	data    []byte
}

// ParseBlobFile checks the header of data, the contents of the blob file
// called name (used in errors).
func ParseBlobFile(name string, data []byte) (*BlobFile, error) {
	if len(data) < BlobHeaderSize {
		return nil, fmt.Errorf("%s: blob file header: %d bytes, want at least %d", name, len(data), BlobHeaderSize)
	}
	f := &BlobFile{
		Name:    name,
		Count:   binary.LittleEndian.Uint32(data[0:]),
		Version: binary.LittleEndian.Uint32(data[4:]),
		data:    data,
	}
	if f.Version != BlobVersion {
		return nil, fmt.Errorf("%s: blob file header: version %d, want %d", name, f.Version, BlobVersion)
	}
	return f, nil
}

// BlobInfo is a parsed metadata record.
type BlobInfo struct {
	Offset     uint64 // of the metadata record
	DType      BlobDType
	Size       uint64 // data bytes
	DataOffset uint64 // absolute
}

// Info reads and checks the metadata record at offset: in bounds, sentinel,
// a known dtype, no sub-byte padding, data 64-byte aligned, after the
// record and inside the file, a whole number of elements.
func (f *BlobFile) Info(offset uint64) (BlobInfo, error) {
	n := uint64(len(f.data))
	bad := func(field, format string, a ...any) (BlobInfo, error) {
		return BlobInfo{}, fmt.Errorf("%s: blob at offset %d: %s: %s", f.Name, offset, field, fmt.Sprintf(format, a...))
	}
	if offset < BlobHeaderSize || offset > n || n-offset < BlobMetadataSize {
		return bad("offset", "metadata record outside the file (%d bytes; header is %d)", n, BlobHeaderSize)
	}
	m := f.data[offset:]
	le := binary.LittleEndian
	in := BlobInfo{Offset: offset, DType: BlobDType(le.Uint32(m[4:])), Size: le.Uint64(m[8:]), DataOffset: le.Uint64(m[16:])}
	if s := le.Uint32(m[0:]); s != BlobSentinel {
		return bad("sentinel", "%#08x, want %#08x", s, uint32(BlobSentinel))
	}
	if in.DType.Size() == 0 {
		return bad("dtype", "unknown or unsupported code %d", uint32(in.DType))
	}
	if p := le.Uint64(m[24:]); p != 0 {
		return bad("padding_size_in_bits", "%d, want 0 for %s", p, in.DType)
	}
	if in.DataOffset%BlobAlignment != 0 || in.DataOffset < offset+BlobMetadataSize {
		return bad("data offset", "%d is not 64-byte aligned after the record", in.DataOffset)
	}
	if in.DataOffset > n || in.Size > n-in.DataOffset {
		return bad("size", "%d bytes at %d run past the end of the file (%d bytes)", in.Size, in.DataOffset, n)
	}
	if in.Size%uint64(in.DType.Size()) != 0 {
		return bad("size", "%d bytes is not a whole number of %s elements", in.Size, in.DType)
	}
	return in, nil
}

// Read returns the data of the blob whose metadata is at offset, checking
// it holds exactly elems elements of type dtype (the type the MIL program
// declares). The slice aliases the file's bytes.
func (f *BlobFile) Read(offset uint64, dtype BlobDType, elems int) ([]byte, error) {
	in, err := f.Info(offset)
	if err != nil {
		return nil, err
	}
	if in.DType != dtype {
		return nil, fmt.Errorf("%s: blob at offset %d: dtype: %s, but the program declares %s", f.Name, offset, in.DType, dtype)
	}
	if elems < 0 || in.Size != uint64(elems)*uint64(dtype.Size()) {
		return nil, fmt.Errorf("%s: blob at offset %d: size: %d bytes, but the program declares %d %s elements (%d bytes)",
			f.Name, offset, in.Size, elems, dtype, elems*dtype.Size())
	}
	return f.data[in.DataOffset : in.DataOffset+in.Size], nil
}
