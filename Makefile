# Makefile: the entry points for building and testing Octopus.
#
#   make test         the whole suite on a fresh machine: test dependencies
#                     (kcat, Apache Kafka), every package with -race (summary:
#                     gotestsum's DONE line), the tests that need the race
#                     detector off (files *_norace_test.go), then every fuzz
#                     target for FUZZTIME each
#   make kafka        install Apache Kafka (the tests' oracle) from Maven jars
#   make build        build ./bin/octopus
#   make serve        run the broker from source (SERVE_ARGS=... to add flags)
#   make crash100     the long crash-recovery suite (100 SIGKILL cycles)
#   make bench-smoke  the benchmark script's smoke run, if it exists
#   make lint         go vet and a gofmt check

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go

# gotestsum is pinned; `go run` fetches it through the module proxy.
GOTESTSUM ?= gotest.tools/gotestsum@v1.13.0
GOTESTSUM_FORMAT ?= testname
TEST_TIMEOUT ?= 20m
FUZZTIME ?= 10s
BIN ?= bin/octopus
SERVE_ARGS ?=

.PHONY: all build test test-deps kafka test-go test-norace fuzz serve crash100 bench-smoke lint

all: build

build:
	$(GO) build -o $(BIN) ./cmd/octopus

test: test-deps kafka test-go test-norace fuzz

test-deps:
	bash scripts/install-test-deps.sh
	bash scripts/postgres.sh install

# kafka: Apache Kafka 4 jars for the differential tests (test/differential_test.go),
# which fail under CI without them; idempotent, needs Java 17+ and Maven.
kafka:
	bash scripts/kafka.sh install

test-go:
	$(GO) run $(GOTESTSUM) --format $(GOTESTSUM_FORMAT) -- -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# test-norace: tests built only without -race (//go:build !race in a
# *_norace_test.go file), such as allocation counts, which sync.Pool makes
# meaningless under the race detector.
test-norace:
	@tests=$$(grep -ho --include='*_norace_test.go' -r '^func Test[A-Za-z0-9_]*' . | sed 's/^func //' | sort -u | paste -sd'|'); \
	if [ -z "$$tests" ]; then echo "test-norace: none"; else \
		echo "test-norace: $$tests"; $(GO) test -count=1 -run "^($$tests)$$" ./... | grep -v -e 'no tests to run' -e 'no test files'; fi

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

serve:
	$(GO) run ./cmd/octopus serve $(SERVE_ARGS)

crash100: test-deps
	$(GO) run $(GOTESTSUM) --format standard-verbose -- -race -count=1 -timeout 60m -tags crash100 -run '^TestCrashRecovery$$' ./test/

bench-smoke:
	@if [ -f bench/compare.sh ]; then bash bench/compare.sh --smoke; else echo "bench-smoke: no bench/compare.sh"; fi

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
