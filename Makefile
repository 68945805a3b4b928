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
CORE_LIBS  := -lhiredis -ljansson -lpcre2-8 -lmaxminddb -lcrypto
WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer
UNIT_SRCS  := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_CFLAGS = -g -O1 -std=gnu99 $(WARN) $(SAN) -Isrc -It/unit

.PHONY: all deps module tools unit check-rules itest tools-test test demo \
        demo-test deb deb-check bench bench-scan fuzz fuzz-coverage valgrind \
        chaos clean

all: module tools

deps:
	@scripts/deps.sh build

module: $(MODULE)

$(MODULE): config $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	@scripts/deps.sh build
	@scripts/build-module.sh

# Command-line tools built from the pure core: persona-check, and
# persona-report (the core for --rules, hiredis with blocking I/O).
tools: $(BUILD)/persona-check $(BUILD)/persona-report

CHECK_SRCS := tools/persona-check.c $(sort $(wildcard tools/check_*.c))

$(BUILD)/persona-check: $(CHECK_SRCS) tools/check.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu99 $(WARN) -Isrc -Itools -o $@ $(CHECK_SRCS) \
	    $(CORE_SRCS) $(CORE_LIBS)

REPORT_SRCS := tools/persona-report.c tools/report_stats.c

$(BUILD)/persona-report: $(REPORT_SRCS) tools/report_stats.h $(CORE_SRCS) \
                         $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu99 $(WARN) -Isrc -Itools -o $@ $(REPORT_SRCS) \
	    $(CORE_SRCS) $(CORE_LIBS) -lm

$(BUILD)/unit/%: t/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(wildcard t/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -Itools -o $@ $< $(CORE_SRCS) $(UNIT_EXTRA_$*) \
	    $(CORE_LIBS) -lcmocka -lm

# unit tests of the command-line tools' own cores
UNIT_EXTRA_test_report := tools/report_stats.c
$(BUILD)/unit/test_report: tools/report_stats.c tools/report_stats.h

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

# the example rules and their expectation cases, through persona-check
# (with rules/optional/*.json when persona-check knows goals: demo/probe/)
check-rules: $(BUILD)/persona-check
	$(BUILD)/persona-check rules/shop.json --test rules/tests/shop.json
	@if $(BUILD)/persona-check demo/probe/goals.json > /dev/null 2>&1; then \
	    d=$$(mktemp -d) && cp -R rules/*.json rules/blocks rules/optional/*.json $$d/ \
	    && $(BUILD)/persona-check $$d --test rules/tests/shop.json; \
	    rc=$$?; rm -rf "$$d"; exit $$rc; \
	else \
	    echo "check-rules: rules/optional/ left out (no goals in this build)"; \
	fi

itest: module
	@scripts/run-tests.sh

# the command-line tools against a throw-away redis-server (t/tools/*.t)
tools-test: tools
	@TEST_NGINX_LOAD_MODULES= scripts/run-tests.sh t/tools/*.t

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory check-rules
	@$(MAKE) --no-print-directory tools-test
	@FUZZ_SKIP="$(FUZZ_SKIP)" FUZZ_TOTAL=60 scripts/fuzz.sh 10
	@$(MAKE) --no-print-directory itest
	@if [ -x /usr/bin/chromium ]; then \
	    $(MAKE) --no-print-directory demo-test; \
	else \
	    echo "test: demo-test skipped (no /usr/bin/chromium)"; \
	fi

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

# the demo in headless Chromium (screenshots in build/demo-test/)
demo-test:
	@scripts/deps.sh demo-test
	@$(MAKE) --no-print-directory all
	@demo/test/run.sh

# the Debian package, built in build/deb/ (libnginx-mod-http-persona_*.deb)
deb:
	@scripts/deps.sh deb
	@scripts/build-deb.sh

# root, throw-away: apt install the package, nginx -t README's minimal
# configuration with its example rules, purge it again
deb-check:
	@scripts/deb-install-check.sh

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
