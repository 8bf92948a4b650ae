package format

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unicode/utf8"
)

// SentencePiece model files (tokenizer.model) are protocol buffers of the
// message sentencepiece.ModelProto (sentencepiece_model.proto, proto2). This
// file reads and writes the subset anekit uses by hand, from the wire format
// (https://protobuf.dev/programming-guides/encoding/), without a protobuf
// dependency. Fields this reader does not know are skipped, as protobuf
// readers do.
//
//	ModelProto
//	  1 repeated SentencePiece pieces
//	      1 string piece   2 float score   3 enum Type type (default NORMAL)
//	  2 TrainerSpec trainer_spec
//	  3 NormalizerSpec normalizer_spec
//	  4 SelfTestData self_test_data (skipped)
//	  5 NormalizerSpec denormalizer_spec

// SPPieceType is ModelProto.SentencePiece.Type.
type SPPieceType int32

// The piece types of sentencepiece_model.proto.
const (
	SPNormal      SPPieceType = 1 // a piece the BPE merges produce
	SPUnknown     SPPieceType = 2 // <unk>
	SPControl     SPPieceType = 3 // <s>, </s>: never produced from text
	SPUserDefined SPPieceType = 4 // matched whole in the text, never merged
	SPUnused      SPPieceType = 5 // merged, then split back
	SPByte        SPPieceType = 6 // <0xXX>: byte fallback
)

func (t SPPieceType) String() string {
	switch t {
	case SPNormal:
		return "NORMAL"
	case SPUnknown:
		return "UNKNOWN"
	case SPControl:
		return "CONTROL"
	case SPUserDefined:
		return "USER_DEFINED"
	case SPUnused:
		return "UNUSED"
	case SPByte:
		return "BYTE"
	}
	return fmt.Sprintf("SPPieceType(%d)", int32(t))
}

// SPPiece is one ModelProto.SentencePiece.
type SPPiece struct {
	Piece string
	Score float32
	Type  SPPieceType
}

// SPModelType is TrainerSpec.ModelType.
type SPModelType int32

// The model types of sentencepiece_model.proto.
const (
	SPUnigram SPModelType = 1
	SPBPE     SPModelType = 2
	SPWord    SPModelType = 3
	SPChar    SPModelType = 4
)

// SPTrainerSpec holds the TrainerSpec fields that matter for encoding and
// decoding. Fields absent from the file hold the proto's default values.
type SPTrainerSpec struct {
	ModelType               SPModelType // field 3, default UNIGRAM
	VocabSize               int32       // field 4, default 8000
	TreatWhitespaceAsSuffix bool        // field 24
	SplitDigits             bool        // field 25
	ByteFallback            bool        // field 35
	UnkID                   int32       // field 40, default 0
	BosID                   int32       // field 41, default 1
	EosID                   int32       // field 42, default 2
	PadID                   int32       // field 43, default -1
	UnkSurface              string      // field 44, default " \u2047 "
	UnkPiece                string      // field 45, default "<unk>"
	BosPiece                string      // field 46, default "<s>"
	EosPiece                string      // field 47, default "</s>"
	PadPiece                string      // field 48, default "<pad>"
}

// SPNormalizerSpec is NormalizerSpec.
type SPNormalizerSpec struct {
	Name                   string // field 1
	PrecompiledCharsmap    []byte // field 2
	AddDummyPrefix         bool   // field 3, default true
	RemoveExtraWhitespaces bool   // field 4, default true
	EscapeWhitespaces      bool   // field 5, default true
	NormalizationRuleTSV   string // field 6
}

// SPModel is the part of a sentencepiece ModelProto that anekit reads.
type SPModel struct {
	Pieces          []SPPiece
	Trainer         SPTrainerSpec
	Normalizer      SPNormalizerSpec
	HasDenormalizer bool // denormalizer_spec present
	Denormalizer    SPNormalizerSpec
}

// MaxSPModelPieces bounds the number of pieces ParseSPModel accepts.
const MaxSPModelPieces = 1 << 24

// DefaultSPTrainerSpec returns the TrainerSpec defaults of
// sentencepiece_model.proto.
func DefaultSPTrainerSpec() SPTrainerSpec {
	return SPTrainerSpec{
		ModelType: SPUnigram, VocabSize: 8000,
		UnkID: 0, BosID: 1, EosID: 2, PadID: -1,
		UnkSurface: " \u2047 ", UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
	}
}

