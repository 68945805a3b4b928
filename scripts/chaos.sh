#!/usr/bin/env bash
# make chaos: the module under steady wrk load on loopback while Redis and
# the configuration misbehave, one phase at a time:
#
#   baseline       nothing happens (the reference for the others)
#   sigstop        Redis frozen (SIGSTOP) for FAULT seconds, then SIGCONT
#   client-pause   CLIENT PAUSE for FAULT seconds
#   debug-sleep    DEBUG SLEEP for FAULT seconds (the server blocks)
#   client-kill    CLIENT KILL TYPE normal every second (nginx's pool dies)
#   redis-restart  Redis killed (SIGKILL), FAULT seconds down, restarted
#                  empty (every profile gone: misses), reloaded after
#   broken-rules   the rules file replaced by invalid JSON (auto-reload
#                  and one nginx -s reload must keep the last good rules
#                  and the old workers), then restored
#   reload-storm   nginx -s reload every second
#
# Per phase it prints: requests, non-2xx responses (wrk's own count, by
# status), socket errors, worker crashes (error.log "exited on signal",
# worker pids that changed without a reload), wrk's p99 latency against
# the bound (persona_redis timeout + CHAOS_MARGIN_MS), the $persona_status
# values of the access log, and, when the module answers persona_metrics,
# whether persona_requests_total{status} moved exactly as the access log
# counted. Invariants: non-2xx = 0; crashes = 0; p99 <= bound; socket
# errors = 0 (connect/read/write errors are allowed in reload-storm only,
# where old workers close keepalive connections); breaker seen in the
# phases where Redis stops answering, stale too when the module accepts
# persona_profile_cache; the breaker closes again after every phase (the
# known visitor gets status ok within fail_timeout + 5 s); metrics agree.
# Exit status 1 when an invariant fails, 0 when all hold.
#
# Everything runs in a mktemp -d directory on free ports and is stopped
# by PID on exit (also on Ctrl-C). Not part of make test (2-3 minutes).
#
# Environment:
#   CHAOS_PHASE_SECONDS=12   length of each phase (wrk runs that long)
#   CHAOS_FAULT_SECONDS=5    how long Redis stays stopped/paused/asleep/down
#   CHAOS_PHASES=all         comma-separated subset of the phases above
#   CHAOS_CONNECTIONS=16     wrk connections (one thread)
#   CHAOS_DELAY_MS=5         pause between requests of one connection
#   CHAOS_TIMEOUT_MS=100     persona_redis timeout=
#   CHAOS_MARGIN_MS=250      p99 may exceed the timeout by this much
#                            (queueing on a loaded 2-core machine)
#   CHAOS_PROFILES=10000     profiles loaded into Redis
#   CHAOS_MODULE=path        module (default build/ngx_http_persona_module.so)
#   CHAOS_NGINX=path         nginx binary (default /usr/sbin/nginx)
#   CHAOS_KEEP=1             keep the temp dir (logs, configs)
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHAOS_DIR=$ROOT/chaos

