package main

import "github.com/urfave/cli/v2"

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:   "train",
		Usage:  "learn a byte-level BPE vocabulary from a corpus (not built yet)",
		Action: func(c *cli.Context) error { return badf("train: bpe.Train is not built into this binary yet") },
	}
}
