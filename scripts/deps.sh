#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
# demo-test also needs Node.js (any packaging: Debian's nodejs and npm are
# installed only when there is no node) and demo/test's npm packages
# (npm ci, from package-lock.json).
# Usage: scripts/deps.sh build|test|demo|demo-test|deb|bench|fuzz|valgrind
set -euo pipefail

build_pkgs="gcc make pkg-config nginx nginx-dev libhiredis-dev libjansson-dev
            libmaxminddb-dev libpcre2-dev libssl-dev zlib1g-dev"
test_pkgs="$build_pkgs redis-server redis-tools libcmocka-dev perl
           libtest-base-perl libtext-diff-perl libtest-longstring-perl
           liblist-moreutils-perl libmaxmind-db-writer-perl clang
           libclang-rt-14-dev curl
           liburi-perl libhttp-message-perl libio-socket-ssl-perl
           libipc-run-perl python3 python3-prometheus-client chromium"
demo_pkgs="$build_pkgs redis-server redis-tools curl libmaxmind-db-writer-perl"
# fonts-wqy-microhei: the shop's Chinese brand name in the screenshots
demo_test_pkgs="$demo_pkgs chromium fonts-wqy-microhei"
deb_pkgs="$build_pkgs dpkg-dev debhelper lintian"
# libnginx-mod-http-lua + lua-nginx-redis: the OpenResty-style peer of
# make bench (the same job in Lua, loaded into the same /usr/sbin/nginx)
bench_pkgs="$build_pkgs redis-server redis-tools wrk util-linux procps curl
            libmaxmind-db-writer-perl libnginx-mod-http-lua lua-nginx-redis"
fuzz_pkgs="$build_pkgs clang libclang-rt-14-dev llvm-14"
valgrind_pkgs="$test_pkgs valgrind"

case "${1:-build}" in
    build)    want=$build_pkgs ;;
    test)     want=$test_pkgs ;;
    demo)     want=$demo_pkgs ;;
    demo-test) want=$demo_test_pkgs ;;
    deb)      want=$deb_pkgs ;;
    bench)    want=$bench_pkgs ;;
    fuzz)     want=$fuzz_pkgs ;;
    valgrind) want=$valgrind_pkgs ;;
    *) echo "usage: $0 build|test|demo|demo-test|deb|bench|fuzz|valgrind" >&2
       exit 2 ;;
esac

missing=()
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${1:-build}" = demo-test ]; then
    command -v node > /dev/null || missing+=(nodejs)
    command -v npm > /dev/null || missing+=(npm)
fi

# demo/test's node_modules, as package-lock.json says
npm_ci() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/demo/test"
    [ "${1:-build}" = demo-test ] || return 0
    if [ -f "$dir/node_modules/.package-lock.json" ] \
        && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]
    then
        return 0
    fi
    echo "deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ ${#missing[@]} -eq 0 ]; then
    npm_ci "${1:-build}"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has empty package lists: update first, once.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    npm_ci "${1:-build}"
    exit 0
fi

echo "deps: missing packages: ${missing[*]}" >&2
echo "deps: run this, then try again:" >&2
echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
exit 1
