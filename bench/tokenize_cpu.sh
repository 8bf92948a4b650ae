#!/usr/bin/env bash
# Wall and CPU time (user+sys) of whole ane-tokenize runs, process start-up
# and tokenizer loading included, for one or more builds of the tool, runs
# interleaved, medians printed.
#
# usage: bash bench/tokenize_cpu.sh RUNS INPUT BIN [BIN...]
# e.g. comparing two builds:
#        go build -o /tmp/old ./cmd/ane-tokenize   (at the old commit)
#        go build -o /tmp/new ./cmd/ane-tokenize
#        bash bench/tokenize_cpu.sh 9 examples/tinyshakespeare.txt /tmp/old /tmp/new
# Cases: bytes; cl100k_base; llama2 --sep line; llama2 --sep blank --bos
# --eos; each with -j 1 and -j 2; and the empty input (start-up alone).
set -euo pipefail
RUNS=$1 IN=$2; shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$ROOT/../shared/data/llama2-tokenizer.model
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
cases=(
	"bytes|-t bytes"
	"cl100k|-t cl100k_base"
	"llama2-line|-t llama2:$MODEL --sep line"
	"llama2-blank|-t llama2:$MODEL --sep blank --bos --eos"
)
for ((r = 0; r < RUNS; r++)); do
	for c in "${cases[@]}"; do
		name=${c%%|*} args=${c#*|}
		for b in "$@"; do
			bn=$(basename "$b")
			for j in 1 2; do
				# shellcheck disable=SC2086
				/usr/bin/time -f "%e %U %S" -o "$OUT/t" "$b" -q $args -j $j <"$IN" >/dev/null
				read -r e u s <"$OUT/t"; echo "$e $(echo "$u + $s" | bc)" >>"$OUT/$bn.$name.j$j"
			done
			/usr/bin/time -f "%e %U %S" -o "$OUT/t" "$b" -q $args </dev/null >/dev/null
			read -r e u s <"$OUT/t"; echo "$e $(echo "$u + $s" | bc)" >>"$OUT/$bn.$name.empty"
		done
	done
done
med() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
size=$(stat -c %s "$IN")
printf '%s (%d bytes), %d runs, medians; MB/s = input bytes / wall time of the whole process\n' "$(basename "$IN")" "$size" "$RUNS"
printf '%-14s %-13s %-6s %8s %8s %8s\n' build case run wall_s cpu_s MB/s
for c in "${cases[@]}"; do
	name=${c%%|*}
	for b in "$@"; do
		bn=$(basename "$b")
		for j in j1 j2 empty; do
			f=$OUT/$bn.$name.$j
			w=$(med "$f" 1) u=$(med "$f" 2)
			mbs=$(awk -v s="$size" -v w="$w" -v j="$j" 'BEGIN { if (j == "empty") print "-"; else printf "%.1f", s / 1e6 / w }')
			printf '%-14s %-13s %-6s %8.3f %8.3f %8s\n' "$bn" "$name" "$j" "$w" "$u" "$mbs"
		done
	done
done
