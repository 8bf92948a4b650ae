package format

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tinyLlama2 is a small random model in the llama2.c layout.
func tinyLlama2(shared bool, seed int64) *Llama2Model {
	h := Llama2Header{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 10, SeqLen: 6,
		SharedClassifier: shared}
	m := &Llama2Model{Llama2Header: h}
	rng := rand.New(rand.NewSource(seed))
	for _, s := range m.sections() {
		if s.dst == nil {
			continue
		}
		x := make([]float32, s.n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		*s.dst = x
	}
	return m
}

func encode(t testing.TB, m *Llama2Model) []byte {
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLlama2RoundTrip(t *testing.T) {
	for _, shared := range []bool{true, false} {
		m := tinyLlama2(shared, 1)
		data := encode(t, m)
		if int64(len(data)) != m.Size() {
			t.Errorf("shared=%v: encoded %d bytes, Size says %d", shared, len(data), m.Size())
		}
		got, err := DecodeLlama2Model(bytes.NewReader(data), int64(len(data)), "tiny.bin")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("shared=%v: round trip differs", shared)
		}
		// Byte-exact: re-encoding the decoded model gives the same file.
		if !bytes.Equal(encode(t, got), data) {
			t.Errorf("shared=%v: re-encoding differs", shared)
		}
	}
	// Through a file, atomically written.
	m := tinyLlama2(false, 2)
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := WriteLlama2Model(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLlama2Model(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Error("file round trip differs")
	}
}

func TestLlama2Errors(t *testing.T) {
	good := encode(t, tinyLlama2(false, 3))
	hdr := func(field int, v int32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[4*field:], uint32(v))
		return b
	}
	nan := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(nan[Llama2HeaderSize+4*8*10+4*3:], 0x7fc00000) // rms_att[3]
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 28-byte header"},
		{"short header", good[:20], "shorter than the 28-byte header"},
		{"truncated in wq", good[:Llama2HeaderSize+4*(80+16)+100], "truncated in wq"},
		{"truncated in wcls", good[:len(good)-4], "truncated in wcls"},
		{"trailing", append(append([]byte(nil), good...), 1, 2, 3), "3 bytes of trailing garbage after the last array (wcls)"},
		{"zero dim", hdr(0, 0), "header field dim = 0"},
		{"negative layers", hdr(2, -1), "header field n_layers = -1"},
		{"kv not dividing", hdr(4, 3), "n_kv_heads = 3 does not divide n_heads = 4"},
		{"kv more", hdr(4, 8), "n_kv_heads = 8 does not divide n_heads = 4"},
		{"dim vs heads", hdr(3, 6), "dim = 8 is not divisible by n_heads = 6"},
		{"odd head", hdr(3, 8), "odd head size 1"},
		{"huge", hdr(1, 1<<30), "truncated in w1"},
		{"flipped sign", hdr(5, 10), "trailing garbage after the last array (freq_cis_imag)"},
		{"nan", nan, "rms_att[3] is NaN"},
	} {
		_, err := DecodeLlama2Model(bytes.NewReader(tc.data), int64(len(tc.data)), "m.bin")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "m.bin: ") {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadLlama2Model(filepath.Join(t.TempDir(), "absent.bin")); err == nil {
		t.Error("absent file: no error")
	}
}

func FuzzLlama2Model(f *testing.F) {
	f.Add(encode(f, tinyLlama2(true, 4)))
	f.Add(encode(f, tinyLlama2(false, 5)))
	f.Add(encode(f, tinyLlama2(false, 5))[:100])
	f.Add([]byte{})
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "data", "stories260K.bin")); err == nil {
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeLlama2Model(bytes.NewReader(data), int64(len(data)), "fuzz.bin")
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		m2, err := DecodeLlama2Model(bytes.NewReader(b.Bytes()), int64(b.Len()), "again.bin")
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoded model differs: %v", err)
		}
	})
}
