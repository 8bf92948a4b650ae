"""Times Python sentencepiece on a text file, line by line.

usage: /usr/bin/python3 bench/tokenize_sp.py TOKENIZER.model FILE RUNS
Prints one line per run: "<seconds> <tokens> <bytes>" (encode time only,
the model loaded once before).
"""
import sys
import time

import sentencepiece as spm

model, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sp = spm.SentencePieceProcessor(model_file=model)
with open(path, "rb") as f:
    data = f.read()
lines = data.decode("utf-8").split("\n")
for line in lines[:1000]:  # warm-up
    sp.encode(line)
for _ in range(runs):
    t0 = time.perf_counter()
    n = 0
    for line in lines:
        n += len(sp.encode(line))
    dt = time.perf_counter() - t0
    print(f"{dt:.6f} {n} {len(data)}", flush=True)
