package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func randomIDs(n, vocab int, seed uint64) []uint32 {
	r := rand.New(rand.NewPCG(seed, 1))
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(r.IntN(vocab))
	}
	return ids
}

// writeShard writes ids in uneven pieces.
func writeShard(t testing.TB, w io.Writer, o ShardOptions, ids []uint32) *ShardWriter {
	t.Helper()
	sw, err := NewShardWriter(w, o)
	if err != nil {
		t.Fatal(err)
	}
	for rest, k := ids, 1; len(rest) > 0; k = k*3 + 1 {
		n := min(k%5000, len(rest))
		if err := sw.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return sw
}

// pipeWriter hides the Seek method of its writer, like a pipe.
type pipeWriter struct{ io.Writer }

func TestShardRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, vocab := range []int{258, 32000, 65536, 65537, 200019} {
		for _, z := range []bool{false, true} {
			for _, n := range []int{0, 1, 1000, 70001} {
				ids := randomIDs(n, vocab, uint64(vocab+n))
				o := ShardOptions{Vocab: vocab, Identity: "test:x:0123456789abcdef", Zstd: z, FrameTokens: 4096}
				// Seekable file: the count is patched.
				path := filepath.Join(dir, "s.bin")
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				writeShard(t, f, o, ids)
				f.Close()
				// Pipe: the count stays "until EOF".
				var pipe bytes.Buffer
				writeShard(t, pipeWriter{&pipe}, o, ids)
				fileBytes, _ := os.ReadFile(path)
				if got := binary.LittleEndian.Uint64(fileBytes[16:]); got != uint64(n) {
					t.Fatalf("patched count %d, want %d", got, n)
				}
				if got := binary.LittleEndian.Uint64(pipe.Bytes()[16:]); got != CountUntilEOF {
					t.Fatalf("streamed count %#x, want until-EOF", got)
				}
				if !bytes.Equal(fileBytes[24:], pipe.Bytes()[24:]) {
					t.Fatal("file and pipe shards differ beyond the count")
				}
				s, err := OpenShard(path)
				if err != nil {
					t.Fatal(err)
				}
				sp, err := ParseShard(pipe.Bytes(), "pipe")
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []*Shard{s, sp} {
					h := s.Header
					if h.Width != WidthFor(vocab) || h.Vocab != vocab || h.Identity != o.Identity || h.Zstd != z || s.Len() != int64(n) {
						t.Fatalf("header %+v, len %d", h, s.Len())
					}
					if err := s.Validate(); err != nil {
						t.Fatal(err)
					}
					all, err := s.Window(nil, 0, n)
					if err != nil || !slices.Equal(all, ids) {
						t.Fatalf("vocab %d zstd %v n %d: whole window differs (%v)", vocab, z, n, err)
					}
					r := rand.New(rand.NewPCG(uint64(n), 2))
					for k := 0; k < 50 && n > 0; k++ {
						i := r.IntN(n)
						m := r.IntN(n - i + 1)
						w, err := s.Window([]uint32{9}, int64(i), m)
						if err != nil || w[0] != 9 || !slices.Equal(w[1:], ids[i:i+m]) {
							t.Fatalf("window [%d,%d) differs (%v)", i, i+m, err)
						}
					}
					if _, err := s.Window(nil, int64(n), 1); err == nil {
						t.Fatal("window past the end accepted")
					}
				}
				s.Close()
				if z {
					// The body is a plain zstd stream of the raw ids.
					h := sp.Header
					zr, err := zstd.NewReader(bytes.NewReader(pipe.Bytes()[h.DataOffset:]))
					if err != nil {
						t.Fatal(err)
					}
					raw, err := io.ReadAll(zr)
					zr.Close()
					if err != nil || !bytes.Equal(raw, putIDs(nil, ids, h.Width)) {
						t.Fatalf("body is not a zstd stream of the ids: %v", err)
					}
				}
			}
		}
	}
}

