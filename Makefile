# Flagpole build and test targets. `make test` is what CI runs.
GO       ?= go
PKGS     := ./...
# Fuzzing beyond the seed corpus: a fixed number of executions per target
# in `make test` (so CI costs the same every run), a time per target in
# `make fuzz` for longer exploration.
FUZZEXECS ?= 2000x
FUZZTIME ?= 60s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build test deps vet fmt-check unit fuzz-short fuzz bench clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/flagpole ./cmd/flagpole

deps:
	./scripts/deps.sh

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Each fuzz target runs beyond its seed corpus (which `unit` already runs):
# FUZZEXECS executions in `make test`, so CI explores a little new input on
# every change at a fixed cost; FUZZTIME each in `make fuzz`.
fuzz-short:
	./scripts/fuzz.sh $(FUZZEXECS)

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

test: deps vet fmt-check unit fuzz-short

bench:
	./scripts/bench.sh

clean:
	rm -rf bin
