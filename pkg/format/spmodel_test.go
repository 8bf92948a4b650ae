package format

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anekit/anekit/internal/sharedtest"
)

func sampleSPModel() *SPModel {
	m := &SPModel{Trainer: DefaultSPTrainerSpec(), Normalizer: DefaultSPNormalizerSpec()}
	m.Trainer.ModelType = SPBPE
	m.Trainer.ByteFallback = true
	m.Trainer.PadID = -1
	m.Normalizer.Name = "identity"
	m.Normalizer.RemoveExtraWhitespaces = false
	m.Pieces = []SPPiece{
		{"<unk>", 0, SPUnknown}, {"<s>", 0, SPControl}, {"</s>", 0, SPControl},
		{"<0x0A>", 0, SPByte}, {"▁", -1, SPNormal}, {"a", -2, SPNormal}, {"▁a", -3, SPNormal},
		{"<u>", 0, SPUserDefined}, {"zz", -4, SPUnused},
	}
	m.Trainer.VocabSize = int32(len(m.Pieces))
	return m
}

func TestSPModelRoundTrip(t *testing.T) {
	want := sampleSPModel()
	want.HasDenormalizer = true
	want.Denormalizer = DefaultSPNormalizerSpec()
	want.Denormalizer.Name = "d"
	data, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSPModel(data, "x.model")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// TestSPModelDefaults checks that absent fields take the proto defaults,
// and that unknown fields of every wire type are skipped.
func TestSPModelDefaults(t *testing.T) {
	var b []byte
	piece := appendLenField(nil, 1, []byte("x"))
	b = appendLenField(b, 1, piece)
	b = appendVarintField(b, 99, 5)                               // unknown varint
	b = append(appendTag(b, 98, wireI64), 1, 2, 3, 4, 5, 6, 7, 8) // unknown i64
	b = append(appendTag(b, 97, wireI32), 1, 2, 3, 4)             // unknown i32
	b = appendLenField(b, 4, []byte{0x0a, 0x00})                  // self_test_data
	m, err := ParseSPModel(b, "d.model")
	if err != nil {
		t.Fatal(err)
	}
	if m.Pieces[0] != (SPPiece{"x", 0, SPNormal}) {
		t.Errorf("piece = %+v", m.Pieces[0])
	}
	if m.Trainer != DefaultSPTrainerSpec() || !reflect.DeepEqual(m.Normalizer, DefaultSPNormalizerSpec()) {
		t.Errorf("defaults: %+v %+v", m.Trainer, m.Normalizer)
	}
}

func TestSPModelErrors(t *testing.T) {
	piece := func(fields ...[]byte) []byte {
		return appendLenField(nil, 1, bytes.Join(fields, nil))
	}
	name := appendLenField(nil, 1, []byte("a"))
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no pieces"},
		{"bad key", []byte{0x80}, "bad field key varint"},
		{"field 0", []byte{0x02, 0x00}, "field number 0"},
		{"group", []byte{0x0b}, "unsupported wire type sgroup"},
		{"length past end", []byte{0x0a, 0x05, 0x0a}, "runs past the end"},
		{"pieces as varint", []byte{0x08, 0x01}, "field ModelProto.pieces[0] (number 1): wire type varint, want len"},
		{"empty piece", piece(), "ModelProto.pieces[0].piece: empty"},
		{"bad utf8", piece(appendLenField(nil, 1, []byte{0xff})), "pieces[0].piece: not valid UTF-8"},
		{"bad type", piece(name, appendVarintField(nil, 3, 9)), "pieces[0].type = 9"},
		{"nan score", piece(name, append(appendTag(nil, 2, wireI32), 0, 0, 0xc0, 0x7f)), "pieces[0].score = NaN"},
		{"score as varint", piece(name, appendVarintField(nil, 2, 1)), "pieces[0].score (number 2): wire type varint, want i32"},
		{"truncated i32", piece(name, append(appendTag(nil, 2, wireI32), 0)), "truncated 4-byte value"},
		{"trainer varint", appendVarintField(piece(name), 2, 1), "ModelProto.trainer_spec"},
		{"byte_fallback as len", appendLenField(piece(name), 2, appendLenField(nil, 35, nil)), "trainer_spec.byte_fallback"},
		{"normalizer bad", appendLenField(piece(name), 3, []byte{0x18}), "normalizer_spec: field 3: bad varint"},
	} {
		_, err := ParseSPModel(c.data, "t.model")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "t.model: sentencepiece model: ") {
			t.Errorf("%s: error %v, want one naming t.model and containing %q", c.name, err, c.want)
		}
	}
}

func TestSPModelShared(t *testing.T) {
	m, err := ReadSPModelFile(filepath.Join(sharedtest.Dir(t), "data", "llama2-tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Pieces) != 32000 || m.Trainer.ModelType != SPBPE || !m.Trainer.ByteFallback ||
		m.Normalizer.Name != "identity" || m.Normalizer.RemoveExtraWhitespaces || !m.Normalizer.AddDummyPrefix {
		t.Fatalf("unexpected Llama 2 model: %d pieces, %+v, %+v", len(m.Pieces), m.Trainer, m.Normalizer)
	}
	if m.Pieces[1] != (SPPiece{"<s>", 0, SPControl}) || m.Pieces[3] != (SPPiece{"<0x00>", 0, SPByte}) || m.Pieces[260] != (SPPiece{"▁t", -1, SPNormal}) {
		t.Errorf("pieces 1, 3, 260: %+v %+v %+v", m.Pieces[1], m.Pieces[3], m.Pieces[260])
	}
}

func FuzzSentencePieceModel(f *testing.F) {
	good, err := sampleSPModel().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSPModel(data, "fuzz.model")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.model: sentencepiece model: ") {
				t.Fatalf("error does not name the file and format: %v", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a parsed model: %v", err)
		}
		m2, err := ParseSPModel(out, "again")
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("parse(marshal(m)) != m:\n%+v\n%+v", m, m2)
		}
	})
}
