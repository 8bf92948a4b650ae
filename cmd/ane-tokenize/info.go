package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/anekit/anekit/pkg/format"
	"github.com/urfave/cli/v2"
)

// shardInfo is the record "ane-tokenize info --json" prints, one JSON
// object per line and shard.
type shardInfo struct {
	File          string  `json:"file"`
	Format        string  `json:"format"` // "anekit" or "raw-uint16"
	Version       int     `json:"version,omitempty"`
	Width         int     `json:"width"`
	Vocab         int     `json:"vocab"`
	Identity      string  `json:"identity"`
	Tokens        int64   `json:"tokens"`
	HeaderCount   *uint64 `json:"header_count"` // null: "until EOF"
	Zstd          bool    `json:"zstd"`
	FrameTokens   int     `json:"frame_tokens,omitempty"`
	FileBytes     int64   `json:"file_bytes"`
	BytesPerToken float64 `json:"bytes_per_token"`
	IDsValid      bool    `json:"ids_valid"`
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "describe shards: header fields, token count, bytes per token",
		ArgsUsage: "SHARD...",
		Description: `Reads each shard's header and checks every id against its vocab size.
A bad shard is an error (exit 2).

Examples:
  ane-tokenize info data.bin
  ane-tokenize info --json data.bin data.val.bin | jq .tokens
  ane-tokenize info --raw-vocab 32000 tinystories.bin`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per shard on stdout"},
			&cli.IntFlag{Name: "raw-vocab", Usage: "read headerless uint16 files (llama2.c .bin) of this vocab size `N`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return badf("info: want at least one SHARD")
			}
			for _, name := range c.Args().Slice() {
				s, err := openShard(c, name, c.Int("raw-vocab"))
				if err != nil {
					return err
				}
				err = s.Validate()
				info := describe(s, name)
				s.Close()
				if err != nil {
					return bad(err)
				}
				info.IDsValid = true
				if c.Bool("json") {
					b, _ := json.Marshal(info)
					if _, err := fmt.Fprintf(c.App.Writer, "%s\n", b); err != nil {
						return err
					}
					continue
				}
				if err := printInfo(c, info); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func describe(s *format.Shard, name string) shardInfo {
	h := s.Header
	in := shardInfo{File: name, Format: "anekit", Version: h.Version, Width: h.Width, Vocab: h.Vocab,
		Identity: h.Identity, Tokens: s.Len(), Zstd: h.Zstd, FrameTokens: h.FrameTokens}
	if h.DataOffset == 0 {
		in.Format = "raw-uint16"
	}
	if h.Count != format.CountUntilEOF {
		n := h.Count
		in.HeaderCount = &n
	}
	if fi, err := os.Stat(name); err == nil && name != "-" {
		in.FileBytes = fi.Size()
	}
	if in.Tokens > 0 {
		in.BytesPerToken = float64(in.FileBytes) / float64(in.Tokens)
	}
	return in
}

func printInfo(c *cli.Context, in shardInfo) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 1, ' ', 0)
	count := "until EOF"
	if in.HeaderCount != nil {
		count = fmt.Sprint(*in.HeaderCount)
	}
	fmt.Fprintf(tw, "file:\t%s\n", in.File)
	fmt.Fprintf(tw, "format:\t%s", in.Format)
	if in.Version > 0 {
		fmt.Fprintf(tw, " v%d", in.Version)
	}
	fmt.Fprintf(tw, "\nidentity:\t%s\n", orNone(in.Identity))
	fmt.Fprintf(tw, "vocab:\t%d (%d-byte ids)\n", in.Vocab, in.Width)
	fmt.Fprintf(tw, "tokens:\t%d (header: %s)\n", in.Tokens, count)
	if in.Zstd {
		fmt.Fprintf(tw, "zstd:\tyes, %d tokens per frame\n", in.FrameTokens)
	} else {
		fmt.Fprintf(tw, "zstd:\tno\n")
	}
	fmt.Fprintf(tw, "file bytes:\t%d (%.3f bytes per token)\n", in.FileBytes, in.BytesPerToken)
	fmt.Fprintf(tw, "ids:\tall < vocab\n\n")
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
