# anekit: make demo runs the pipeline on the built-in example; make test runs the tests.
GO      ?= go
BIN     ?= bin
CMDS    := $(notdir $(wildcard cmd/*))
FUZZTIME ?= 10s
export CGO_ENABLED ?= 0

.PHONY: all build test test-arm64 demo bench fuzz lint cross clean

all: build

## build: the command-line tools into ./bin (pure Go, no cgo)
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

## test: every package's tests (those needing ../shared skip without it)
test:
	$(GO) test -count=1 ./...

## test-arm64: the assembly packages' tests built for linux/arm64 and run
## under qemu user-mode emulation (NEON and Go paths; correctness only,
## emulated timings mean nothing). Skips when qemu-aarch64 is absent.
QEMU_ARM64 ?= $(shell command -v qemu-aarch64-static || command -v qemu-aarch64)
test-arm64:
	@if [ -z "$(QEMU_ARM64)" ]; then \
	  echo "test-arm64: skipped: no qemu-aarch64 (apt-get install qemu-user-static)"; exit 0; fi; \
	GOARCH=arm64 $(GO) test -count=1 -short -exec $(QEMU_ARM64) ./internal/cpu ./internal/f16 ./internal/gemm

## demo: the pipeline on examples/tinyshakespeare.txt
demo: build
	@bash examples/demo.sh

## bench: the benchmarks against reference tools (installs them if missing)
bench: build
	bash bench/tokenize.sh
	bash bench/gemm.sh

## fuzz: each fuzz target for FUZZTIME (default 10s)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## lint: gofmt, go vet, and the darwin/arm64 cross-build Mac users need
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(MAKE) cross

## cross: build and vet every package, and build the tools, for darwin/arm64
cross:
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	@mkdir -p $(BIN)/darwin-arm64
	GOOS=darwin GOARCH=arm64 $(GO) build -trimpath -o $(BIN)/darwin-arm64/ ./cmd/...

clean:
	rm -rf $(BIN)
