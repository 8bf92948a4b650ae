#!/usr/bin/env bash
# Tokenizer throughput: ane-tokenize against the reference implementations,
# in one run, on the same input (examples/tinyshakespeare.txt):
#
#   Llama 2 SentencePiece, line by line: ane-tokenize -t llama2:MODEL --sep line
#       (2 workers and 1) vs Python sentencepiece (Debian python3-sentencepiece)
#   cl100k_base, whole text: ane-tokenize -t cl100k_base (2 workers and 1)
#       vs OpenAI's tiktoken npm package (Rust core compiled to WebAssembly)
#
# Every figure is the median of RUNS runs (default 7), the tools taking turns
# in each round so that noise from a shared machine hits all of them alike.
# Times are encode times (tokenizer loading excluded). The references are
# timed after a warm-up encode in the same process; every ane-tokenize run is
# a fresh process, and its time includes reading the file and writing the
# shard (to /dev/null).
#
# Whole-process wall and CPU times (start-up and loading included) are
# measured by bench/tokenize_cpu.sh; ANEKIT_CPUPROFILE=FILE profiles a run.
#
# usage: bash bench/tokenize.sh [RUNS]
# Installs what is missing: python3-sentencepiece (apt-get), tiktoken (npm,
# into ${XDG_CACHE_HOME:-~/.cache}/anekit-bench/node).
set -euo pipefail

RUNS=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TXT=$ROOT/examples/tinyshakespeare.txt
MODEL=$ROOT/../shared/data/llama2-tokenizer.model
PY=/usr/bin/python3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/anekit-bench
NODEDIR=$CACHE/node

die() { echo "tokenize.sh: $*" >&2; exit 1; }
[ -f "$TXT" ] || die "missing $TXT"
[ -f "$MODEL" ] || die "missing $MODEL (the Llama 2 tokenizer.model; shared/ must sit beside the repository)"

# --- dependencies -----------------------------------------------------------
if ! "$PY" -c 'import sentencepiece' 2>/dev/null; then
	echo "installing python3-sentencepiece ..." >&2
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq python3-sentencepiece >&2
	"$PY" -c 'import sentencepiece' || die "python3-sentencepiece did not install"
fi
if [ ! -d "$NODEDIR/node_modules/tiktoken" ]; then
	command -v npm >/dev/null || die "npm is needed for the tiktoken reference"
	echo "installing tiktoken (npm) into $NODEDIR ..." >&2
	mkdir -p "$NODEDIR"
	(cd "$NODEDIR" && npm install --silent --no-audit --no-fund tiktoken >&2)
fi

BIN=$(mktemp -d)/ane-tokenize
trap 'rm -rf "$(dirname "$BIN")"' EXIT
(cd "$ROOT" && go build -o "$BIN" ./cmd/ane-tokenize)

# --- measurements -----------------------------------------------------------
OUT=$(mktemp -d)
trap 'rm -rf "$(dirname "$BIN")" "$OUT"' EXIT

# ane NAME ARGS...: one run; appends "seconds tokens bytes" to $OUT/NAME.
ane() {
	local name=$1; shift
	"$BIN" "$@" "$TXT" 2>&1 >/dev/null |
		sed -n 's/^ane-tokenize: \([0-9]*\) tokens from \([0-9]*\) bytes .* in \([0-9.]*\)s,.*/\3 \1 \2/p' >>"$OUT/$name"
}

"$PY" "$ROOT/bench/tokenize_sp.py" "$MODEL" "$TXT" 1 >/dev/null          # warm-up
TIKTOKEN_DIR=$NODEDIR node "$ROOT/bench/tokenize_tiktoken.mjs" "$TXT" 1 >/dev/null
for ((r = 0; r < RUNS; r++)); do
	ane sp_j2 -t "llama2:$MODEL" --sep line -j 2
	ane sp_j1 -t "llama2:$MODEL" --sep line -j 1
	"$PY" "$ROOT/bench/tokenize_sp.py" "$MODEL" "$TXT" 1 >>"$OUT/sp_python"
	ane tk_j2 -t cl100k_base -j 2
	ane tk_j1 -t cl100k_base -j 1
	TIKTOKEN_DIR=$NODEDIR node "$ROOT/bench/tokenize_tiktoken.mjs" "$TXT" 1 >>"$OUT/tk_node"
done

# median NAME: prints "median_seconds tokens bytes MB/s".
median() {
	sort -n "$OUT/$1" | awk '{ s[NR] = $1; t = $2; b = $3 }
		END { m = (NR % 2) ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2
		      printf "%.4f %d %d %.2f\n", m, t, b, b / m / 1e6 }'
}

printf '%s, %s, %d runs each, medians (encode time, tokenizer load excluded)\n' \
	"$(basename "$TXT")" "$(nproc) cores" "$RUNS"
printf '%-48s %9s %10s %9s\n' tool tokens seconds MB/s
row() { read -r s t b mbs <<<"$(median "$2")"; printf '%-48s %9d %10.4f %9.2f\n' "$1" "$t" "$s" "$mbs"; echo "$mbs" >"$OUT/$2.mbs"; }
row "ane-tokenize llama2 --sep line -j 2"              sp_j2
row "ane-tokenize llama2 --sep line -j 1"              sp_j1
row "python sentencepiece $("$PY" -c 'import sentencepiece as s; print(s.__version__)') (line by line)" sp_python
row "ane-tokenize cl100k_base -j 2"                    tk_j2
row "ane-tokenize cl100k_base -j 1"                    tk_j1
row "tiktoken npm $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).version' "$NODEDIR/node_modules/tiktoken/package.json") (whole text)" tk_node
ratio() { awk -v a="$(cat "$OUT/$1.mbs")" -v b="$(cat "$OUT/$2.mbs")" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "ratios (MB/s over MB/s):"
echo "  llama2:      -j 2 / sentencepiece = $(ratio sp_j2 sp_python)   -j 1 / sentencepiece = $(ratio sp_j1 sp_python)"
echo "  cl100k_base: -j 2 / tiktoken      = $(ratio tk_j2 tk_node)   -j 1 / tiktoken      = $(ratio tk_j1 tk_node)"
