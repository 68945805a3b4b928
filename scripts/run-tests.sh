#!/usr/bin/env bash
# Integration tests: prove over t/*.t (or the .t files given as arguments)
# against a real nginx loading the module, with a throw-away redis-server.
#
# Harness: the installed Test::Nginx::Socket when perl finds one, else the
# project's fallback in t/lib.  Everything can be overridden from the
# environment (TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES, TEST_NGINX_PORT,
# TEST_NGINX_SERVROOT, TEST_NGINX_USE_VALGRIND, PROVE_FLAGS, ...).
#
# Usage: scripts/run-tests.sh [t/NNN-topic.t ...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# A free TCP port outside the kernel's ephemeral range (so that outgoing
# connections cannot take it meanwhile), checked on all addresses because
# the test server listens on *:port.
free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 200) {
            my $port = 20000 + int rand 12000;
            my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0",
                LocalPort => $port, Proto => "tcp", Listen => 1) or next;
            close $s;
            print $port;
            exit 0;
        }
        exit 1;'
}

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$root/t/servroot}
if [ -z "${TEST_NGINX_PORT:-}" ]; then
    TEST_NGINX_PORT=$(free_port)
fi
export TEST_NGINX_PORT
# set but empty means "load no module" (the harness's own plumbing tests)
export TEST_NGINX_LOAD_MODULES=${TEST_NGINX_LOAD_MODULES-$root/build/ngx_http_persona_module.so}

for so in $TEST_NGINX_LOAD_MODULES; do
    if [ ! -f "$so" ]; then
        echo "run-tests: module $so not found (run 'make module' first)" >&2
        exit 2
    fi
done

for tool in prove redis-server "$TEST_NGINX_BINARY"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-tests: $tool not found (run 'scripts/deps.sh test')" >&2
        exit 2
    fi
done

# Loading the harness runs its END block, which stops the nginx recorded
# in the server root: TEST_NGINX_SERVROOT is already ours at this point.
if ! perl -MTest::Nginx::Socket -e1 >/dev/null 2>&1; then
    export PERL5LIB="$root/t/lib${PERL5LIB:+:$PERL5LIB}"
fi
harness=$(perl -MTest::Nginx::Socket -MCwd=abs_path \
    -e 'print abs_path($INC{"Test/Nginx/Socket.pm"})' 2>/dev/null) || {
    echo "run-tests: cannot load Test::Nginx::Socket (PERL5LIB=${PERL5LIB:-})" >&2
    exit 2
}
echo "Test::Nginx::Socket: $harness"

redis_dir=
redis_pid=

# shellcheck disable=SC2317  # invoked through trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # After Ctrl-C the test process dies before its END block can stop
    # nginx: stop the one recorded in our server root.
    local pidfile=$TEST_NGINX_SERVROOT/logs/nginx.pid
    if [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            kill -QUIT "$pid" 2>/dev/null || true
        fi
    fi
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    if [ -n "$redis_dir" ]; then
        rm -rf "$redis_dir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_ping() {
    local reply=
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3>&-
    [[ $reply == +PONG* ]]
}

redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/persona-itest.XXXXXX")
redis_sock=$redis_dir/redis.sock

# Another process may grab the port between the check and redis's bind:
# try a few ports.
for attempt in 1 2 3 4 5; do
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 \
        --unixsocket "$redis_sock" --unixsocketperm 700 \
        --dir "$redis_dir" --save '' --appendonly no \
        --daemonize no --logfile "$redis_dir/redis.log" &
    redis_pid=$!

    for _ in $(seq 1 100); do
        redis_ping "$redis_port" && break
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.05
    done
    redis_ping "$redis_port" && break

    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
    if [ "$attempt" -eq 5 ]; then
        echo "run-tests: redis-server did not start:" >&2
        cat "$redis_dir/redis.log" >&2 || true
        exit 2
    fi
done

export TEST_NGINX_REDIS_PORT=$redis_port
export TEST_NGINX_REDIS_SOCKET=$redis_sock

if [ $# -gt 0 ]; then
    files=("$@")
else
    files=(t/*.t)
fi

echo "nginx: $TEST_NGINX_BINARY port $TEST_NGINX_PORT," \
     "servroot $TEST_NGINX_SERVROOT"
echo "modules: ${TEST_NGINX_LOAD_MODULES:-(none)}"
echo "redis: 127.0.0.1:$TEST_NGINX_REDIS_PORT and $TEST_NGINX_REDIS_SOCKET"

set +e
# shellcheck disable=SC2086  # PROVE_FLAGS is a list of options
prove ${PROVE_FLAGS:-} "${files[@]}"
rc=$?
set -e
exit "$rc"
