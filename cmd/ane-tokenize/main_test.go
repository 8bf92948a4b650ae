package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anekit/anekit/internal/sharedtest"
)

var bin string // the ane-tokenize binary built by TestMain

func TestMain(m *testing.M) { sharedtest.MainWithBinary(m, "ane-tokenize", &bin) }

type result struct {
	stdout, stderr []byte
	code           int
}

// run runs the binary in dir with stdin and args.
func runBin(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.Bytes(), errb.Bytes(), code}
}

func mustRun(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	r := runBin(t, dir, stdin, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
	}
	return r
}

func corpus(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join(sharedtest.Root(t), "examples", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return b[:200000]
}

type info struct {
	Tokens      int64   `json:"tokens"`
	HeaderCount *uint64 `json:"header_count"`
	Vocab       int     `json:"vocab"`
	Width       int     `json:"width"`
	Identity    string  `json:"identity"`
	Zstd        bool    `json:"zstd"`
}

func shardInfoOf(t *testing.T, dir, file string) info {
	r := mustRun(t, dir, nil, "info", "--json", file)
	var in info
	if err := json.Unmarshal(r.stdout, &in); err != nil {
		t.Fatalf("info --json: %v: %s", err, r.stdout)
	}
	return in
}

func TestPipeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	text := corpus(t)
	r := mustRun(t, dir, text)
	if !strings.HasPrefix(string(r.stderr), "ane-tokenize: 200000 tokens from 200000 bytes") {
		t.Errorf("summary: %s", r.stderr)
	}
	if !bytes.HasPrefix(r.stdout, []byte("ANETOKEN")) {
		t.Fatal("stdout is not a shard")
	}
	os.WriteFile(filepath.Join(dir, "s.bin"), r.stdout, 0o644)
	in := shardInfoOf(t, dir, "s.bin")
	if in.Tokens != 200000 || in.HeaderCount != nil || in.Vocab != 258 || in.Width != 2 {
		t.Errorf("info: %+v", in)
	}
	d := mustRun(t, dir, r.stdout, "decode", "-")
	if !bytes.Equal(d.stdout, text) {
		t.Error("decode(encode(text)) != text")
	}
}

func TestTiktokenFileOutput(t *testing.T) {
	dir := t.TempDir()
	text := corpus(t)
	os.WriteFile(filepath.Join(dir, "in.txt"), text, 0o644)
	for _, z := range []string{"--zstd=false", "--zstd"} {
		mustRun(t, dir, nil, "-t", "cl100k_base", z, "-o", "c.bin", "in.txt")
		in := shardInfoOf(t, dir, "c.bin")
		if in.HeaderCount == nil || int64(*in.HeaderCount) != in.Tokens || in.Width != 4 || !strings.HasPrefix(in.Identity, "tiktoken:cl100k_base:") {
			t.Errorf("%s: info %+v", z, in)
		}
		d := mustRun(t, dir, nil, "decode", "c.bin")
		if !bytes.Equal(d.stdout, text) {
			t.Errorf("%s: decode differs", z)
		}
	}
	// Human-readable info.
	r := mustRun(t, dir, nil, "info", "c.bin")
	if !strings.Contains(string(r.stdout), "zstd:       yes") {
		t.Errorf("info: %s", r.stdout)
	}
}

