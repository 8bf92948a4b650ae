// Package format reads and writes every on-disk format of anekit: token
// shards, kernel bundles, checkpoints, ANE weight blobs and the llama2.c
// model and tokenizer files. Each format is specified byte by byte in
// docs/FORMATS.md. Readers validate everything they read and name the file
// and the field in their errors.
package format