func TestShardWriterRejectsBadIDs(t *testing.T) {
	sw, err := NewShardWriter(io.Discard, ShardOptions{Vocab: 258})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Write([]uint32{1, 2, 258}); err == nil || !strings.Contains(err.Error(), "258") {
		t.Errorf("id 258 of vocab 258: %v", err)
	}
	if sw.Count() != 0 {
		t.Error("partial write counted")
	}
	if _, err := NewShardWriter(io.Discard, ShardOptions{Vocab: 0}); err == nil {
		t.Error("vocab 0 accepted")
	}
}

// TestShardWriterBadIDWritesNothing writes batches of every size around the
// writer's buffer, each time followed by a batch with a bad id at various
// places, and checks that the shard holds exactly the good batches.
func TestShardWriterBadIDWritesNothing(t *testing.T) {
	for _, vocab := range []int{1000, 70000} {
		var buf bytes.Buffer
		sw, err := NewShardWriter(&buf, ShardOptions{Vocab: vocab})
		if err != nil {
			t.Fatal(err)
		}
		var want []uint32
		next := uint32(0)
		for _, n := range []int{1, 3, 60000, 131071, 131072, 131073, 200000, 7} {
			good := make([]uint32, n)
			for i := range good {
				good[i] = next % uint32(vocab)
				next++
			}
			if err := sw.Write(good); err != nil {
				t.Fatal(err)
			}
			want = append(want, good...)
			for _, at := range []int{0, n / 2, n} {
				bad := slices.Clone(good)
				bad = append(bad, 1)
				bad[at] = uint32(vocab)
				if err := sw.Write(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprint(vocab)) {
					t.Fatalf("vocab %d: bad id accepted: %v", vocab, err)
				}
			}
			if sw.Count() != uint64(len(want)) {
				t.Fatalf("vocab %d: count %d, want %d", vocab, sw.Count(), len(want))
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := ParseShard(buf.Bytes(), "mem")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Window(nil, 0, int(s.Len()))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("vocab %d: shard holds %d ids (err %v), want the %d good ones", vocab, len(got), err, len(want))
		}
	}
}

func TestRawShard(t *testing.T) {
	ids := []uint32{1, 2, 31999, 0}
	path := filepath.Join(t.TempDir(), "tiny.bin")
	os.WriteFile(path, putIDs(nil, ids, 2), 0o644)
	s, err := OpenRawShard(path, 32000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Window(nil, 1, 3)
	if err != nil || !slices.Equal(got, ids[1:]) || s.Len() != 4 {
		t.Fatalf("got %v, %v", got, err)
	}
	s2, _ := OpenRawShard(path, 1000)
	err = s2.Validate()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "ids" || !strings.Contains(err.Error(), "token 2 is id 31999") || fe.Offset != 4 {
		t.Errorf("bad id: %v", err)
	}
	os.WriteFile(path, []byte{1, 2, 3}, 0o644)
	if _, err := OpenRawShard(path, 32000); !errors.As(err, &fe) {
		t.Errorf("odd size: %v", err)
	}
	if _, err := OpenShard(path); !errors.As(err, &fe) || fe.Field != "magic" {
		t.Errorf("raw file as shard: %v", err)
	}
}

// shardBytes returns a small valid shard.
func shardBytes(t testing.TB, z bool, vocab int, ids []uint32) []byte {
	var b bytes.Buffer
	writeShard(t, pipeWriter{&b}, ShardOptions{Vocab: vocab, Identity: "bytes:bytes:0011223344556677", Zstd: z, FrameTokens: 16}, ids)
	return b.Bytes()
}

func TestShardErrors(t *testing.T) {
	ids := randomIDs(100, 258, 7)
	plain := shardBytes(t, false, 258, ids)
	counted := slices.Clone(plain)
	binary.LittleEndian.PutUint64(counted[16:], 100)
	zs := shardBytes(t, true, 258, ids)
	patch := func(b []byte, off int, v ...byte) []byte {
		b = slices.Clone(b)
		copy(b[off:], v)
		return b
	}
	cases := []struct {
		name  string
		data  []byte
		field string
		msg   string
	}{
		{"empty", nil, "magic", "empty"},
		{"foreign", []byte("GGUF\x03\x00\x00\x00........................................"), "magic", "foreign magic"},
		{"short header", plain[:20], "header", "truncated"},
		{"version", patch(plain, 8, 2), "version", "unsupported version 2"},
		{"width", patch(plain, 10, 3), "width", "width 3"},
		{"flags", patch(plain, 11, 0x80), "flags", "unknown flag"},
		{"vocab 0", patch(plain, 12, 0, 0, 0, 0), "vocab", "vocab size 0"},
		{"vocab too wide", patch(plain, 12, 0, 0, 2, 0), "vocab", "does not fit"},
		{"data offset", patch(plain, 24, 8), "data offset", "want 72"},
		{"reserved", patch(plain, 36, 1), "reserved", "not zero"},
		{"identity cut", plain[:50], "identity", "truncated"},
		{"half token", plain[:len(plain)-1], "ids", "whole number"},
		{"truncated", counted[:len(counted)-2], "ids", "truncated: header says 100 tokens, file holds 99"},
		{"garbage", append(slices.Clone(counted), 0, 0), "ids", "trailing garbage"},
		{"zstd truncated", zs[:len(zs)-1], "seek index", "missing index magic"},
		{"zstd garbage", append(slices.Clone(zs), 0), "seek index", "missing index magic"},
		{"zstd frame cut", append(slices.Clone(zs[:80]), zs[81:]...), "seek index", ""},
		{"zstd frame tokens", patch(zs, 28, 0), "frame tokens", "tokens per frame"},
	}
	for _, c := range cases {
		_, err := ParseShard(c.data, "d.bin")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "d.bin: ") {
			t.Errorf("%s: got %v, want field %q and %q", c.name, err, c.field, c.msg)
		}
	}
	// An id beyond the vocab is found by Window and Validate, with its position.
	bad := patch(plain, 72+2*37, 0x02, 0x01) // token 37 := 258
	s, err := ParseShard(bad, "d.bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.Validate(), func() error { _, err := s.Window(nil, 30, 10); return err }()} {
		if err == nil || !strings.Contains(err.Error(), "d.bin: ids (offset 146): token 37 is id 258") {
			t.Errorf("bad id: %v", err)
		}
	}
	if _, err := s.Window(nil, 0, 37); err != nil {
		t.Errorf("window before the bad id: %v", err)
	}
	// A corrupt zstd frame is reported when read.
	zbad := patch(zs, 72+10, 0xff, 0xff, 0xff)
	if s, err := ParseShard(zbad, "z.bin"); err == nil {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "z.bin: zstd frame") {
			t.Errorf("corrupt frame: %v", err)
		}
	}
}

func FuzzShardReader(f *testing.F) {
	ids := randomIDs(40, 300, 3)
	f.Add(shardBytes(f, false, 300, ids))
	f.Add(shardBytes(f, true, 300, ids))
	f.Add(shardBytes(f, true, 70000, ids))
	f.Add(shardBytes(f, false, 258, nil))
	f.Add([]byte("ANETOKEN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseShard(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		defer s.Close()
		if s.Len() > 1<<20 {
			return
		}
		err = s.Validate()
		all, werr := s.Window(nil, 0, int(s.Len()))
		if (err == nil) != (werr == nil) {
			t.Fatalf("Validate %v but Window %v", err, werr)
		}
		if err == nil {
			for _, id := range all {
				if int(id) >= s.Header.Vocab {
					t.Fatalf("id %d passed validation with vocab %d", id, s.Header.Vocab)
				}
			}
		}
		if r, err := ParseRawShard(data, "fuzz", 1000); err == nil {
			r.Validate()
		}
	})
}
