# ngx_http_persona_module: build, test, demo and benchmark entry points.
# Every target that needs packages installs them first (scripts/deps.sh).

SHELL      := /bin/bash
ROOT       := $(CURDIR)
BUILD      := $(ROOT)/build
MODULE     := $(BUILD)/ngx_http_persona_module.so

CC         ?= cc
CORE_SRCS  := $(sort $(wildcard src/persona_*.c))
CORE_HDRS  := $(wildcard src/persona_*.h)
GLUE_SRCS  := ngx_http_persona_module.c $(wildcard src/ngx_http_persona_*.c) \
              $(wildcard src/ngx_http_persona_*.h)
CORE_LIBS  := -lhiredis -ljansson -lpcre2-8 -lmaxminddb
WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer
UNIT_SRCS  := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_CFLAGS = -g -O1 -std=gnu99 $(WARN) $(SAN) -Isrc -It/unit

.PHONY: all deps module tools unit check-rules itest test demo bench fuzz \
        fuzz-coverage valgrind chaos clean bench-scan

all: module tools

deps:
	@scripts/deps.sh build

module: $(MODULE)

$(MODULE): config $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	@scripts/deps.sh build
	@scripts/build-module.sh

# Command-line tools built from the pure core (persona-check comes here).
tools: $(BUILD)/persona-check

$(BUILD)/persona-check: tools/persona-check.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu99 $(WARN) -Isrc -o $@ tools/persona-check.c \
	    $(CORE_SRCS) $(CORE_LIBS)

$(BUILD)/unit/%: t/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(wildcard t/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS) -lcmocka

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

# the example rules and their expectation cases, through persona-check
check-rules: $(BUILD)/persona-check
	$(BUILD)/persona-check rules/shop.json --test rules/tests/shop.json

itest: module
	@scripts/run-tests.sh

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory check-rules
	@FUZZ_SKIP="$(FUZZ_SKIP)" FUZZ_TOTAL=60 scripts/fuzz.sh 10
	@$(MAKE) --no-print-directory itest

# long fuzzing runs: make fuzz FUZZ_SECONDS=600 (each target);
# `make test` fuzzes about 60 s in all (at most 10 s a target).
FUZZ_SECONDS ?= 60
# targets left out (fuzz/fuzz_NAME.c names, space-separated); none
FUZZ_SKIP ?=

fuzz:
	@scripts/deps.sh fuzz
	@FUZZ_SKIP="$(FUZZ_SKIP)" scripts/fuzz.sh $(FUZZ_SECONDS)

# line coverage of src/persona_*.c by the corpora of `make fuzz`
fuzz-coverage:
	@scripts/deps.sh fuzz
	@FUZZ_SKIP="$(FUZZ_SKIP)" scripts/fuzz-coverage.sh

valgrind:
	@scripts/deps.sh valgrind
	@$(MAKE) --no-print-directory all
	@TEST_NGINX_USE_VALGRIND=1 scripts/run-tests.sh

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory all
	@demo/run.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@bench/run.sh

# the injection scan alone (pure core, no nginx, a few seconds): MB/s
# over the 200 KiB page of make bench (bench/scan-bench.c)
bench-scan:
	@mkdir -p $(BUILD)/bench-scan
	$(CC) -O2 -g -std=gnu99 $(WARN) -Isrc -o $(BUILD)/scan-bench \
	    bench/scan-bench.c src/persona_html.c src/persona_inject.c
	@bench/make-fixtures.pl $(BUILD)/bench-scan bench/page.html >/dev/null
	@$(BUILD)/scan-bench $(BUILD)/bench-scan/html/inject-200k/index.html

# faults under load (Redis stopped, paused, killed; broken rules; reloads),
# 2-3 minutes: not part of `make test`
chaos:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory module
	@scripts/chaos.sh

clean:
	rm -rf $(BUILD) t/servroot*
