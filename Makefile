# Flagpole build and test targets. `make test` is what CI runs.
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 5s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build test deps vet fmt-check unit fuzz bench clean

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

# Each fuzz target runs for FUZZTIME beyond its seed corpus (which `unit`
# already runs), so CI explores a little new input on every change.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

test: deps vet fmt-check unit fuzz

bench:
	./scripts/bench.sh

clean:
	rm -rf bin
