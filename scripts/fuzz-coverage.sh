#!/usr/bin/env bash
# Line coverage of the core (src/persona_*.c) by the fuzz corpora: builds
# every fuzz/fuzz_NAME.c with clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) into build/fuzz-cov/,
# replays build/fuzz/corpus-NAME and fuzz/seeds/NAME once each (libFuzzer
# -runs=0), merges the profiles with llvm-profdata and prints llvm-cov's
# per-file table (lines and functions).
#   FUZZ_SKIP, FUZZ_ONLY   which targets (scripts/fuzz-lib.sh)
# Corpora come from `make fuzz` (scripts/fuzz.sh); without them only the
# seeds count.  A replay that crashes or hangs writes no profile: it is
# named, the others are still reported, and the exit status is 1.
# Needs clang, libclang-rt-14-dev and llvm-14 (scripts/deps.sh fuzz).
set -euo pipefail

# shellcheck source=scripts/fuzz-lib.sh
. "$(dirname "$0")/fuzz-lib.sh"

out="$root/build/fuzz-cov"

tool() {
    local t
    for t in "$1-14" "$1"; do
        if command -v "$t" >/dev/null; then
            echo "$t"
            return
        fi
    done
    echo "fuzz-coverage: $1 not found; run: scripts/deps.sh fuzz" >&2
    exit 1
}

profdata=$(tool llvm-profdata)
cov=$(tool llvm-cov)

fuzz_select

if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz-coverage: no fuzz/fuzz_*.c targets"
    exit 0
fi

rm -rf "$out"
mkdir -p "$out"

cflags=(-g -O0 -std=gnu99 -fprofile-instr-generate -fcoverage-mapping
        -I"$root/src")

fuzz_core "$out/core" "${cflags[@]}"

objects=()
status=0

for src in "${targets[@]}"; do
    target=$(basename "$src" .c)
    name=${target#fuzz_}
    bin="$out/$target"

    "$cc" "${cflags[@]}" -fsanitize=fuzzer -o "$bin" "$src" \
        "${core_objs[@]}" "${libs[@]}"

    dirs=()
    for d in "$root/build/fuzz/corpus-$name" "$root/fuzz/seeds/$name"; do
        if [ -d "$d" ]; then
            dirs+=("$d")
        fi
    done

    inputs=0
    if [ ${#dirs[@]} -gt 0 ]; then
        inputs=$(find "${dirs[@]}" -type f | wc -l)
    fi

    if [ "$inputs" -eq 0 ]; then
        echo "fuzz-coverage: $target: no corpus, no seeds"
        continue
    fi

    # a scratch corpus first: libFuzzer may write into the first directory
    mkdir -p "$out/scratch-$name"

    if LLVM_PROFILE_FILE="$out/$target.profraw" \
            "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
            "$out/scratch-$name" "${dirs[@]}" >"$out/$target.log" 2>&1 \
        && [ -s "$out/$target.profraw" ]
    then
        echo "fuzz-coverage: $target: $inputs inputs replayed"
        objects+=("$bin")
    else
        status=1
        echo "fuzz-coverage: $target: replay FAILED, not counted;" \
             "see $out/$target.log"
    fi
done

if [ ${#objects[@]} -eq 0 ]; then
    echo "fuzz-coverage: nothing replayed"
    exit 1
fi

"$profdata" merge -sparse -o "$out/fuzz.profdata" "$out"/*.profraw

args=(-instr-profile="$out/fuzz.profdata" "${objects[0]}")
for o in "${objects[@]:1}"; do
    args+=(-object="$o")
done

# llvm-cov sizes the table for the full paths: cut them and its rules
rule=$(printf '%080d' 0 | tr 0 -)

echo
"$cov" report "${args[@]}" -show-region-summary=false \
    -show-branch-summary=false -show-instantiation-summary=false \
    "${core[@]}" | sed -e "s|$root/||" -e "s/^---*\$/$rule/"

exit $status
