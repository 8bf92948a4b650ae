package bpe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anekit/anekit/pkg/format"
)

// synthModel builds a small SentencePiece BPE model that exercises what
// the Llama 2 vocabulary does not: equal scores (leftmost wins), a piece
// with "▁" after a letter (so "a▁" joins across a space), user-defined
// pieces, UNUSED pieces (merged, then split back) and, with byteFallback
// false, unknown characters collapsing into one <unk>.
//
// To regenerate sentencepiece_synth_data_test.go: write the models with
// ANEKIT_SPGEN=<folder> go test -run SynthGen, load each with Python's
// sentencepiece 0.1.97 and record encode(text) and decode(ids) for the
// texts (random strings over a small alphabet that hits every piece,
// spaces, newlines, unknown characters and "▁").
func synthModel(byteFallback bool) *format.SPModel {
	m := &format.SPModel{Trainer: format.DefaultSPTrainerSpec(), Normalizer: format.DefaultSPNormalizerSpec()}
	m.Trainer.ModelType = format.SPBPE
	m.Trainer.ByteFallback = byteFallback
	m.Normalizer.Name = "identity"
	m.Normalizer.RemoveExtraWhitespaces = false
	add := func(piece string, score float32, typ format.SPPieceType) {
		m.Pieces = append(m.Pieces, format.SPPiece{Piece: piece, Score: score, Type: typ})
	}
	add("<unk>", 0, format.SPUnknown)
	add("<s>", 0, format.SPControl)
	add("</s>", 0, format.SPControl)
	if byteFallback {
		for b := range 256 {
			add(fmt.Sprintf("<0x%02X>", b), 0, format.SPByte)
		}
	}
	add("<u>", 0, format.SPUserDefined)
	add("x▁y", 0, format.SPUserDefined)
	normal := []struct {
		p string
		s float32
	}{
		{"ab", -1}, {"bc", -1}, {"▁a", -2}, {"cd", -2}, {"abc", -3}, {"a▁", -1.5},
		{"▁▁", -4}, {"dd", -2}, {"▁b", -3}, {"ddd", -5}, {"▁abc", -6}, {"é", -7},
		{"éa", -2}, {"a▁b", -2.5}, {"▁", -8}, {"a", -9}, {"b", -9}, {"c", -9}, {"d", -9}, {"x", -9}, {"y", -9},
	}
	for _, n := range normal {
		add(n.p, n.s, format.SPNormal)
	}
	if !byteFallback {
		// UNUSED pieces turn off the cut points, so only one model has them.
		add("bcd", -0.5, format.SPUnused)
		add("dab", -0.7, format.SPUnused)
	}
	add("da", -3, format.SPNormal)
	m.Trainer.VocabSize = int32(len(m.Pieces))
	return m
}

// TestSentencePieceSynthGen writes the synthetic models as tokenizer.model
// files into the folder $ANEKIT_SPGEN. spSynthExpected
// (sentencepiece_synth_data_test.go) holds sentencepiece 0.1.97's
// encodings and decodings of texts with them, made by loading these files
// in Python's sentencepiece (SentencePieceProcessor(model_file=...)).
func TestSentencePieceSynthGen(t *testing.T) {
	dir := os.Getenv("ANEKIT_SPGEN")
	if dir == "" {
		t.Skip("set ANEKIT_SPGEN=<folder> to write the synthetic models")
	}
	for _, bf := range []bool{true, false} {
		b, err := synthModel(bf).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, synthName(bf)+".model"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func synthName(byteFallback bool) string {
	if byteFallback {
		return "synth-bytefallback"
	}
	return "synth-unk"
}

type spSynthCase struct {
	Text    string   `json:"text"`
	IDs     []uint32 `json:"ids"`
	Decoded string   `json:"decoded"`
}

// TestSentencePieceSynthConformance compares with sentencepiece's
// encodings, and decodings, of texts with the synthetic models.
func TestSentencePieceSynthConformance(t *testing.T) {
	for _, bf := range []bool{true, false} {
		name := synthName(bf)
		b, err := synthModel(bf).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ParseSentencePiece(b, name)
		if err != nil {
			t.Fatal(err)
		}
		var cases []spSynthCase
		for _, line := range strings.Split(spSynthExpected[name], "\n") {
			var c spSynthCase
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, c)
		}
		bad, splits := 0, 0
		for _, c := range cases {
			if dec, err := tok.Decode(nil, c.IDs); err != nil || string(dec) != c.Decoded {
				t.Errorf("%s: Decode(%v) = %q, %v; want %q", name, c.IDs, dec, err, c.Decoded)
			}
			got := tok.Encode(nil, []byte(c.Text))
			if got == nil {
				got = []uint32{}
			}
			if c.IDs == nil {
				c.IDs = []uint32{}
			}
			if !slices.Equal(got, c.IDs) {
				if bad < 10 {
					t.Errorf("%s: Encode(%q) = %v, want %v", name, c.Text, got, c.IDs)
				}
				bad++
			}
			// Every split point of every prefix must give sentencepiece's ids.
			for k := range len(c.Text) + 1 {
				sp := tok.SplitPoint([]byte(c.Text[:k]))
				if sp == 0 {
					continue
				}
				splits++
				got := tok.EncodeTail(tok.Encode(nil, []byte(c.Text[:sp])), []byte(c.Text[sp:]))
				if !slices.Equal(got, c.IDs) {
					t.Errorf("%s: %q split at %d: %v, want %v", name, c.Text, sp, got, c.IDs)
				}
			}
			if ref := tok.encodeWhole(nil, []byte(c.Text), true); !slices.Equal(ref, got) && len(got) > 0 {
				t.Errorf("%s: Encode(%q) = %v but the plain algorithm gives %v", name, c.Text, got, ref)
			}
		}
		t.Logf("%s: %d/%d match; %d split points checked", name, len(cases)-bad, len(cases), splits)
		if bf != (splits > 0) {
			t.Errorf("%s: %d split points; want some exactly when the model has byte fallback", name, splits)
		}
		if len(cases) < 100 {
			t.Errorf("%s: only %d cases", name, len(cases))
		}
	}
}
