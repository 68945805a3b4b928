#!/usr/bin/env bash
# make demo: Redis with demo profiles + Debian's nginx with the module and a
# demo site, on free loopback ports.  Ctrl-C stops everything it started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/build/ngx_http_persona_module.so"
run=$(mktemp -d /tmp/persona-demo.XXXXXX)
pids=()

# stops everything and exits (a signal used to let the script run on)
cleanup() {
    local rc=${1:-$?}
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$run"
    echo "demo: stopped"
    exit "$rc"
}
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

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

# Who the workers run as.  Started by a user, nginx cannot switch users:
# the workers are that user, who can read the clone.  Started by root,
# nginx would switch them to "nobody", who cannot enter a clone in a
# private directory (under /root, in a mktemp -d): every page would be
# 403.  So as root they run as the clone's owner (root for a clone root
# made), the least privilege that reads the site, the rules and their
# blocks; root only when the owner cannot reach them.
user_line=
if [ "$(id -u)" = 0 ]; then
    owner=$(stat -c %U "$root")
    group=$(stat -c %G "$root")
    if [ "$owner" = UNKNOWN ] || [ "$group" = UNKNOWN ] \
        || [ -n "$(runuser -u "$owner" -- find "$root/demo/site" \
                   "$root/rules" ! -readable -print -quit 2>&1)" ]
    then
        owner=root
        group=$(id -gn root)
    fi
    user_line="user $owner $group;"
    echo "demo: started as root, nginx workers run as $owner"
    # the workers enter the run directory for nginx's temp files
    chmod 0711 "$run"
fi

port=$(free_port)
sed -e "s|@MODULE@|$module|" -e "s|@RUN@|$run|g" \
    -e "s|@REDIS_PORT@|$redis_port|" -e "s|@PORT@|$port|" \
    -e "s|@SITE@|$root/demo/site|" -e "s|@ROOT@|$root|g" \
    -e "s|@USER@|$user_line|" \
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

failed=0
for id in alice bob carol dana nobody; do
    printf '  %-6s -> ' "$id"
    curl -s -o /dev/null -D - -A Mozilla/5.0 -H "Cookie: persona_id=$id" \
        "http://127.0.0.1:$port/" | tr -d '\r' \
        | awk -F': ' 'NR == 1 { split($0, st, " ") }
                      tolower($1) == "x-persona-segment" { s = $2 }
                      tolower($1) == "x-persona-variants" { v = $2 }
                      END { printf "%s, segment %s%s\n", st[2] ? st[2] : "?",
                            s ? s : "?", v ? ", variants " v : "" }' \
        | tee "$run/smoke"
    grep -q '^200,' "$run/smoke" || failed=1
done
echo

if [ "$failed" = 1 ]; then
    echo "demo: a page did not answer 200; $run/error.log ends with:" >&2
    tail -n 5 "$run/error.log" >&2
fi

# DEMO_SMOKE=1: start, check the visitors' pages answer 200, stop
if [ -n "${DEMO_SMOKE:-}" ]; then
    exit "$failed"
fi

wait "${pids[@]}"
