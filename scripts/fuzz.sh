#!/usr/bin/env bash
# Builds every fuzz/fuzz_NAME.c as a libFuzzer target (clang, ASan + UBSan)
# into build/fuzz/ and runs each for SECONDS (default 60), one after the
# other, on one core.
#   corpus:       build/fuzz/corpus-NAME (kept between runs), seeded from
#                 fuzz/seeds/NAME/ when that directory exists
#   dictionary:   fuzz/fuzz_NAME.dict when it exists
#   log, crashes: build/fuzz/fuzz_NAME.log, build/fuzz/fuzz_NAME-crash-*
# Usage: scripts/fuzz.sh [SECONDS]
# Environment:
#   FUZZ_TOTAL=N           at most about N seconds of fuzzing in all: each
#                          target runs min(SECONDS, N / targets), at least
#                          3 s (`make test`: FUZZ_TOTAL=60 scripts/fuzz.sh 10)
#   FUZZ_SKIP, FUZZ_ONLY   which targets (scripts/fuzz-lib.sh)
# Needs clang and libclang-rt-14-dev (scripts/deps.sh fuzz).
set -euo pipefail

# shellcheck source=scripts/fuzz-lib.sh
. "$(dirname "$0")/fuzz-lib.sh"

secs=${1:-60}
out="$root/build/fuzz"

case "$secs${FUZZ_TOTAL:-}" in
    ''|*[!0-9]*) echo "usage: [FUZZ_TOTAL=N] $0 [SECONDS]" >&2; exit 2 ;;
esac

if ! command -v "$cc" >/dev/null; then
    echo "fuzz: $cc not found; run: scripts/deps.sh fuzz" >&2
    exit 1
fi

mkdir -p "$out"

fuzz_select

if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no fuzz/fuzz_*.c targets"
    exit 0
fi

if [ -n "${FUZZ_TOTAL:-}" ]; then
    per=$(( FUZZ_TOTAL / ${#targets[@]} ))
    [ "$per" -ge 3 ] || per=3
    [ "$per" -ge "$secs" ] || secs=$per
fi

cflags=(-g -O1 -std=gnu99 -Wall -Wextra -Wno-unused-parameter
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        -I"$root/src")

fuzz_core "$out/core" "${cflags[@]}" \
    -fsanitize=fuzzer-no-link,address,undefined

status=0

for src in "${targets[@]}"; do
    target=$(basename "$src" .c)
    name=${target#fuzz_}
    bin="$out/$target"
    corpus="$out/corpus-$name"
    log="$out/$target.log"

    "$cc" "${cflags[@]}" -fsanitize=fuzzer,address,undefined -o "$bin" \
        "$src" "${core_objs[@]}" "${libs[@]}"

    mkdir -p "$corpus"
    dirs=("$corpus")
    if [ -d "$root/fuzz/seeds/$name" ]; then
        dirs+=("$root/fuzz/seeds/$name")
    fi

    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
          -max_len=8192 -print_final_stats=1
          -artifact_prefix="$out/$target-")
    if [ -f "$root/fuzz/$target.dict" ]; then
        opts+=(-dict="$root/fuzz/$target.dict")
    fi

    echo "fuzz: $target for ${secs}s"

    if "$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
        files=$(find "$corpus" -type f | wc -l)
        echo "fuzz: $target: ok, ${runs:-?} runs, ${cov:-cov: ?}," \
             "corpus $files files"
    else
        status=1
        echo "fuzz: $target: FAILED, see $log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" \
            | head -n 5 || true
        for a in "$out/$target"-*; do
            echo "fuzz: reproduce with: $bin $a"
        done
    fi
done

exit $status
