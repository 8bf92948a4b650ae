#!/usr/bin/env bash
# gemm.sh: anekit's GEMM and fp16 conversion against OpenBLAS and a plain
# F16C C loop, measured in the same run.
#
#   bench/gemm.sh [ROUNDS]      (default 5; env REPS = timed reps per call, default 3)
#
# It builds bench/gemm_ref.c against OpenBLAS (installing libopenblas-dev
# with apt-get if the header is missing) and cmd/ane-bench, then for every
# shape and thread count (1, 2) runs ours and OpenBLAS alternately ROUNDS
# times (the machine may be shared: interleaving spreads the noise over both
# sides), and prints the median GFLOPS of each side, the ratio of the
# medians, and the spread (max-min)/median of each side over the rounds.
# Each call reports the median of REPS timed repetitions lasting >= 20 ms.
# The raw per-round figures are kept in $OUT (default: a temp file).
#
# Then, if cgo can link OpenBLAS, bench/pair runs both sides in one process,
# alternating every timing, and prints the median of the per-pair ratios
# (env PAIRS, default 9): on a busy machine that is the steadier comparison.
set -euo pipefail
# Some machines here force OpenBLAS onto its Haswell (AVX2) kernels through
# OPENBLAS_CORETYPE for the sake of old builds. The reference must be
# OpenBLAS at its best on this CPU, so both variables are dropped for every
# OpenBLAS run (gemm_ref checks its results), and the kernel set is printed.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
ROUNDS=${1:-5}
REPS=${REPS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OUT=${OUT:-$(mktemp /tmp/gemm-bench.XXXXXX.tsv)}

if ! echo '#include <cblas.h>' | gcc -E -I/usr/include/x86_64-linux-gnu/openblas-pthread - >/dev/null 2>&1; then
	echo "installing libopenblas-dev" >&2
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if { apt-get update -qq && apt-get install -y -qq libopenblas-dev; } >/dev/null 2>&1; then break; fi
		echo "apt busy, retrying ($i)" >&2
		sleep 10
	done
fi
gcc -O3 -march=native -mf16c -mavx2 -o "$work/gemm_ref" "$root/bench/gemm_ref.c" \
	-I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -lm
(cd "$root" && go build -o "$work/ane-bench" ./cmd/ane-bench)
echo "OpenBLAS kernel set: $("$work/gemm_ref" core)"

json() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["kernel"], '"$1"')'; }

shapes="256,768,768 256,2048,768 256,768,2048 768,768,256 256,288,288 256,32000,288 2048,2048,2048"
: >"$OUT"
for th in 1 2; do
	for s in $shapes; do
		IFS=, read -r m n k <<<"$s"
		for ((r = 0; r < ROUNDS; r++)); do
			# Capture first, parse after: a parser started in a pipe would
			# compete for the CPU with the run it reads.
			rec=$("$work/ane-bench" gemm --shapes "$s" --threads "$th" --reps "$REPS" --json)
			read -r kern ours < <(json 'r["results"][0]["gflops_median"]' <<<"$rec")
			theirs=$(OPENBLAS_NUM_THREADS=$th "$work/gemm_ref" gemm "$m" "$n" "$k" "$REPS")
			printf 'gemm\t%s\t%s\t%s\t%s\t%s\n' "$s" "$th" "$kern" "$ours" "$theirs" >>"$OUT"
		done
	done
done
N=$((1 << 20))
for ((r = 0; r < ROUNDS; r++)); do
	rec=$("$work/ane-bench" convert --n "$N" --reps "$REPS" --json)
	read -r kern enc dec < <(json 'r["results"]["fp32_to_fp16_gbps_median"], r["results"]["fp16_to_fp32_gbps_median"]' <<<"$rec")
	read -r cenc cdec < <("$work/gemm_ref" convert "$N" "$REPS")
	printf 'encode\t%s\t1\t%s\t%s\t%s\n' "$N" "$kern" "$enc" "$cenc" >>"$OUT"
	printf 'decode\t%s\t1\t%s\t%s\t%s\n' "$N" "$kern" "$dec" "$cdec" >>"$OUT"
done

python3 - "$OUT" "$ROUNDS" "$REPS" <<'PY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
groups = {}
for what, shape, th, kern, ours, theirs in rows:
    groups.setdefault((what, shape, th, kern), []).append((float(ours), float(theirs)))
def spread(xs):
    m = st.median(xs)
    return (max(xs) - min(xs)) / m * 100 if m else 0
print(f"rounds {sys.argv[2]}, reps/call {sys.argv[3]}; medians over rounds; spread = (max-min)/median")
print(f"{'what':7} {'M,N,K / n':16} {'thr':>3} {'kernel':7} {'ours':>8} {'ref':>8} {'ratio':>6} {'spr.ours':>8} {'spr.ref':>8}")
for (what, shape, th, kern), v in groups.items():
    o, t = [x[0] for x in v], [x[1] for x in v]
    unit = "GF/s" if what == "gemm" else "GB/s"
    ref = "OpenBLAS" if what == "gemm" else "F16C C"
    print(f"{what:7} {shape:16} {th:>3} {kern:7} {st.median(o):8.1f} {st.median(t):8.1f} {st.median(o)/st.median(t):6.2f} {spread(o):7.0f}% {spread(t):7.0f}%   ({unit} vs {ref})")
PY
echo "raw figures: $OUT" >&2

echo
if (cd "$root" && go build -tags openblas -o "$work/pair" ./bench/pair) 2>/dev/null; then
	# OpenBLAS's idle workers busy-wait ~128 ms after each call, which in
	# an alternating run lands inside our timing and takes our second core;
	# OPENBLAS_THREAD_TIMEOUT=4 makes them sleep at once (OpenBLAS's own
	# speed is unchanged by it, measured).
	OPENBLAS_THREAD_TIMEOUT=4 "$work/pair" -threads 1,2 -pairs "${PAIRS:-9}"
else
	echo "bench/pair not built (needs cgo and libopenblas-dev); paired table skipped" >&2
fi
