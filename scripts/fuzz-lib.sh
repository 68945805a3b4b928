# shellcheck shell=bash
# Sourced by scripts/fuzz.sh and scripts/fuzz-coverage.sh: which fuzz
# targets to build, and how.
#   FUZZ_SKIP="files ..."   targets left out (names as in fuzz/fuzz_NAME.c,
#                           separated by blanks or commas)
#   FUZZ_ONLY="output ..."  only these targets
# Sets root, core (the core sources), libs, cc and targets (fuzz/fuzz_*.c
# selected); prints the skipped ones.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

shopt -s nullglob
core=("$root"/src/persona_*.c)
# shellcheck disable=SC2034  # used by the scripts that source this
libs=(-lhiredis -ljansson -lpcre2-8 -lmaxminddb -lcrypto)
cc=${FUZZ_CC:-clang}
targets=()

fuzz_select() {
    local src name skip only

    skip=${FUZZ_SKIP:-}
    skip=" ${skip//,/ } "
    only=${FUZZ_ONLY:-}
    only=" ${only//,/ } "

    for src in "$root"/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        name=${name#fuzz_}

        if [[ "$skip" == *" $name "* ]]; then
            echo "fuzz: fuzz_$name skipped (FUZZ_SKIP)"
        elif [ -z "${FUZZ_ONLY:-}" ] || [[ "$only" == *" $name "* ]]; then
            targets+=("$src")
        fi
    done
}

# fuzz_core DIR CFLAGS...: compiles the core once into DIR/*.o (the
# targets link them) and sets core_objs
core_objs=()

fuzz_core() {
    local dir=$1 src obj
    shift

    mkdir -p "$dir"
    core_objs=()

    for src in "${core[@]}"; do
        obj="$dir/$(basename "$src" .c).o"
        "$cc" "$@" -c -o "$obj" "$src"
        core_objs+=("$obj")
    done
}
