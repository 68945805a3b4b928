#!/usr/bin/env bash
# make demo: Redis with demo profiles + Debian's nginx with the module, the
# Cloudleaf Tea demo shop, a GeoIP database of documentation ranges and
# the example rules, on free loopback ports.  Ctrl-C stops everything it
# started.
#
# Environment:
#   DEMO_SMOKE=1     start, check every demo visitor's page answers 200, stop
#   DEMO_INFO=FILE   write PORT=, REDIS_PORT=, RUN=, FEATURES= to FILE once
#                    the demo answers (demo/test/run.sh reads it)
#   DEMO_EVENTS=0    do not print the tracking events as they come
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/build/ngx_http_persona_module.so"
check="$root/build/persona-check"
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

# Does this build of the module know a directive (or rules with goals)?
# Other parts of the module are written in parallel: the demo uses what
# is there and says what is not.  $1: lines for http{}, $2: for server{}.
has_feature() {
    cat > "$run/probe.conf" <<CONF
load_module $module;
pid $run/probe.pid;
events { }
http {
    persona_redis 127.0.0.1:1;
    $1
    server { listen 127.0.0.1:1; $2 }
}
CONF
    /usr/sbin/nginx -t -q -p "$run" -c "$run/probe.conf" \
        -e "$run/probe.log" > /dev/null 2>&1
}

features=()
have() { [[ " ${features[*]} " == *" $1 "* ]]; }
rules="$root/rules/shop.json"
if has_feature "persona_rules $root/demo/probe/goals.json;" ""; then
    # the shop's rules and rules/optional/goals.json, published into
    # $run/rules (a symlink to a checked release) by demo/publish-rules.sh
    rules="$run/rules"
    features+=(goals)
fi
track="# persona_track on;"
if has_feature "" "location / { persona on; persona_track on; }"; then
    track="persona_track on;"
    features+=(track)
fi
events="# persona_events persona:events maxlen=100000;"
if has_feature "persona_events persona:events maxlen=100000;" ""; then
    events="persona_events persona:events maxlen=100000;"
fi
metrics='return 404 "persona_metrics is not in this build of the module\n";'
if has_feature "" "location = /m { persona_metrics; }"; then
    metrics="persona_metrics;"
    features+=(metrics)
fi
token=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
preview="# persona_preview_token ...;"
if has_feature "" "location / { persona on; persona_preview_token x; }"; then
    preview="persona_preview_token $token;"
    features+=(preview)
fi

if have goals; then
    "$root/demo/publish-rules.sh" "$check" "$root" "$run/rules"
fi

# the GeoIP database: documentation ranges only (demo/make-geo-db.pl)
"$root/demo/make-geo-db.pl" "$run"

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
    # the workers enter the run directory for nginx's temp files and the
    # GeoIP database
    chmod 0711 "$run"
    chmod 0644 "$run/geo.mmdb"
fi

port=$(free_port)
# values for sed: | and & and \ escaped
sedq() { printf '%s' "$1" | sed -e 's/[|&\\]/\\&/g'; }
sed -e "s|@MODULE@|$module|" -e "s|@RUN@|$run|g" \
    -e "s|@REDIS_PORT@|$redis_port|" -e "s|@PORT@|$port|" \
    -e "s|@SITE@|$root/demo/site|" -e "s|@RULES@|$rules|" \
    -e "s|@USER@|$user_line|" \
    -e "s|@TRACK@|$(sedq "$track")|" -e "s|@EVENTS@|$(sedq "$events")|" \
    -e "s|@METRICS@|$(sedq "$metrics")|" \
    -e "s|@PREVIEW@|$(sedq "$preview")|" \
    "$root/demo/nginx.conf.in" > "$run/nginx.conf"

/usr/sbin/nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log" -t -q
/usr/sbin/nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log" &
pids+=($!)
wait_port "$port"

url="http://127.0.0.1:$port"
missing=
for f in goals track metrics preview; do
    have "$f" || missing="$missing $f"
done

cat <<TXT

Persona demo is running (Redis on 127.0.0.1:$redis_port, nginx on 127.0.0.1:$port).

  Shop          $url/
  Visitors      $url/persona-demo/        (click through every experience)
  Dashboard     $url/persona-demo/dashboard
  Metrics       $url/persona-demo/metrics

  Compare visitors from a shell (curl's own User-Agent counts as a bot):
    curl -si -A Mozilla/5.0 -b persona_id=alice $url/ | grep -i x-persona
    curl -s  -A Mozilla/5.0 -b persona_id=bob   $url/ | grep -i offer
    curl -s  -A Mozilla/5.0 '$url/?utm_source=douyin&utm_medium=live' | grep -i '<h1>'
    curl -s  -A Mozilla/5.0 -H 'X-Forwarded-For: 203.0.113.7' $url/ | grep -i same-day

  Edit a profile live, or the rules in $root/rules (reloaded within 2 s):
    redis-cli -p $redis_port HSET persona:profile:dana cart_items 1
    $check $rules --test $root/rules/tests/shop.json
TXT
if have track; then
    echo "    redis-cli -p $redis_port XREVRANGE persona:events + - COUNT 5"
fi
if have preview; then
    echo
    echo "  Preview token (header X-Persona-Token): $token"
    if link=$("$check" --preview-link "$url/" vip --token "$token" \
              2>/dev/null); then
        echo "  Preview the vip experience: $link"
    fi
fi
if [ -n "$missing" ]; then
    echo
    echo "  Not in this build of the module yet, left out:$missing"
fi
cat <<TXT

  Logs: $run/error.log, $run/access.log   Press Ctrl-C to stop.

TXT

failed=0
for id in alice bob carol dana erin nobody; do
    printf '  %-6s -> ' "$id"
    curl -s -o /dev/null -D - -A Mozilla/5.0 -H "Cookie: persona_id=$id" \
        "$url/" | tr -d '\r' \
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

if [ -n "${DEMO_INFO:-}" ]; then
    printf 'PORT=%s\nREDIS_PORT=%s\nRUN=%s\nFEATURES="%s"\nTOKEN=%s\n' \
        "$port" "$redis_port" "$run" "${features[*]}" "$token" \
        > "$DEMO_INFO.tmp"
    mv "$DEMO_INFO.tmp" "$DEMO_INFO"
fi

# DEMO_SMOKE=1: start, check the visitors' pages answer 200, stop
if [ -n "${DEMO_SMOKE:-}" ]; then
    exit "$failed"
fi

# edits of rules/ reach the demo: checked, then published
if have goals; then
    "$root/demo/publish-rules.sh" "$check" "$root" "$run/rules" --watch &
    pids+=($!)
fi

# every tracking event as it lands in the stream
if have track && [ "${DEMO_EVENTS:-1}" != 0 ] && [ -z "${DEMO_INFO:-}" ]; then
    echo "  Tracking events (Redis stream persona:events) as they come:"
    "$root/demo/events.sh" "$redis_port" persona:events &
    pids+=($!)
fi

wait "${pids[@]}"