// DefaultSPNormalizerSpec returns the NormalizerSpec defaults.
func DefaultSPNormalizerSpec() SPNormalizerSpec {
	return SPNormalizerSpec{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}
}

// ReadSPModelFile reads and parses the tokenizer.model at path.
func ReadSPModelFile(path string) (*SPModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSPModel(data, path)
}

// ReadSPModel reads a whole tokenizer.model from r; name is used in errors.
func ReadSPModel(r io.Reader, name string) (*SPModel, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ParseSPModel(data, name)
}

// ParseSPModel parses a serialized ModelProto. It checks the wire format
// (varints, lengths, wire types of the known fields), that strings are valid
// UTF-8, that every piece is non-empty with a finite score and a known type,
// and that there is at least one piece. It does not check semantics such as
// duplicate pieces; that is the tokenizer's job. Errors name the file (name)
// and the field.
func ParseSPModel(data []byte, name string) (*SPModel, error) {
	m := &SPModel{
		Trainer:      DefaultSPTrainerSpec(),
		Normalizer:   DefaultSPNormalizerSpec(),
		Denormalizer: DefaultSPNormalizerSpec(),
	}
	err := walkProto(data, "ModelProto", func(f protoField) error {
		switch f.num {
		case 1:
			if len(m.Pieces) >= MaxSPModelPieces {
				return fmt.Errorf("more than %d pieces", MaxSPModelPieces)
			}
			p, err := parseSPPiece(f, len(m.Pieces))
			if err != nil {
				return err
			}
			m.Pieces = append(m.Pieces, p)
		case 2:
			if err := f.want(wireLen, "ModelProto.trainer_spec"); err != nil {
				return err
			}
			return parseTrainerSpec(f.bytes, &m.Trainer)
		case 3:
			if err := f.want(wireLen, "ModelProto.normalizer_spec"); err != nil {
				return err
			}
			return parseNormalizerSpec(f.bytes, "normalizer_spec", &m.Normalizer)
		case 5:
			if err := f.want(wireLen, "ModelProto.denormalizer_spec"); err != nil {
				return err
			}
			m.HasDenormalizer = true
			return parseNormalizerSpec(f.bytes, "denormalizer_spec", &m.Denormalizer)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sentencepiece model: %w", name, err)
	}
	if len(m.Pieces) == 0 {
		return nil, fmt.Errorf("%s: sentencepiece model: field ModelProto.pieces: no pieces", name)
	}
	return m, nil
}

func parseSPPiece(f protoField, i int) (SPPiece, error) {
	where := fmt.Sprintf("ModelProto.pieces[%d]", i)
	if err := f.want(wireLen, where); err != nil {
		return SPPiece{}, err
	}
	p := SPPiece{Type: SPNormal}
	err := walkProto(f.bytes, where, func(g protoField) error {
		switch g.num {
		case 1:
			if err := g.want(wireLen, where+".piece"); err != nil {
				return err
			}
			if !utf8.Valid(g.bytes) {
				return fmt.Errorf("field %s.piece: not valid UTF-8", where)
			}
			p.Piece = string(g.bytes)
		case 2:
			if err := g.want(wireI32, where+".score"); err != nil {
				return err
			}
			p.Score = math.Float32frombits(uint32(g.num64))
		case 3:
			if err := g.want(wireVarint, where+".type"); err != nil {
				return err
			}
			t := SPPieceType(int32(g.num64))
			if t < SPNormal || t > SPByte {
				return fmt.Errorf("field %s.type = %d, want 1..6", where, int64(g.num64))
			}
			p.Type = t
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	if p.Piece == "" {
		return p, fmt.Errorf("field %s.piece: empty", where)
	}
	if s := float64(p.Score); math.IsNaN(s) || math.IsInf(s, 0) {
		return p, fmt.Errorf("field %s.score = %v, want a finite number", where, p.Score)
	}
	return p, nil
}

func parseTrainerSpec(data []byte, t *SPTrainerSpec) error {
	const where = "trainer_spec"
	return walkProto(data, where, func(f protoField) error {
		var dst *int32
		var sdst *string
		var bdst *bool
		var fname string
		switch f.num {
		case 3:
			fname = "model_type"
			if err := f.want(wireVarint, where+"."+fname); err != nil {
				return err
			}
			t.ModelType = SPModelType(int32(f.num64))
			return nil
		case 4:
			dst, fname = &t.VocabSize, "vocab_size"
		case 24:
			bdst, fname = &t.TreatWhitespaceAsSuffix, "treat_whitespace_as_suffix"
		case 25:
			bdst, fname = &t.SplitDigits, "split_digits"
		case 35:
			bdst, fname = &t.ByteFallback, "byte_fallback"
		case 40:
			dst, fname = &t.UnkID, "unk_id"
		case 41:
			dst, fname = &t.BosID, "bos_id"
		case 42:
			dst, fname = &t.EosID, "eos_id"
		case 43:
			dst, fname = &t.PadID, "pad_id"
		case 44:
			sdst, fname = &t.UnkSurface, "unk_surface"
		case 45:
			sdst, fname = &t.UnkPiece, "unk_piece"
		case 46:
			sdst, fname = &t.BosPiece, "bos_piece"
		case 47:
			sdst, fname = &t.EosPiece, "eos_piece"
		case 48:
			sdst, fname = &t.PadPiece, "pad_piece"
		default:
			return nil
		}
		switch {
		case dst != nil:
			if err := f.want(wireVarint, where+"."+fname); err != nil {
				return err
			}
			*dst = int32(f.num64)
		case bdst != nil:
			if err := f.want(wireVarint, where+"."+fname); err != nil {
				return err
			}
			*bdst = f.num64 != 0
		case sdst != nil:
			if err := f.want(wireLen, where+"."+fname); err != nil {
				return err
			}
			if !utf8.Valid(f.bytes) {
				return fmt.Errorf("field %s.%s: not valid UTF-8", where, fname)
			}
			*sdst = string(f.bytes)
		}
		return nil
	})
}

func parseNormalizerSpec(data []byte, where string, n *SPNormalizerSpec) error {
	return walkProto(data, where, func(f protoField) error {
		switch f.num {
		case 1, 6:
			fname := "name"
			if f.num == 6 {
				fname = "normalization_rule_tsv"
			}
			if err := f.want(wireLen, where+"."+fname); err != nil {
				return err
			}
			if !utf8.Valid(f.bytes) {
				return fmt.Errorf("field %s.%s: not valid UTF-8", where, fname)
			}
			if f.num == 1 {
				n.Name = string(f.bytes)
			} else {
				n.NormalizationRuleTSV = string(f.bytes)
			}
		case 2:
			if err := f.want(wireLen, where+".precompiled_charsmap"); err != nil {
				return err
			}
			n.PrecompiledCharsmap = append([]byte(nil), f.bytes...)
		case 3, 4, 5:
			names := [...]string{3: "add_dummy_prefix", 4: "remove_extra_whitespaces", 5: "escape_whitespaces"}
			if err := f.want(wireVarint, where+"."+names[f.num]); err != nil {
				return err
			}
			v := f.num64 != 0
			switch f.num {
			case 3:
				n.AddDummyPrefix = v
			case 4:
				n.RemoveExtraWhitespaces = v
			case 5:
				n.EscapeWhitespaces = v
			}
		}
		return nil
	})
}

// Protobuf wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireSGroup = 3
	wireEGroup = 4
	wireI32    = 5
)

var wireNames = [...]string{"varint", "i64", "len", "sgroup", "egroup", "i32", "6", "7"}

// protoField is one field of a protobuf message on the wire.
type protoField struct {
	num   uint64
	wire  int
	num64 uint64 // value for varint, i32 and i64
	bytes []byte // payload for len
}

func (f protoField) want(wire int, name string) error {
	if f.wire != wire {
		return fmt.Errorf("field %s (number %d): wire type %s, want %s", name, f.num, wireNames[f.wire], wireNames[wire])
	}
	return nil
}

// walkProto calls fn for each field of the message in data, in order.
func walkProto(data []byte, msg string, fn func(protoField) error) error {
	for off := 0; off < len(data); {
		key, n := binary.Uvarint(data[off:])
		if n <= 0 {
			return fmt.Errorf("%s: bad field key varint at offset %d", msg, off)
		}
		off += n
		f := protoField{num: key >> 3, wire: int(key & 7)}
		if f.num == 0 || f.num > 1<<29-1 {
			return fmt.Errorf("%s: field number %d at offset %d out of range", msg, f.num, off-n)
		}
		switch f.wire {
		case wireVarint:
			v, n := binary.Uvarint(data[off:])
			if n <= 0 {
				return fmt.Errorf("%s: field %d: bad varint at offset %d", msg, f.num, off)
			}
			f.num64 = v
			off += n
		case wireI64:
			if len(data)-off < 8 {
				return fmt.Errorf("%s: field %d: truncated 8-byte value at offset %d", msg, f.num, off)
			}
			f.num64 = binary.LittleEndian.Uint64(data[off:])
			off += 8
		case wireI32:
			if len(data)-off < 4 {
				return fmt.Errorf("%s: field %d: truncated 4-byte value at offset %d", msg, f.num, off)
			}
			f.num64 = uint64(binary.LittleEndian.Uint32(data[off:]))
			off += 4
		case wireLen:
			l, n := binary.Uvarint(data[off:])
			if n <= 0 {
				return fmt.Errorf("%s: field %d: bad length varint at offset %d", msg, f.num, off)
			}
			off += n
			if l > uint64(len(data)-off) {
				return fmt.Errorf("%s: field %d: length %d at offset %d runs past the end (%d bytes left)", msg, f.num, l, off-n, len(data)-off)
			}
			f.bytes = data[off : off+int(l)]
			off += int(l)
		default:
			return fmt.Errorf("%s: field %d: unsupported wire type %s at offset %d", msg, f.num, wireNames[f.wire], off-n)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// MarshalBinary serializes m as a ModelProto holding the fields SPModel
// knows. Fields equal to the proto defaults are still written, so the
// output does not depend on which defaults a reader assumes.
func (m *SPModel) MarshalBinary() ([]byte, error) {
	var out []byte
	for i, p := range m.Pieces {
		if p.Piece == "" || !utf8.ValidString(p.Piece) {
			return nil, fmt.Errorf("sentencepiece model: piece %d: empty or not valid UTF-8", i)
		}
		var b []byte
		b = appendLenField(b, 1, []byte(p.Piece))
		b = appendTag(b, 2, wireI32)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.Score))
		b = appendVarintField(b, 3, uint64(p.Type))
		out = appendLenField(out, 1, b)
	}
	t := &m.Trainer
	var b []byte
	b = appendVarintField(b, 3, uint64(t.ModelType))
	b = appendVarintField(b, 4, uint64(int64(t.VocabSize)))
	b = appendVarintField(b, 24, boolU64(t.TreatWhitespaceAsSuffix))
	b = appendVarintField(b, 25, boolU64(t.SplitDigits))
	b = appendVarintField(b, 35, boolU64(t.ByteFallback))
	b = appendVarintField(b, 40, uint64(int64(t.UnkID)))
	b = appendVarintField(b, 41, uint64(int64(t.BosID)))
	b = appendVarintField(b, 42, uint64(int64(t.EosID)))
	b = appendVarintField(b, 43, uint64(int64(t.PadID)))
	b = appendLenField(b, 44, []byte(t.UnkSurface))
	b = appendLenField(b, 45, []byte(t.UnkPiece))
	b = appendLenField(b, 46, []byte(t.BosPiece))
	b = appendLenField(b, 47, []byte(t.EosPiece))
	b = appendLenField(b, 48, []byte(t.PadPiece))
	out = appendLenField(out, 2, b)
	out = appendLenField(out, 3, marshalNormalizer(&m.Normalizer))
	if m.HasDenormalizer {
		out = appendLenField(out, 5, marshalNormalizer(&m.Denormalizer))
	}
	return out, nil
}

func marshalNormalizer(n *SPNormalizerSpec) []byte {
	var b []byte
	b = appendLenField(b, 1, []byte(n.Name))
	if len(n.PrecompiledCharsmap) > 0 {
		b = appendLenField(b, 2, n.PrecompiledCharsmap)
	}
	b = appendVarintField(b, 3, boolU64(n.AddDummyPrefix))
	b = appendVarintField(b, 4, boolU64(n.RemoveExtraWhitespaces))
	b = appendVarintField(b, 5, boolU64(n.EscapeWhitespaces))
	if n.NormalizationRuleTSV != "" {
		b = appendLenField(b, 6, []byte(n.NormalizationRuleTSV))
	}
	return b
}

func boolU64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func appendTag(b []byte, num uint64, wire int) []byte {
	return binary.AppendUvarint(b, num<<3|uint64(wire))
}

func appendVarintField(b []byte, num, v uint64) []byte {
	return binary.AppendUvarint(appendTag(b, num, wireVarint), v)
}

func appendLenField(b []byte, num uint64, p []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, num, wireLen), uint64(len(p)))
	return append(b, p...)
}
