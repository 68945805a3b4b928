#!/usr/bin/env bash
# make demo: Redis with demo profiles + Debian's nginx with the module and a
# demo site, on free loopback ports.  Ctrl-C stops everything it started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/build/ngx_http_persona_module.so"
run=$(mktemp -d /tmp/persona-demo.XXXXXX)
pids=()

cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$run"
    echo "demo: stopped"
}
trap cleanup EXIT INT TERM

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0)->sockport, "\n"'
}

wait_port() {
    for _ in $(seq 100); do
        if perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(
                PeerAddr => "127.0.0.1", PeerPort => $ARGV[0])' "$1"; then
            return 0
        fi
        sleep 0.05
    done
    echo "demo: nothing answers on port $1" >&2
    exit 1
}

[ -f "$module" ] || { echo "demo: build first (make)" >&2; exit 1; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$run" --logfile "$run/redis.log" &
pids+=($!)
wait_port "$redis_port"
redis-cli -p "$redis_port" < "$root/demo/profiles.redis" > /dev/null

port=$(free_port)
sed -e "s|@MODULE@|$module|" -e "s|@RUN@|$run|g" \
    -e "s|@REDIS_PORT@|$redis_port|" -e "s|@PORT@|$port|" \
    -e "s|@SITE@|$root/demo/site|" -e "s|@ROOT@|$root|g" \
    "$root/demo/nginx.conf.in" > "$run/nginx.conf"

/usr/sbin/nginx -p "$run" -c "$run/nginx.conf" -t -q
/usr/sbin/nginx -p "$run" -c "$run/nginx.conf" &
pids+=($!)
wait_port "$port"

cat <<TXT

Persona demo is running (Redis on 127.0.0.1:$redis_port, nginx on 127.0.0.1:$port).

  Open   http://127.0.0.1:$port/   and switch visitors with the links.

  Or compare visitors from a shell (curl's own User-Agent is a bot):
    curl -si -A Mozilla/5.0 -H 'Cookie: persona_id=alice' http://127.0.0.1:$port/ | grep -i x-persona
    curl -si -A Mozilla/5.0 -H 'Cookie: persona_id=bob'   http://127.0.0.1:$port/ | grep -i x-persona
    curl -s  -A Mozilla/5.0 -H 'Cookie: persona_id=bob'   http://127.0.0.1:$port/ | grep -i offer
    curl -s  -A Mozilla/5.0 'http://127.0.0.1:$port/?utm_source=tiktok&utm_medium=paid_social' | grep -i '<h1>'

  Edit a profile live, or the rules (reloaded within 2 s):
    redis-cli -p $redis_port HSET persona:profile:dana cart_items 1
    $root/build/persona-check $root/rules/shop.json --test $root/rules/tests/shop.json

  Logs: $run/error.log, $run/access.log   Press Ctrl-C to stop.

TXT

for id in alice bob carol dana nobody; do
    printf '  %-6s -> ' "$id"
    curl -s -o /dev/null -D - -A Mozilla/5.0 -H "Cookie: persona_id=$id" \
        "http://127.0.0.1:$port/" | tr -d '\r' \
        | awk -F': ' 'tolower($1) == "x-persona-segment" { s = $2 }
                      tolower($1) == "x-persona-variants" { v = $2 }
                      END { printf "segment %s%s\n", s ? s : "?",
                            v ? ", variants " v : "" }'
done
echo

if [ -n "${DEMO_SMOKE:-}" ]; then
    exit 0
fi

wait "${pids[@]}"