PHASE_SECS=${CHAOS_PHASE_SECONDS:-12}
FAULT_SECS=${CHAOS_FAULT_SECONDS:-5}
PHASES=${CHAOS_PHASES:-all}
CONNS=${CHAOS_CONNECTIONS:-16}
DELAY_MS=${CHAOS_DELAY_MS:-5}
TIMEOUT_MS=${CHAOS_TIMEOUT_MS:-100}
MARGIN_MS=${CHAOS_MARGIN_MS:-250}
PROFILES=${CHAOS_PROFILES:-10000}
MODULE=${CHAOS_MODULE:-$ROOT/build/ngx_http_persona_module.so}
NGINX=${CHAOS_NGINX:-/usr/sbin/nginx}
FAIL_TIMEOUT=2           # persona_redis fail_timeout= (chaos/nginx.conf.in)
KNOWN_ID=u000042
SEGMENTS=(vip bargain family tech travel)
KNOWN_SEGMENT=${SEGMENTS[$(( 42 % ${#SEGMENTS[@]} ))]}
ALL_PHASES=(baseline sigstop client-pause debug-sleep client-kill
            redis-restart broken-rules reload-storm)

log() { printf 'chaos: %s\n' "$*" >&2; }
die() { printf 'chaos: error: %s\n' "$*" >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

for v in PHASE_SECS FAULT_SECS CONNS DELAY_MS TIMEOUT_MS MARGIN_MS PROFILES
do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[ "$PHASE_SECS" -ge $(( FAULT_SECS + 4 )) ] \
    || die "CHAOS_PHASE_SECONDS must be >= CHAOS_FAULT_SECONDS + 4"
[ "$PROFILES" -ge 43 ] || die "CHAOS_PROFILES must be >= 43"
[ "$CONNS" -ge 1 ] || die "CHAOS_CONNECTIONS must be >= 1"
if [ "$PHASES" = all ]; then
    SELECTED=("${ALL_PHASES[@]}")
else
    IFS=', ' read -r -a SELECTED <<<"$PHASES"
    for p in "${SELECTED[@]}"; do
        [[ " ${ALL_PHASES[*]} " == *" $p "* ]] \
            || die "CHAOS_PHASES: unknown phase '$p' (${ALL_PHASES[*]})"
    done
fi

for c in redis-server redis-cli wrk curl awk; do
    command -v "$c" >/dev/null 2>&1 \
        || die "'$c' not found; run 'scripts/deps.sh bench' (or make chaos)"
done
[ -x "$NGINX" ] || die "nginx binary '$NGINX' not found"
[ -f "$MODULE" ] || die "module '$MODULE' not found: make module"


# ---- temp dir, processes, cleanup ------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/persona-chaos.XXXXXX")
chmod 0755 "$TMP"
mkdir -p "$TMP/html/page" "$TMP/tmp" "$TMP/redis" "$TMP/rules"
REDIS_PID=
NGINX_PID=
WRK_PID=
DONE=0

stop_pid() {    # stop_pid PID NAME: CONT (a stopped Redis), TERM, KILL
    local pid=$1 name=$2
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap '' INT TERM
    trap - EXIT
    stop_pid "$WRK_PID" wrk
    stop_pid "$NGINX_PID" nginx
    stop_pid "$REDIS_PID" redis-server
    if [ "$DONE" -ne 1 ] || [ -n "${CHAOS_KEEP:-}" ] || [ "$rc" -ne 0 ]; then
        log "logs and configs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM


# ---- helpers ---------------------------------------------------------------

port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p="$hex" 'FNR > 1 { split($2, a, ":"); if (a[2] == p) f = 1 }
                     END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found"
}

rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

sed_esc() { printf '%s' "$1" | sed 's/[&|\\]/\\&/g'; }

header() {      # header NAME < response headers
    tr -d '\r' | awk -v h="$1" 'BEGIN { h = tolower(h) }
        { n = index($0, ":") }
        n && tolower(substr($0, 1, n - 1)) == h {
            v = substr($0, n + 1); sub(/^[ \t]+/, "", v); print v; exit }'
}

# "status segment" of one request of the known visitor
probe() {
    local hdrs
    hdrs=$(curl -sS -m 5 -D - -o /dev/null \
           -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/page/" 2>/dev/null) || {
        echo "curl-failed -"
        return 0
    }
    echo "$(header X-Persona-Status <<<"$hdrs") $(header X-Persona-Segment \
        <<<"$hdrs")"
}


# ---- Redis -----------------------------------------------------------------

REDIS_VERSION=$(redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/')
REDIS_MAJOR=${REDIS_VERSION%%.*}

start_redis() {         # on REDIS_PORT (chosen on the first call)
    local -a extra=()
    # Redis 7 refuses DEBUG unless enabled
    [ "$REDIS_MAJOR" -lt 7 ] || extra=(--enable-debug-command yes)
    : >"$TMP/redis.log"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
        --appendonly no --dir "$TMP/redis" --logfile "$TMP/redis.log" \
        --daemonize no "${extra[@]}" </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        [ "$(rcli PING 2>/dev/null)" != PONG ] || return 0
        sleep 0.05
    done
    tail -n 5 "$TMP/redis.log" >&2 || true
    die "redis-server did not start on port $REDIS_PORT"
}

load_profiles() {
    local out
    out=$(LC_ALL=C awk -v n="$PROFILES" -v segs="${SEGMENTS[*]}" '
        function bulk(s) { return "$" length(s) "\r\n" s "\r\n" }
        BEGIN {
            ns = split(segs, seg, " ")
            for (i = 0; i < n; i++)
                printf "*6\r\n%s%s%s%s%s%s", bulk("HSET"),
                    bulk(sprintf("persona:profile:u%06d", i)),
                    bulk("segment"), bulk(seg[i % ns + 1]),
                    bulk("first_name"), bulk("Ada")
        }' | rcli --pipe 2>&1) || die "loading profiles failed: $out"
    grep -q 'errors: 0,' <<<"$out" || die "loading profiles failed: $out"
}


# ---- nginx -----------------------------------------------------------------

write_rules() {         # the good rules, written atomically
    local s sep='' f=$TMP/rules/chaos.json
    {
        printf '{ "description": "scripts/chaos.sh", "segments": ['
        for s in "${SEGMENTS[@]}"; do
            printf '%s\n  { "name": "%s", "when": { "profile.segment": "%s" } }' \
                "$sep" "$s" "$s"
            sep=,
        done
        printf ' ],\n  "default": "everyone" }\n'
    } >"$f.tmp"
    chmod a+r "$f.tmp"
    mv -f "$f.tmp" "$f"
}

write_conf() {          # write_conf CACHE_LINE CACHE_VAR METRICS_LINE
    sed -e "s|@MODULE@|$(sed_esc "$TMP/ngx_http_persona_module.so")|g" \
        -e "s|@PREFIX@|$(sed_esc "$TMP")|g" \
        -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
        -e "s|@TIMEOUT_MS@|$TIMEOUT_MS|g" \
        -e "s|@CACHE@|$(sed_esc "$1")|g" \
        -e "s|@CACHE_VAR@|$(sed_esc "$2")|g" \
        -e "s|@METRICS@|$(sed_esc "$3")|g" \
        "$CHAOS_DIR/nginx.conf.in" >"$TMP/nginx.conf"
}

nginx_t() {
    "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log" -t \
        >"$TMP/nginx-t.log" 2>&1
}

# Feature detection: persona_profile_cache (+ $persona_cache) and
# persona_metrics, each by nginx -t of a configuration that uses it.
configure() {
    local cache="persona_profile_cache zone=chaos:16m ttl=1s negative_ttl=1s"
    cache+=" stale=120s;"
    HAS_CACHE=0
    HAS_METRICS=0
    write_conf "$cache" '$persona_cache' 'return 404;'
    if nginx_t; then
        HAS_CACHE=1
    else
        CACHE_WHY=$(grep -m1 emerg "$TMP/nginx-t.log" \
                    | sed -E 's/.*\[emerg\] //; s/ in \/.*//')
    fi
    write_conf '# no persona_profile_cache' - 'persona_metrics;'
    if nginx_t; then
        HAS_METRICS=1
    else
        METRICS_WHY=$(grep -m1 emerg "$TMP/nginx-t.log" \
                      | sed -E 's/.*\[emerg\] //; s/ in \/.*//')
    fi
    if [ "$HAS_CACHE" -eq 1 ]; then
        CACHE_LINE=$cache
        CACHE_VAR='$persona_cache'
    else
        CACHE_LINE='# persona_profile_cache: not in this module'
        CACHE_VAR=-
    fi
    if [ "$HAS_METRICS" -eq 1 ]; then
        METRICS_LINE='persona_metrics;'
    else
        METRICS_LINE='return 404;'
    fi
    write_conf "$CACHE_LINE" "$CACHE_VAR" "$METRICS_LINE"
    nginx_t || { cat "$TMP/nginx-t.log" >&2; die "nginx -t failed"; }
}

start_nginx() {
    local code
    "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log" \
        -g 'daemon off;' </dev/null >>"$TMP/nginx.out" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$NGINX_PID" 2>/dev/null || break
        code=$(curl -s -o /dev/null -w '%{http_code}' \
               "http://127.0.0.1:$NGINX_PORT/page/" 2>/dev/null) || true
        [ "$code" != 200 ] || return 0
        sleep 0.05
    done
    tail -n 5 "$TMP/error.log" >&2 || true
    die "nginx did not start on port $NGINX_PORT"
}

workers() { pgrep -P "$NGINX_PID" | sort | tr '\n' ' '; }

nginx_reload() {
    "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log" -s reload \
        >>"$TMP/reload.log" 2>&1
}

# persona_requests_total by status: "status=count" lines (empty when the
# module does not answer /metrics)
scrape_metrics() {
    [ "$HAS_METRICS" -eq 1 ] || return 0
    curl -sS -m 5 "http://127.0.0.1:$NGINX_PORT/metrics" 2>/dev/null \
        | awk '/^persona_requests_total\{/ {
                 if (match($0, /status="[^"]*"/)) {
                     s = substr($0, RSTART + 8, RLENGTH - 9)
                     c[s] += $NF } }
               /^persona_breaker_trips_total[ {]/ { c["#trips"] += $NF }
               END { for (s in c) printf "%s=%d\n", s, c[s] }' | sort
}


# ---- the faults ------------------------------------------------------------

# each fault_* runs while wrk loads nginx for PHASE_SECS seconds (called
# by name from run_phase)
# shellcheck disable=SC2317
fault_baseline() { :; }

fault_sigstop() {
    sleep 2
    kill -STOP "$REDIS_PID"
    sleep "$FAULT_SECS"
    kill -CONT "$REDIS_PID"
}

fault_client-pause() {
    sleep 2
    rcli CLIENT PAUSE $(( FAULT_SECS * 1000 )) >/dev/null
    sleep "$FAULT_SECS"
}

fault_debug-sleep() {
    sleep 2
    # the reply comes after the sleep
    rcli DEBUG SLEEP "$FAULT_SECS" >/dev/null
}

fault_client-kill() {
    local t
    for ((t = 1; t < PHASE_SECS - 1; t++)); do
        sleep 1
        rcli CLIENT KILL TYPE normal >>"$TMP/client-kill.log" 2>&1 || true
    done
}

fault_redis-restart() {
    sleep 2
    kill -KILL "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
    sleep "$FAULT_SECS"
    start_redis         # empty: every visitor is a miss from now on
}

fault_broken-rules() {
    local f=$TMP/rules/chaos.json w0 w1 p
    sleep 1
    printf '{ "segments": [ { "name": "broken", "when": ' >"$f.tmp"
    chmod a+r "$f.tmp"
    mv -f "$f.tmp" "$f"
    sleep 3                     # persona_rules_auto_reload 1s sees it
    w0=$(workers)
    if nginx_reload; then
        sleep 1
    fi
    sleep 1
    w1=$(workers)
    p=$(probe)
    echo "$w0|$w1|$p" >"$TMP/broken-rules.check"
    write_rules                 # restored
}

fault_reload-storm() {
    local t
    for ((t = 1; t < PHASE_SECS - 1; t++)); do
        sleep 1
        nginx_reload || echo "reload $t failed" >>"$TMP/reload-storm.log"
    done
}


# ---- one phase -------------------------------------------------------------

declare -A P_LINE=()
FAILED=()

fail() {        # fail PHASE WHAT...
    local ph=$1
    shift
    FAILED+=("$ph: $*")
}

run_phase() {
    local ph=$1 a0 e0 w0 w1 m0 m1 out=$TMP/wrk-$1.txt line kv
    # shellcheck disable=SC2034  # all set from wrk's line, not all used
    local requests s2xx s3xx s4xx s5xx sother err_connect err_read err_write
    local err_timeout p50_us p99_us max_us crashes statuses n_log t_rec
    local bound=$(( TIMEOUT_MS + MARGIN_MS )) sock p99_ms need k want_rec

    log "phase $ph (${PHASE_SECS}s)"
    a0=$(wc -l <"$TMP/access.log")
    e0=$(wc -l <"$TMP/error.log")
    w0=$(workers)
    m0=$(scrape_metrics)

    wrk -t 1 -c "$CONNS" -d "${PHASE_SECS}s" --timeout 5s \
        -s "$CHAOS_DIR/wrk.lua" "http://127.0.0.1:$NGINX_PORT/page/" \
        -- "$PROFILES" "$DELAY_MS" </dev/null >"$out" 2>&1 &
    WRK_PID=$!
    "fault_$ph"
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed in phase $ph"; }
    WRK_PID=

    # the breaker closes again: the known visitor gets ok (miss after
    # Redis came back empty: it answers, the profile is gone)
    want_rec=ok
    [ "$ph" != redis-restart ] || want_rec=miss
    t_rec=$(date +%s)
    while [ "$(probe | awk '{ print $1 }')" != "$want_rec" ]; do
        if [ $(( $(date +%s) - t_rec )) -gt $(( FAIL_TIMEOUT + 5 )) ]; then
            fail "$ph" "no status $want_rec within $(( FAIL_TIMEOUT + 5 ))s after" \
                 "the phase (breaker stuck?)"
            break
        fi
        sleep 0.2
    done
    t_rec=$(( $(date +%s) - t_rec ))
    [ "$ph" != redis-restart ] || load_profiles
    sleep 0.3
    w1=$(workers)
    m1=$(scrape_metrics)

    line=$(grep '^CHAOS_RESULT ' "$out") \
        || { cat "$out" >&2; die "no wrk result in phase $ph"; }
    for kv in ${line#CHAOS_RESULT }; do
        printf -v "${kv%%=*}" '%s' "${kv#*=}"
    done

    # statuses of this phase's access log lines (wrk and the probes)
    tail -n +$(( a0 + 1 )) "$TMP/access.log" >"$TMP/access-$ph.log"
    n_log=$(wc -l <"$TMP/access-$ph.log")
    statuses=$(awk '{ c[$3]++ } END { for (s in c) printf "%s=%d\n", s, c[s] }' \
               "$TMP/access-$ph.log" | sort)
    if [ "$HAS_CACHE" -eq 1 ]; then
        P_CACHE[$ph]=$(awk '{ c[$5]++ } END { for (s in c) printf "%s=%d ",
                       s, c[s] }' "$TMP/access-$ph.log")
    fi
    tail -n +$(( e0 + 1 )) "$TMP/error.log" >"$TMP/error-$ph.log"
    crashes=$(grep -c 'exited on signal' "$TMP/error-$ph.log" || true)

    # invariants
    [ "$(( s3xx + s4xx + s5xx + sother ))" -eq 0 ] \
        || fail "$ph" "non-2xx: 3xx=$s3xx 4xx=$s4xx 5xx=$s5xx other=$sother"
    [ "$crashes" -eq 0 ] || fail "$ph" "$crashes worker(s) exited on signal"
    if [ "$ph" != reload-storm ] && [ "$w0" != "$w1" ]; then
        fail "$ph" "worker pids changed without a reload ($w0-> $w1)"
    fi
    sock=$(( err_connect + err_read + err_write ))
    if [ "$err_timeout" -ne 0 ] \
            || { [ "$sock" -ne 0 ] && [ "$ph" != reload-storm ]; }; then
        fail "$ph" "socket errors: connect=$err_connect read=$err_read" \
             "write=$err_write timeout=$err_timeout"
    fi
    p99_ms=$(awk -v u="$p99_us" 'BEGIN { printf "%.1f", u / 1000 }')
    [ "$p99_us" -le $(( bound * 1000 )) ] \
        || fail "$ph" "p99 ${p99_ms}ms over the bound ${bound}ms"
    [ "$requests" -gt 0 ] || fail "$ph" "no requests completed"
    case $ph in
        sigstop|client-pause|debug-sleep|redis-restart)
            need=breaker
            [ "$HAS_CACHE" -eq 0 ] || [ "$ph" = redis-restart ] \
                || need+=" stale"
            for k in $need; do
                grep -q "^$k=" <<<"$statuses" \
                    || fail "$ph" "status $k never seen"
            done ;;
        broken-rules)
            local c
            c=$(cat "$TMP/broken-rules.check" 2>/dev/null || echo '||')
            [ "${c%%|*}" = "$(cut -d'|' -f2 <<<"$c")" ] \
                || fail "$ph" "a reload with broken rules replaced the" \
                        "workers (${c%%|*}-> $(cut -d'|' -f2 <<<"$c"))"
            [ "${c##*|}" = "ok $KNOWN_SEGMENT" ] \
                || fail "$ph" "with broken rules on disk the known visitor" \
                        "got '${c##*|}', expected 'ok $KNOWN_SEGMENT'"
            grep -q 'emerg\|error' "$TMP/error-$ph.log" \
                || fail "$ph" "the broken rules were not reported in" \
                        "error.log" ;;
    esac
    # metrics: persona_requests_total{status} deltas = the access log's
    local mcheck=n/a
    if [ -n "$m1" ]; then
        mcheck=$(metrics_delta "$m0" "$m1" "$statuses")
        [ "${mcheck%% *}" = agree ] || fail "$ph" "metrics: $mcheck"
        case $ph in
            sigstop|client-pause|debug-sleep|redis-restart)
                [[ $mcheck != *"breaker trips +0)"* ]] \
                    || fail "$ph" "persona_breaker_trips_total did not move" ;;
        esac
    elif [ "$HAS_METRICS" -eq 1 ]; then
        mcheck="no persona_requests_total"
    fi

    P_LINE[$ph]=$(printf '%-14s %8s %7s %6s %7s %8s %6s  %-7s %s' "$ph" \
        "$requests" "$(( s3xx + s4xx + s5xx + sother ))" "$sock/$err_timeout" \
        "$crashes" "$p99_ms" "$bound" "${t_rec}s" \
        "$(tr '\n' ' ' <<<"$statuses")")
    P_METRICS[$ph]=$mcheck
    P_LOG[$ph]="wrk $requests (p50 $(awk -v u="$p50_us" \
        'BEGIN { printf "%.1f", u / 1000 }')ms, max $(awk -v u="$max_us" \
        'BEGIN { printf "%.1f", u / 1000 }')ms), access log $n_log lines;"
    P_LOG[$ph]+=" error.log:"
    P_LOG[$ph]+=" $(grep -c '\[error\]' "$TMP/error-$ph.log" || true) error,"
    P_LOG[$ph]+=" $(grep -c '\[alert\]\|\[crit\]' "$TMP/error-$ph.log" \
                    || true) alert/crit,"
    P_LOG[$ph]+=" $(grep -c '\[emerg\]' "$TMP/error-$ph.log" || true) emerg"
    printf '%s\n' "${P_LINE[$ph]}" >&2
}
declare -A P_METRICS=() P_LOG=() P_CACHE=()

# metrics_delta BEFORE AFTER STATUSES: "agree" or what differs
metrics_delta() {
    awk -v before="$1" -v after="$2" -v seen="$3" 'BEGIN {
        n = split(before, b, "\n"); for (i = 1; i <= n; i++) {
            split(b[i], kv, "="); m0[kv[1]] = kv[2] }
        n = split(after, a, "\n"); for (i = 1; i <= n; i++) {
            split(a[i], kv, "="); m1[kv[1]] = kv[2]; keys[kv[1]] = 1 }
        n = split(seen, s, "\n"); for (i = 1; i <= n; i++) {
            split(s[i], kv, "="); c[kv[1]] = kv[2]; keys[kv[1]] = 1 }
        bad = ""
        for (k in keys) {
            if (k == "" || k == "#trips") continue
            d = m1[k] - m0[k]
            if (d != c[k] + 0) bad = bad sprintf(" %s metrics %+d log %d", k, d, c[k])
        }
        trips = m1["#trips"] - m0["#trips"]
        if (bad == "") printf "agree (breaker trips %+d)\n", trips
        else print "differ:" bad }'
}


# ---- main ------------------------------------------------------------------

T0=$(date +%s)
cp "$MODULE" "$TMP/ngx_http_persona_module.so"
cp "$ROOT/bench/page.html" "$TMP/html/page/index.html"
chmod -R a+rX "$TMP/html"
REDIS_PORT=$(free_port)
start_redis
load_profiles
write_rules
NGINX_PORT=$(free_port)
configure
: >"$TMP/access.log"
start_nginx
log "nginx $NGINX_PID on 127.0.0.1:$NGINX_PORT (workers $(workers))," \
    "redis $REDIS_VERSION on $REDIS_PORT, $PROFILES profiles"
log "persona_profile_cache: $( [ "$HAS_CACHE" -eq 1 ] && echo present \
    || echo "absent (${CACHE_WHY:-?})"); persona_metrics: $( \
    [ "$HAS_METRICS" -eq 1 ] && echo present || echo "absent (${METRICS_WHY:-?})")"
[ "$(probe)" = "ok $KNOWN_SEGMENT" ] \
    || die "sanity: $KNOWN_ID got '$(probe)', expected 'ok $KNOWN_SEGMENT'"

for ph in "${SELECTED[@]}"; do
    run_phase "$ph"
done

DONE=1
echo "persona chaos  $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(( $(date +%s) - T0 ))s"
echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)"
echo "nginx:   $("$NGINX" -v 2>&1 | sed 's/.*: //'), 2 workers; redis" \
     "$REDIS_VERSION; persona_redis timeout=${TIMEOUT_MS}ms max_fails=3" \
     "fail_timeout=${FAIL_TIMEOUT}s; wrk -c$CONNS, ${DELAY_MS}ms between" \
     "requests, ${PHASE_SECS}s per phase, faults of ${FAULT_SECS}s"
echo "features: persona_profile_cache $( [ "$HAS_CACHE" -eq 1 ] \
     && echo 'present (ttl=1s stale=120s)' || echo absent), persona_metrics" \
     "$( [ "$HAS_METRICS" -eq 1 ] && echo present || echo absent)"
echo
printf '%-14s %8s %7s %6s %7s %8s %6s  %-7s %s\n' phase requests non2xx \
    sock/to crashes p99_ms bound recover '$persona_status (access log)'
for ph in "${SELECTED[@]}"; do
    printf '%s\n' "${P_LINE[$ph]}"
done
echo
for ph in "${SELECTED[@]}"; do
    echo "$ph: ${P_LOG[$ph]}; metrics: ${P_METRICS[$ph]}${P_CACHE[$ph]:+;}" \
         "${P_CACHE[$ph]:+\$persona_cache ${P_CACHE[$ph]}}"
done
echo
if [ "${#FAILED[@]}" -eq 0 ]; then
    echo "all invariants hold"
    exit 0
fi
echo "invariants FAILED:"
printf '  %s\n' "${FAILED[@]}"
exit 1