func TestDocumentsAndValSplit(t *testing.T) {
	dir := t.TempDir()
	data := sharedtest.Path(t, "data")
	text := corpus(t)
	os.WriteFile(filepath.Join(dir, "in.txt"), text, 0o644)
	tok := "llama2:" + filepath.Join(data, "llama2-tokenizer.model")
	args := []string{"-t", tok, "--sep", "blank", "--bos", "--eos", "--val-fraction", "0.2", "--seed", "7", "-o", "d.bin", "in.txt"}
	r := mustRun(t, dir, nil, append(args, "-j", "2")...)
	if !strings.Contains(string(r.stderr), "held out") {
		t.Errorf("summary: %s", r.stderr)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "d.bin"))
	av, _ := os.ReadFile(filepath.Join(dir, "d.val.bin"))
	mustRun(t, dir, nil, append(args, "-j", "1")...)
	b, _ := os.ReadFile(filepath.Join(dir, "d.bin"))
	bv, _ := os.ReadFile(filepath.Join(dir, "d.val.bin"))
	if !bytes.Equal(a, b) || !bytes.Equal(av, bv) || len(av) == 0 {
		t.Fatal("the split depends on the number of workers")
	}
	tr, val := shardInfoOf(t, dir, "d.bin"), shardInfoOf(t, dir, "d.val.bin")
	frac := float64(val.Tokens) / float64(tr.Tokens+val.Tokens)
	if frac < 0.1 || frac > 0.3 {
		t.Errorf("held-out fraction %.3f, want about 0.2", frac)
	}
	// Every document starts with BOS (1) and ends with EOS (2).
	ids := b[len(b)-int(tr.Tokens)*2:]
	if binary.LittleEndian.Uint16(ids) != 1 || binary.LittleEndian.Uint16(ids[len(ids)-2:]) != 2 {
		t.Error("documents are not wrapped in BOS/EOS")
	}
	mustRun(t, dir, nil, append(args[:len(args)-5], "--seed", "8", "-o", "d.bin", "in.txt")...)
	c, _ := os.ReadFile(filepath.Join(dir, "d.bin"))
	if bytes.Equal(b, c) {
		t.Error("another seed gives the same split")
	}
	// Decode needs the tokenizer (not built in) and checks its identity.
	if r := runBin(t, dir, nil, "decode", "d.bin"); r.code != 2 || !strings.Contains(string(r.stderr), "give --tokenizer") {
		t.Errorf("decode without tokenizer: %d %s", r.code, r.stderr)
	}
	if r := runBin(t, dir, nil, "decode", "-t", "cl100k_base", "d.bin"); r.code != 2 || !strings.Contains(string(r.stderr), "written with tokenizer sentencepiece") {
		t.Errorf("decode with another tokenizer: %d %s", r.code, r.stderr)
	}
	d := mustRun(t, dir, nil, "decode", "-t", "llama2:"+filepath.Join(data, "llama2-tokenizer.bin"), "d.bin")
	if !bytes.HasPrefix(d.stdout, []byte("First Citizen:\nBefore we proceed")) {
		t.Errorf("decoded: %.60q", d.stdout)
	}
}

func TestClosedPipeIsQuiet(t *testing.T) {
	text := bytes.Repeat(corpus(t), 10)
	cmd := exec.Command(bin, "-t", "cl100k_base")
	cmd.Stdin = bytes.NewReader(text)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(out, make([]byte, 10))
	out.Close()
	err = cmd.Wait()
	if err != nil || errb.Len() != 0 {
		t.Errorf("closed pipe: %v, stderr %q", err, errb.String())
	}
}

func TestInterruptLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(bin, "-o", "out.bin")
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write(bytes.Repeat([]byte("partial input "), 100000))
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	stdin.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("interrupted: %v, %s", err, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) { os.WriteFile(filepath.Join(dir, name), b, 0o644) }
	write("in.txt", []byte("hello world\n"))
	write("bad.tiktoken", []byte("this is not base64 !!\n"))
	write("bad.model", []byte("\x0a\x05garbage-protobuf"))
	write("foreign.bin", []byte("GGUF\x03\x00\x00\x00 not a shard at all, but long enough for a header"))
	write("odd.bin", []byte{1, 2, 3})
	good := mustRun(t, dir, []byte("hello world")).stdout
	write("good.bin", good)
	write("truncated.bin", good[:len(good)-1])
	write("short.bin", good[:30])
	beyond := bytes.Clone(good)
	beyond[len(beyond)-2], beyond[len(beyond)-1] = 0x00, 0x02 // id 512 >= vocab 258
	write("beyond.bin", beyond)
	ver := bytes.Clone(good)
	ver[8] = 9
	write("version.bin", ver)

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-t", "gpt5", "in.txt"}, `unknown tokenizer "gpt5" (valid forms: bytes`},
		{[]string{"-t", "llama2:/nonexistent/tokenizer.model", "in.txt"}, "/nonexistent/tokenizer.model"},
		{[]string{"-t", "/nonexistent/v.tiktoken", "in.txt"}, "/nonexistent/v.tiktoken"},
		{[]string{"-t", "bad.tiktoken", "in.txt"}, "bad.tiktoken"},
		{[]string{"-t", "llama2:bad.model", "in.txt"}, "bad.model"},
		{[]string{"missing.txt"}, "missing.txt"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"--sep", "blank", "--val-fraction", "0.1", "in.txt"}, "needs -o FILE"},
		{[]string{"--val-fraction", "0.1", "-o", "x.bin", "in.txt"}, "needs document boundaries"},
		{[]string{"--val-fraction", "1.5", "-o", "x.bin", "in.txt"}, "want 0 <= F < 1"},
		{[]string{"-t", "p50k_base", "--bos", "--eos", "-o", "x.bin", "in.txt"}, ""}, // fine: <|endoftext|>
		{[]string{"info", "truncated.bin"}, "truncated.bin: ids"},
		{[]string{"info", "short.bin"}, "short.bin: header"},
		{[]string{"info", "foreign.bin"}, "foreign.bin: magic (offset 0): foreign magic"},
		{[]string{"info", "version.bin"}, "unsupported version 9"},
		{[]string{"info", "beyond.bin"}, "is id 512, beyond the vocab size 258"},
		{[]string{"decode", "beyond.bin"}, "is id 512, beyond the vocab size 258"},
		{[]string{"decode", "truncated.bin"}, "truncated.bin"},
		{[]string{"decode", "foreign.bin"}, "foreign magic"},
		{[]string{"decode", "-t", "cl100k_base", "good.bin"}, "written with tokenizer bytes"},
		{[]string{"info", "--raw-vocab", "32000", "odd.bin"}, "odd.bin: ids"},
		{[]string{"info", "nothere.bin"}, "nothere.bin"},
		{[]string{"decode"}, "want one SHARD"},
	}
	for _, c := range cases {
		r := runBin(t, dir, nil, c.args...)
		if c.want == "" {
			if r.code != 0 {
				t.Errorf("%v: exit %d: %s", c.args, r.code, r.stderr)
			}
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(r.stderr)), "\n")
		if r.code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ane-tokenize: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.code, r.stderr, c.want)
		}
		if len(r.stdout) != 0 && c.args[0] != "decode" {
			t.Errorf("%v: wrote %d bytes to stdout", c.args, len(r.stdout))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.bin")); err != nil {
		t.Error("the one good run did not write x.bin")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestTrainThenEncode(t *testing.T) {
	dir := t.TempDir()
	text := corpus(t)[:60000]
	os.WriteFile(filepath.Join(dir, "in.txt"), text, 0o644)
	r := mustRun(t, dir, nil, "train", "--vocab", "600", "in.txt", "-o", "v.tiktoken")
	if !strings.Contains(string(r.stderr), "learned a vocabulary of 600 tokens") {
		t.Errorf("summary: %s", r.stderr)
	}
	again := mustRun(t, dir, text, "train", "--vocab", "600", "-q")
	if v, _ := os.ReadFile(filepath.Join(dir, "v.tiktoken")); !bytes.Equal(v, again.stdout) {
		t.Error("train is not deterministic (or -o differs from stdout)")
	}
	mustRun(t, dir, nil, "-t", "v.tiktoken", "--sep", "blank", "--eos", "in.txt", "-o", "d.bin")
	in := shardInfoOf(t, dir, "d.bin")
	if in.Vocab != 600 || !strings.HasPrefix(in.Identity, "tiktoken:custom:") || in.Tokens > int64(len(text))/2 {
		t.Errorf("info: %+v", in)
	}
	d := mustRun(t, dir, nil, "decode", "-t", "v.tiktoken", "d.bin")
	if !strings.Contains(string(d.stdout), "<|eos|>First Citizen:") {
		t.Errorf("decoded: %.100q", d.stdout)
	}
	if r := runBin(t, dir, nil, "train", "--vocab", "100", "in.txt"); r.code != 2 || !strings.Contains(string(r.stderr), "at least 258") {
		t.Errorf("tiny vocab: %d %s", r.code, r.stderr)
	}
}
