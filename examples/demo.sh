#!/usr/bin/env bash
# The pipeline on the built-in example corpus, as far as it exists today:
# tokenize Shakespeare with a vocabulary learned from it, inspect the shard,
# decode it back and check the round trip is exact; compile the tiny model's
# kernel bundle and measure it. (ane-train and ane-sample do not exist yet.)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
out=${DEMO_OUT:-$(mktemp -d)}
corpus=examples/tinyshakespeare.txt

echo "== learn a 1024-token byte-level BPE vocabulary from $corpus"
"$bin/ane-tokenize" train --vocab 1024 -o "$out/shakespeare.tiktoken" "$corpus"

echo "== tokenize (10% held out for validation)"
"$bin/ane-tokenize" --tokenizer "$out/shakespeare.tiktoken" --sep blank --eos \
	--val-fraction 0.1 -o "$out/data.bin" "$corpus"

echo "== inspect"
"$bin/ane-tokenize" info "$out/data.bin"

echo "== round trip: raw bytes tokenizer, decode equals the input"
"$bin/ane-tokenize" < "$corpus" | "$bin/ane-tokenize" decode - | cmp - "$corpus"
echo "round trip exact"
echo "== compile the tiny model into a kernel bundle (compiled once, weights as inputs)"
"$bin/ane-compile" examples/models/tiny.yaml -o "$out/tiny.aneb"

echo "== time its kernels, a forward pass and the weight sync on this machine"
"$bin/ane-bench" bundle "$out/tiny.aneb" --reps 3 --min 50ms
echo "demo files in $out"
