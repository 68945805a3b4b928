#!/usr/bin/env bash
# Runs nginx's own test suite (a checkout of nginx-tests, kept outside this
# repository) against Debian's nginx three times: without the module, with
# the module loaded and "persona on" in every http block, and with
# "persona on; persona_data_layer on; persona_cache_control off".  Prints,
# per test file, the subtests whose result differs from the run without
# the module.  Needs a Redis only for the module's lookups; one is started
# on a free loopback port.
#
# Usage: scripts/nginx-tests.sh /path/to/nginx-tests [file.t ...]
#   default files: every HTTP test (no stream, mail, quic, h3)
#   NGINX_TESTS_JOBS=2     prove's -j
#   NGINX_TESTS_OUT=dir    where the logs go (default build/nginx-tests)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:?usage: $0 /path/to/nginx-tests [file.t ...]}
suite=$(cd "$suite" && pwd)
shift
out=${NGINX_TESTS_OUT:-$root/build/nginx-tests}
jobs=${NGINX_TESTS_JOBS:-2}
module=${TEST_NGINX_MODULE:-$root/build/ngx_http_persona_module.so}
binary=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_MODULES=${TEST_NGINX_MODULES:-/usr/lib/nginx/modules}

[ -f "$module" ] || { echo "no $module: run make first" >&2; exit 1; }

if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -t files < <(cd "$suite" && ls ./*.t | sed 's|^\./||' \
        | grep -Ev '^(stream|mail|quic|h3)_')
fi

mkdir -p "$out"
tmp=$(mktemp -d)
redis_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        { exec 3<>"/dev/tcp/127.0.0.1/$p"; } 2>/dev/null || { echo "$p"; return; }
        exec 3>&-
    done
}

# a copy, so that a rebuild during the run changes nothing
cp "$module" "$tmp/ngx_http_persona_module.so"
module=$tmp/ngx_http_persona_module.so

port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --daemonize no > "$tmp/redis.log" 2>&1 &
redis_pid=$!

# as root the workers would run as nobody, who cannot enter the tests'
# private temporary directories
user=
[ "$(id -u)" -eq 0 ] && user="user root;"
globals="$user load_module $module;"
http="persona_redis 127.0.0.1:$port timeout=100ms; persona on;"
declare -A modes=(
    [plain]="$user||"
    [persona]="$globals||$http"
    [persona-dl]="$globals||$http persona_data_layer on; persona_cache_control off;"
)

run_mode() {
    local mode=$1 g=${modes[$1]%%||*} h=${modes[$1]#*||}
    echo "nginx-tests: $mode (${#files[@]} files)"
    mkdir -p "$out/$mode"
    printf '%s\n' "${files[@]}" | (cd "$suite" && \
        TEST_NGINX_BINARY=$binary TEST_NGINX_GLOBALS=$g \
        TEST_NGINX_GLOBALS_HTTP=$h xargs -P "$jobs" -I{} \
        sh -c 'prove -v "$1" > "$2/$1.log" 2>&1 || true' _ {} "$out/$mode")
}

# "file.t N ok|not ok|skip|todo" per subtest, from the verbose logs
results() {
    local f
    for f in "${files[@]}"; do
        perl -ne '
            BEGIN { $f = shift @ARGV }
            if (/^(not ok|ok) (\d+)(.*)$/) {
                my ($r, $n, $rest) = ($1, $2, $3);
                $r = "skip" if $rest =~ /# skip/i;
                $r = "todo-$r" if $rest =~ /# TODO/;
                print "$f $n $r\n";
            }
            print "$f 0 skipped: $1\n" if /skipped: (.*)$/;
            print "$f 0 died\n" if /Dubious|Bad plan|No subtests run/;
        ' "$f" "$out/$1/$f.log"
    done
}

for mode in plain persona persona-dl; do
    run_mode "$mode"
    results "$mode" > "$out/$mode.results"
    echo "  $(grep -c ' ok$' "$out/$mode.results") ok," \
         "$(grep -c ' not ok$' "$out/$mode.results") not ok"
done

status=0
for mode in persona persona-dl; do
    echo
    echo "== differences: $mode vs plain"
    if diff <(cat "$out/plain.results") <(cat "$out/$mode.results") \
        > "$out/$mode.diff"; then
        echo "none"
    else
        grep '^[<>]' "$out/$mode.diff" || true
        status=1
    fi
done
echo
echo "logs: $out"
exit $status
