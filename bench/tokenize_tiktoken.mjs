// Times OpenAI's tiktoken npm package (Rust core, WebAssembly) encoding a
// whole text file with cl100k_base.
//
// usage: TIKTOKEN_DIR=DIR node bench/tokenize_tiktoken.mjs FILE RUNS
// DIR holds node_modules/tiktoken. Prints "<seconds> <tokens> <bytes>" per
// run (encode time only, after loading the encoding and one warm-up encode).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.TIKTOKEN_DIR + "/");
const { get_encoding } = require("tiktoken");

const [file, runs] = [process.argv[2], Number(process.argv[3])];
const data = readFileSync(file);
const text = data.toString("utf8");
const enc = get_encoding("cl100k_base");
enc.encode(text); // warm-up: the first call compiles the pattern
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const ids = enc.encode(text);
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${dt.toFixed(6)} ${ids.length} ${data.length}`);
}
enc.free();
