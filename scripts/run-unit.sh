#!/usr/bin/env bash
# Runs the C unit test binaries (cmocka) and prints one summary line.
# A cluster-enabled redis-server on a unix socket, when redis-server is
# installed, lets test_slot compare key slots with CLUSTER KEYSLOT.
set -u
pass=0 fail=0

tmp=
if command -v redis-server >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    if redis-server --port 0 --unixsocket "$tmp/redis.sock" \
           --cluster-enabled yes --cluster-config-file "$tmp/nodes.conf" \
           --dir "$tmp" --save '' --appendonly no --daemonize yes \
           --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"; then
        for _ in $(seq 50); do
            if [ -S "$tmp/redis.sock" ] && redis-cli -s "$tmp/redis.sock" \
                   ping 2>/dev/null | grep -q PONG; then
                break
            fi
            sleep 0.1
        done
        export PERSONA_TEST_REDIS_SOCKET="$tmp/redis.sock"
    fi
fi

cleanup() {
    if [ -n "$tmp" ]; then
        [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

for t in "$@"; do
    if "$t"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "unit: FAILED: $t"
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
