package bpe

import (
	"testing"

	tiktokenassets "github.com/pkoukk/tiktoken-go-loader/assets"
)

// TestTiktokenCanonicalHash checks the start-up shortcut of Tiktoken: every
// embedded file is canonical, so hashing its bytes gives the identity that
// hashing the re-encoded ranks gives.
func TestTiktokenCanonicalHash(t *testing.T) {
	for _, name := range []string{"r50k_base", "p50k_base", "cl100k_base", "o200k_base"} {
		data, err := tiktokenassets.Assets.ReadFile(name + ".tiktoken")
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := parseTiktoken(data, name)
		if err != nil {
			t.Fatal(err)
		}
		if !tkCanonical(data) {
			t.Errorf("%s: embedded file is not canonical", name)
		}
		tk, err := Tiktoken(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := "tiktoken:" + name + ":" + tiktokenHash(tokens, nil); tk.Identity() != want {
			t.Errorf("%s: identity %s, want %s", name, tk.Identity(), want)
		}
	}
	for _, c := range []struct {
		data string
		want bool
	}{
		{"AA== 0\nAQ== 1\n", true},
		{"AA== 0\nAQ== 2\n", true}, // a hole in the ranks is written as is
		{"AA== 0\nAQ== 1", false},  // no final newline
		{"AQ== 1\nAA== 0\n", false},
		{"AA== 0\nAQ== 0\n", false},
		{"AA==\r 0\nAQ== 1\n", false},
		{"", false},
	} {
		if got := tkCanonical([]byte(c.data)); got != c.want {
			t.Errorf("tkCanonical(%q) = %v, want %v", c.data, got, c.want)
		}
	}
}
