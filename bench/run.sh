#!/usr/bin/env bash
# Benchmark: plain nginx vs. the same page with `persona on` and one Redis
# lookup per request (random ids over 100k profiles, keepalive pool).
#
# Everything runs on loopback, on free ports, inside a mktemp -d directory,
# and is stopped by PID on exit (also on Ctrl-C). Layout, as in issue 2:
# nginx (master + 1 worker) alone on one core, redis-server and wrk on the
# other, so Redis's own CPU does not eat into nginx's.
#
# Usage: bench/run.sh            (make bench builds the module, then runs this)
# Environment:
#   BENCH_DURATION=10    measured seconds per location
#   BENCH_WARMUP=2       warm-up seconds per location
#   BENCH_CONNECTIONS=32 wrk connections (threads: BENCH_THREADS=1)
#   BENCH_PROFILES=100000 profiles loaded into Redis
#   BENCH_REDIS_SOCKET=tcp nginx reaches Redis over loopback TCP; "unix"
#                        for a unix socket (comparison; the issue means tcp)
#   BENCH_NGINX_CPU=1    core for nginx;  BENCH_LOAD_CPU=0  core for redis+wrk
#   BENCH_MODULE=path    module to load
#                        (default build/ngx_http_persona_module.so)
#   BENCH_NGINX=path     nginx binary (default /usr/sbin/nginx)
#   BENCH_KEEP=1         keep the temp dir (logs, configs) after the run
#   BENCH_STRICT=1       exit 1 when a target is missed
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
PROFILES=${BENCH_PROFILES:-100000}
NGINX_CPU=${BENCH_NGINX_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
MODULE=${BENCH_MODULE:-$ROOT/build/ngx_http_persona_module.so}
NGINX=${BENCH_NGINX:-/usr/sbin/nginx}
REDIS_SOCKET=${BENCH_REDIS_SOCKET:-tcp}

# Targets from issue 2 ("Performance").
TARGET_RATIO=0.75        # persona req/s >= 0.75 x plain req/s
TARGET_OVERHEAD_US=5     # <= 5 us nginx CPU per request over plain
SEGMENTS=(vip bargain family tech travel)
KNOWN_ID=u000042         # expected segment: SEGMENTS[42 % 5] = family

CMDLINE="bench/run.sh${*:+ $*}"
if [ -n "${MAKELEVEL:-}" ]; then
    CMDLINE="make bench"
fi
for v in BENCH_DURATION BENCH_WARMUP BENCH_CONNECTIONS BENCH_THREADS \
         BENCH_PROFILES BENCH_NGINX_CPU BENCH_LOAD_CPU BENCH_MODULE \
         BENCH_NGINX BENCH_REDIS_SOCKET; do
    if [ -n "${!v:-}" ]; then
        CMDLINE="$v=${!v} $CMDLINE"
    fi
done

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

for v in DURATION WARMUP CONNS THREADS PROFILES NGINX_CPU LOAD_CPU; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[ "$DURATION" -ge 1 ] || die "BENCH_DURATION must be >= 1"
if [ "$PROFILES" -lt 43 ] || [ "$PROFILES" -gt 1000000 ]; then
    die "BENCH_PROFILES must be within 43..1000000"
fi
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"
case $REDIS_SOCKET in
    tcp|unix) ;;
    *) die "BENCH_REDIS_SOCKET must be tcp or unix, got '$REDIS_SOCKET'" ;;
esac


# ---- prerequisites ---------------------------------------------------------

need() {
    command -v "$1" >/dev/null 2>&1 \
        || die "'$1' not found; run 'scripts/deps.sh bench' (or make bench)"
}

for c in redis-server redis-cli wrk taskset curl awk; do
    need "$c"
done
[ -x "$NGINX" ] || die "nginx binary '$NGINX' not found (apt-get install nginx)"
[ -f "$MODULE" ] || die "module '$MODULE' not found; build it first:" \
    "scripts/build-module.sh (or make bench)"

NCPU=$(nproc)
if [ "$NCPU" -lt 2 ] || [ "$NGINX_CPU" -ge "$NCPU" ] \
        || [ "$LOAD_CPU" -ge "$NCPU" ]; then
    die "need cores $NGINX_CPU and $LOAD_CPU for pinning, this machine has" \
        "$NCPU (set BENCH_NGINX_CPU / BENCH_LOAD_CPU)"
fi
[ "$NGINX_CPU" -ne "$LOAD_CPU" ] \
    || die "BENCH_NGINX_CPU and BENCH_LOAD_CPU must differ"

CLK_TCK=$(getconf CLK_TCK)


# ---- temp dir, process bookkeeping, cleanup --------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/persona-bench.XXXXXX")
# nginx workers drop to "nobody" when started as root: let them in.
chmod 0755 "$TMP"
mkdir -p "$TMP/html/plain" "$TMP/html/persona" "$TMP/tmp" "$TMP/redis"

REDIS_PID=
NGINX_PID=
WRK_PID=
OK=0
INTERRUPTED=0

stop_pid() {    # stop_pid PID NAME: TERM, wait up to 5 s, then KILL
    local pid=$1 name=$2
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
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
    # Finish the cleanup even if Ctrl-C or TERM comes again.
    trap '' INT TERM
    trap - EXIT
    stop_pid "$WRK_PID" wrk
    stop_pid "$NGINX_PID" nginx
    stop_pid "$REDIS_PID" redis-server
    if [ "$OK" -ne 1 ] && [ "$INTERRUPTED" -ne 1 ]; then
        if [ -s "$TMP/error.log" ]; then
            log "last lines of the nginx error log:"
            tail -n 15 "$TMP/error.log" >&2 || true
        fi
        log "logs and configs kept in $TMP"
    elif [ -n "${BENCH_KEEP:-}" ]; then
        log "temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'INTERRUPTED=1; log interrupted; exit 130' INT
trap 'INTERRUPTED=1; log terminated; exit 143' TERM


# ---- helpers ---------------------------------------------------------------

# A random loopback TCP port nobody uses (any state, IPv4 or IPv6). The
# servers are retried on another port if they still lose a race for it.
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

# "utime+stime utime stime" of a process in clock ticks (all its threads).
cpu_ticks() {
    local stat rest
    stat=$(<"/proc/$1/stat") || die "cannot read /proc/$1/stat"
    rest=${stat##*) }
    # fields after "(comm) ": state=1 ... utime=12 stime=13
    awk '{ print $12 + $13, $12, $13 }' <<<"$rest"
}

# On-CPU time in nanoseconds from the scheduler (finer than ticks).
cpu_ns() {
    local a
    if read -r a _ <"/proc/$1/schedstat" 2>/dev/null; then
        echo "$a"
    else
        echo 0
    fi
}

# "busy total steal" jiffies of one cpu, from /proc/stat.
cpu_jiffies() {
    awk -v c="cpu$1" '$1 == c {
        t = 0; for (i = 2; i <= 9; i++) t += $i
        print t - $5 - $6, t, $9 }' /proc/stat
}

pct() {         # pct PART WHOLE
    awk -v a="$1" -v b="$2" \
        'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }'
}

rcli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# One INFO call (one connection) for all sections: prints "<hgetall calls>
# <total_connections_received> <connected_clients> <keyspace_misses>".
redis_counters() {
    rcli INFO stats commandstats clients | tr -d '\r' | awk -F'[:=,]' '
        $1 == "cmdstat_hgetall"             { h = $3 }
        $1 == "total_connections_received"  { t = $2 }
        $1 == "connected_clients"           { c = $2 }
        $1 == "keyspace_misses"             { m = $2 }
        END { printf "%d %d %d %d\n", h, t, c, m }'
}

nginx_requests() {
    curl -fsS "http://127.0.0.1:$NGINX_PORT/bench-status" \
        | awk 'NR == 3 { print $3 }'
}


# ---- 1. redis-server with 100k hash profiles -------------------------------

start_redis() {
    for _ in 1 2 3 4 5; do
        REDIS_PORT=$(free_port)
        : >"$TMP/redis.log"
        taskset -c "$LOAD_CPU" redis-server \
            --bind 127.0.0.1 --port "$REDIS_PORT" \
            --save '' --appendonly no --dir "$TMP/redis" \
            --logfile "$TMP/redis.log" --daemonize no \
            --unixsocket "$TMP/redis/redis.sock" --unixsocketperm 777 \
            </dev/null >/dev/null 2>&1 &
        REDIS_PID=$!
        for _ in $(seq 1 100); do
            if ! kill -0 "$REDIS_PID" 2>/dev/null; then
                break
            fi
            if [ "$(rcli PING 2>/dev/null)" = PONG ]; then
                return 0
            fi
            sleep 0.05
        done
        stop_pid "$REDIS_PID" redis-server
        REDIS_PID=
        if ! grep -q 'Address already in use' "$TMP/redis.log"; then
            tail -n 5 "$TMP/redis.log" >&2 || true
            die "redis-server did not start on port $REDIS_PORT"
        fi
        log "port $REDIS_PORT taken, retrying"
    done
    die "redis-server did not find a free port"
}

load_profiles() {
    local out
    # RESP for HSET persona:profile:uNNNNNN segment S tier T first_name F ltv L
    out=$(LC_ALL=C awk -v n="$PROFILES" -v segs="${SEGMENTS[*]}" '
        function bulk(s) { return "$" length(s) "\r\n" s "\r\n" }
        BEGIN {
            ns = split(segs, seg, " ")
            nt = split("bronze silver gold platinum", tier, " ")
            nf = split("Ada Grace Linus Margaret Ken Barbara Dennis Frances", \
                       first, " ")
            for (i = 0; i < n; i++) {
                printf "*10\r\n%s%s%s%s%s%s%s%s%s%s", bulk("HSET"),
                    bulk(sprintf("persona:profile:u%06d", i)),
                    bulk("segment"), bulk(seg[i % ns + 1]),
                    bulk("tier"), bulk(tier[int(i / 7) % nt + 1]),
                    bulk("first_name"), bulk(first[int(i / 3) % nf + 1]),
                    bulk("ltv"), bulk(sprintf("%d", (i * 7919) % 5000))
            }
        }' | rcli --pipe 2>&1) || die "loading profiles failed: $out"
    grep -q 'errors: 0,' <<<"$out" || die "loading profiles failed: $out"
    [ "$(rcli DBSIZE)" -eq "$PROFILES" ] \
        || die "expected $PROFILES keys in Redis, got $(rcli DBSIZE)"
}


# ---- 2. nginx --------------------------------------------------------------

sed_esc() {      # escape a value for the right side of s|...|...|
    printf '%s' "$1" | sed 's/[&|\\]/\\&/g'
}

write_nginx_conf() {
    local addr
    if [ "$REDIS_SOCKET" = unix ]; then
        addr="unix:$TMP/redis/redis.sock"
    else
        addr="127.0.0.1:$REDIS_PORT"
    fi
    sed -e "s|@MODULE@|$(sed_esc "$TMP/ngx_http_persona_module.so")|g" \
        -e "s|@PREFIX@|$(sed_esc "$TMP")|g" \
        -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@REDIS_ADDR@|$(sed_esc "$addr")|g" \
        "$BENCH_DIR/nginx.conf.in" >"$TMP/nginx.conf"
}


start_nginx() {
    local code
    # Load a private copy: a rebuild of build/*.so during the run (other
    # people share the checkout) would otherwise crash the worker.
    cp "$MODULE" "$TMP/ngx_http_persona_module.so"
    MODULE_SHA=$(sha256sum "$TMP/ngx_http_persona_module.so" | cut -c1-12)
    MODULE_BUILT=$(date -u -r "$MODULE" '+%Y-%m-%d %H:%M:%S UTC')
    cp "$BENCH_DIR/page.html" "$TMP/html/plain/index.html"
    cp "$BENCH_DIR/page.html" "$TMP/html/persona/index.html"
    chmod -R a+rX "$TMP/html"
    for _ in 1 2 3 4 5; do
        NGINX_PORT=$(free_port)
        write_nginx_conf
        if ! "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log" \
                -t >"$TMP/nginx-t.log" 2>&1; then
            cat "$TMP/nginx-t.log" >&2
            die "nginx -t failed for $TMP/nginx.conf"
        fi
        taskset -c "$NGINX_CPU" "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" \
            -e "$TMP/error.log" -g 'daemon off;' \
            </dev/null >>"$TMP/nginx.out" 2>&1 &
        NGINX_PID=$!
        for _ in $(seq 1 100); do
            if ! kill -0 "$NGINX_PID" 2>/dev/null; then
                break
            fi
            code=$(curl -s -o /dev/null -w '%{http_code}' \
                   "http://127.0.0.1:$NGINX_PORT/plain/" 2>/dev/null) || true
            if [ "$code" = 200 ]; then
                return 0
            fi
            sleep 0.05
        done
        stop_pid "$NGINX_PID" nginx
        NGINX_PID=
        if ! grep -q 'Address already in use' "$TMP/error.log" \
                "$TMP/nginx.out" 2>/dev/null; then
            die "nginx did not start on port $NGINX_PORT (see above)"
        fi
        log "port $NGINX_PORT taken, retrying"
    done
    die "nginx did not find a free port"
}

find_worker() {
    local w
    for _ in $(seq 1 50); do
        w=$(pgrep -P "$NGINX_PID" || true)
        if [ -n "$w" ]; then
            [ "$(wc -w <<<"$w")" -eq 1 ] \
                || die "expected 1 nginx worker, found: $w"
            echo "$w"
            return 0
        fi
        sleep 0.1
    done
    die "no nginx worker process under master $NGINX_PID"
}


# ---- sanity: never benchmark a broken lookup -------------------------------

header() {      # header NAME < response headers
    tr -d '\r' | awk -v h="$1" 'BEGIN { h = tolower(h) }
        { n = index($0, ":") }
        n && tolower(substr($0, 1, n - 1)) == h {
            v = substr($0, n + 1); sub(/^[ \t]+/, "", v); print v; exit }'
}

sanity_check() {
    local hdrs seg st code want
    want=${SEGMENTS[$(( 10#${KNOWN_ID#u} % ${#SEGMENTS[@]} ))]}

    hdrs=$(curl -sS -D - -o "$TMP/check.html" \
           -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/persona/") \
        || die "request to /persona/ failed"
    code=$(head -n 1 <<<"$hdrs" | awk '{ print $2 }')
    seg=$(header X-Persona-Segment <<<"$hdrs")
    st=$(header X-Persona-Status <<<"$hdrs")
    [ "$code" = 200 ] || die "/persona/ returned '$code', expected 200"
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/persona/ did not return the demo page"
    if [ "$seg" != "$want" ] || [ "$st" != ok ]; then
        printf '%s\n' "$hdrs" >&2
        die "lookup is broken: id $KNOWN_ID gave segment '$seg' status" \
            "'$st', expected segment '$want' status 'ok'"
    fi
    log "sanity: $KNOWN_ID -> segment=$seg status=$st"

    hdrs=$(curl -sS -D - -o /dev/null -H 'Cookie: persona_id=u9999999' \
           "http://127.0.0.1:$NGINX_PORT/persona/") || die "request failed"
    log "sanity: unknown id -> segment=$(header X-Persona-Segment \
        <<<"$hdrs") status=$(header X-Persona-Status <<<"$hdrs")"
    hdrs=$(curl -sS -D - -o /dev/null \
           "http://127.0.0.1:$NGINX_PORT/persona/") || die "request failed"
    log "sanity: no cookie  -> segment=$(header X-Persona-Segment \
        <<<"$hdrs") status=$(header X-Persona-Status <<<"$hdrs")"

    hdrs=$(curl -sS -D - -o "$TMP/check.html" \
           "http://127.0.0.1:$NGINX_PORT/plain/") || die "request failed"
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/plain/ did not return the demo page"
    [ -z "$(header X-Persona-Segment <<<"$hdrs")" ] \
        || die "/plain/ unexpectedly carries X-Persona-Segment"
}


# ---- 4.-6. one location: warm-up, measured run, counters -------------------

# run_wrk SECONDS PATH OUTFILE
run_wrk() {
    taskset -c "$LOAD_CPU" wrk -t "$THREADS" -c "$CONNS" -d "${1}s" \
        --latency -s "$BENCH_DIR/random-id.lua" \
        "http://127.0.0.1:$NGINX_PORT$2" -- "$PROFILES" \
        </dev/null >"$3" 2>&1 &
    WRK_PID=$!
    if ! wait "$WRK_PID"; then
        WRK_PID=
        cat "$3" >&2
        die "wrk failed against $2"
    fi
    WRK_PID=
    grep -q '^BENCH_RESULT ' "$3" || { cat "$3" >&2; die "no wrk result"; }
}

# Fail loudly if the worker died (crash, or the .so changed under it).
check_nginx() {
    local w
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx master $NGINX_PID is gone"
    w=$(pgrep -P "$NGINX_PID" || true)
    if [ "$w" != "$WORKER_PID" ] \
            || grep -q 'exited on signal' "$TMP/error.log" 2>/dev/null; then
        die "nginx worker $WORKER_PID crashed or was replaced (now: ${w:-none})"
    fi
}

# Counters read through requests: "nginx-requests hgetall-calls
# connections-received connected-clients keyspace-misses". Read before the
# CPU counters at the start and after them at the end, so their own cost
# stays outside the measured window.
counters_outside() {
    local n r
    check_nginx
    n=$(nginx_requests)
    [ -n "$n" ] || die "cannot read nginx's stub_status"
    r=$(redis_counters)
    echo "$n $r"
}

# "worker-ticks worker-user worker-sys worker-ns redis-ticks
#  nginx-cpu-jiffies(3) load-cpu-jiffies(3)"
counters_cpu() {
    local w ns r c1 c0
    check_nginx
    w=$(cpu_ticks "$WORKER_PID")
    ns=$(cpu_ns "$WORKER_PID")
    r=$(cpu_ticks "$REDIS_PID")
    c1=$(cpu_jiffies "$NGINX_CPU")
    c0=$(cpu_jiffies "$LOAD_CPU")
    echo "$w $ns ${r%% *} $c1 $c0"
}

# Results per location, in associative arrays keyed by "name".
declare -A R_REQS R_RPS R_P50 R_P99 R_CPU_US R_SCHED_US R_BUSY R_REDIS_US \
           R_HGETALL R_NGX_REQS R_NEWCONN R_CLIENTS R_ERRORS R_CORE_NGX \
           R_CORE_LOAD R_USER_US R_SYS_US R_MISSES

measure() {     # measure NAME PATH
    local name=$1 path=$2 out=$TMP/wrk-$1.txt
    local t0 t1 s0 s1 rt0 rt1 h0 h1 c0 c1 cl n0 n1 m0 m1 line dur kv snap
    local u0 u1 k0 k1 nb0 nt0 ns0 lb0 lt0 ls0 nb1 nt1 ns1 lb1 lt1 ls1

    log "$name: warm-up ${WARMUP}s"
    if [ "$WARMUP" -gt 0 ]; then
        run_wrk "$WARMUP" "$path" "$TMP/wrk-$name-warmup.txt"
    fi

    snap=$(counters_outside)
    read -r n0 h0 c0 _ m0 <<<"$snap"
    snap=$(counters_cpu)
    read -r t0 u0 k0 s0 rt0 nb0 nt0 ns0 lb0 lt0 ls0 <<<"$snap"

    log "$name: measuring ${DURATION}s (wrk -t$THREADS -c$CONNS)"
    run_wrk "$DURATION" "$path" "$out"

    snap=$(counters_cpu)
    read -r t1 u1 k1 s1 rt1 nb1 nt1 ns1 lb1 lt1 ls1 <<<"$snap"
    snap=$(counters_outside)
    read -r n1 h1 c1 cl m1 <<<"$snap"

    line=$(grep '^BENCH_RESULT ' "$out")
    # shellcheck disable=SC2034  # all set from wrk's line, not all used
    local requests duration_us bytes err_connect err_read err_write \
          err_status err_timeout p50_us p90_us p99_us max_us
    for kv in ${line#BENCH_RESULT }; do
        printf -v "${kv%%=*}" '%s' "${kv#*=}"
    done
    [ "$requests" -gt 0 ] || die "wrk completed no requests against $path"
    dur=$duration_us

    R_REQS[$name]=$requests
    R_RPS[$name]=$(awk -v r="$requests" -v d="$dur" \
                   'BEGIN { printf "%.0f", r / (d / 1e6) }')
    R_P50[$name]=$(awk -v v="$p50_us" 'BEGIN { printf "%.3f", v / 1000 }')
    R_P99[$name]=$(awk -v v="$p99_us" 'BEGIN { printf "%.3f", v / 1000 }')
    R_CPU_US[$name]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_USER_US[$name]=$(awk -v t=$((u1 - u0)) -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_SYS_US[$name]=$(awk -v t=$((k1 - k0)) -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_SCHED_US[$name]=$(awk -v ns=$((s1 - s0)) -v r="$requests" \
        'BEGIN { printf "%.2f", ns / 1000 / r }')
    R_BUSY[$name]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$dur" \
        'BEGIN { printf "%.0f", 100 * (t / hz) / (d / 1e6) }')
    R_REDIS_US[$name]=$(awk -v t=$((rt1 - rt0)) -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_CORE_NGX[$name]="$(pct $((nb1 - nb0)) $((nt1 - nt0)))%"
    R_CORE_NGX[$name]+=" (steal $(pct $((ns1 - ns0)) $((nt1 - nt0)))%)"
    R_CORE_LOAD[$name]="$(pct $((lb1 - lb0)) $((lt1 - lt0)))%"
    R_CORE_LOAD[$name]+=" (steal $(pct $((ls1 - ls0)) $((lt1 - lt0)))%)"
    R_HGETALL[$name]=$((h1 - h0))
    R_MISSES[$name]=$((m1 - m0))
    # the after-status request counts itself
    R_NGX_REQS[$name]=$((n1 - n0 - 1))
    # the "after" INFO call is one new connection of ours
    R_NEWCONN[$name]=$((c1 - c0 - 1))
    R_CLIENTS[$name]=$((cl - 1))
    R_ERRORS[$name]="connect=$err_connect read=$err_read write=$err_write"
    R_ERRORS[$name]+=" timeout=$err_timeout non2xx=$err_status"
    if [ $((err_connect + err_read + err_write + err_timeout + err_status)) \
            -ne 0 ]; then
        log "WARNING: $name: wrk errors: ${R_ERRORS[$name]}"
    fi
}


# ---- main ------------------------------------------------------------------

log "temp dir $TMP"
start_redis
log "redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT (cpu $LOAD_CPU)"
T_LOAD=$(date +%s.%N)
load_profiles
log "loaded $PROFILES profiles in $(awk -v a="$T_LOAD" -v b="$(date +%s.%N)" \
    'BEGIN { printf "%.1f", b - a }')s"

start_nginx
WORKER_PID=$(find_worker)
log "nginx master $NGINX_PID, worker $WORKER_PID on 127.0.0.1:$NGINX_PORT" \
    "(cpu $NGINX_CPU)"
sanity_check

measure plain /plain/
measure persona /persona/

# ---- 7. report -------------------------------------------------------------

ERRLOG_WARN=$(grep -c '\[warn\]\|\[error\]\|\[crit\]\|\[alert\]\|\[emerg\]' \
              "$TMP/error.log" 2>/dev/null || true)
ERRLOG_WARN=${ERRLOG_WARN:-0}

ratio=$(awk -v a="${R_RPS[persona]}" -v b="${R_RPS[plain]}" \
        'BEGIN { printf "%.3f", a / b }')
overhead=$(awk -v a="${R_CPU_US[persona]}" -v b="${R_CPU_US[plain]}" \
           'BEGIN { printf "%.2f", a - b }')
overhead_sched=$(awk -v a="${R_SCHED_US[persona]}" -v b="${R_SCHED_US[plain]}" \
                 'BEGIN { printf "%.2f", a - b }')
cmd_per_req=$(awk -v h="${R_HGETALL[persona]}" -v r="${R_REQS[persona]}" \
              'BEGIN { printf "%.4f", h / r }')
cmd_per_ngx=$(awk -v h="${R_HGETALL[persona]}" -v r="${R_NGX_REQS[persona]}" \
              'BEGIN { printf "%.4f", h / r }')

verdict() { if [ "$1" -eq 1 ]; then echo PASS; else echo MISS; fi; }
v_ratio=$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) }')
v_over=$(awk -v o="$overhead" -v t="$TARGET_OVERHEAD_US" \
         'BEGIN { print (o <= t) }')
v_cmds=$(( R_HGETALL[persona] == R_NGX_REQS[persona] ))
v_conn=$(( R_NEWCONN[persona] == 0 ))

report() {
    local n
    echo "persona bench  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command:  cd $ROOT && $CMDLINE"
    echo "commit:   $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null \
                      || echo unknown)$( [ -n "$(GIT_OPTIONAL_LOCKS=0 git -C \
                      "$ROOT" status --porcelain -uno 2>/dev/null)" ] \
                      && echo ' (with uncommitted changes)')"
    echo "nginx:    $("$NGINX" -v 2>&1 | sed 's/.*: //'), 1 worker, cpu" \
         "$NGINX_CPU"
    echo "module:   $MODULE (sha256 $MODULE_SHA, built $MODULE_BUILT)"
    echo "redis:    $(redis-server --version | awk '{ print $3 }'), cpu" \
         "$LOAD_CPU; $PROFILES hash profiles; nginx connects over" \
         "$REDIS_SOCKET"
    echo "wrk:      -t$THREADS -c$CONNS -d${DURATION}s --latency" \
         "(warm-up ${WARMUP}s), cpu $LOAD_CPU; random persona_id cookie" \
         "per request"
    echo "machine:  $(uname -r), $NCPU cpus," \
         "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo
    printf '%-8s %10s %9s %9s %11s %11s %7s %10s %9s %8s\n' \
        location req/s p50_ms p99_ms ngx_us/req sched_us/req ngx_cpu \
        redis_us/req hgetall new_conn
    for n in plain persona; do
        printf '%-8s %10s %9s %9s %11s %11s %6s%% %10s %9s %8s\n' \
            "$n" "${R_RPS[$n]}" "${R_P50[$n]}" "${R_P99[$n]}" \
            "${R_CPU_US[$n]}" "${R_SCHED_US[$n]}" "${R_BUSY[$n]}" \
            "${R_REDIS_US[$n]}" "${R_HGETALL[$n]}" "${R_NEWCONN[$n]}"
    done
    echo
    for n in plain persona; do
        echo "$n: wrk requests ${R_REQS[$n]}, nginx-side requests" \
             "${R_NGX_REQS[$n]}, wrk errors: ${R_ERRORS[$n]}"
        echo "$n: nginx worker ${R_CPU_US[$n]} us/request = user" \
             "${R_USER_US[$n]} + kernel ${R_SYS_US[$n]}"
        echo "$n: cpu $NGINX_CPU (nginx) busy ${R_CORE_NGX[$n]}," \
             "cpu $LOAD_CPU (redis+wrk) busy ${R_CORE_LOAD[$n]}"
    done
    echo "redis during persona run: ${R_MISSES[persona]} keyspace misses" \
         "(ids outside the loaded range); ${R_CLIENTS[persona]} clients" \
         "connected after it (the worker's pool)"
    echo "nginx error log: $ERRLOG_WARN lines at warn or above"
    echo
    echo "persona/plain throughput:      $ratio"
    echo "persona nginx CPU overhead:    $overhead us/request" \
         "(schedstat: $overhead_sched us)"
    echo "Redis commands per request:    $cmd_per_req per wrk request," \
         "$cmd_per_ngx per nginx request"
    echo
    echo "targets (issue 2):"
    printf '  %-4s throughput ratio >= %s          got %s\n' \
        "$(verdict "$v_ratio")" "$TARGET_RATIO" "$ratio"
    printf '  %-4s nginx CPU overhead <= %s us/req    got %s\n' \
        "$(verdict "$v_over")" "$TARGET_OVERHEAD_US" "$overhead"
    printf '  %-4s exactly 1 Redis command/request   got %s HGETALL for %s' \
        "$(verdict "$v_cmds")" "${R_HGETALL[persona]}" \
        "${R_NGX_REQS[persona]}"
    printf ' nginx requests\n'
    printf '  %-4s 0 new Redis connections in run    got %s\n' \
        "$(verdict "$v_conn")" "${R_NEWCONN[persona]}"
    if [ "${R_BUSY[plain]}" -lt 90 ] || [ "${R_BUSY[persona]}" -lt 90 ]; then
        echo
        echo "note: the nginx worker was not saturated (busy" \
             "${R_BUSY[plain]}% plain, ${R_BUSY[persona]}% persona), so req/s" \
             "is not nginx's full capacity; the us/request figures are the" \
             "comparable ones."
    fi
    for n in plain persona; do
        if [ "$(( ${R_CORE_NGX[$n]%%%*} - R_BUSY[$n] ))" -gt 5 ]; then
            echo "note: other processes used" \
                 "$(( ${R_CORE_NGX[$n]%%%*} - R_BUSY[$n] ))% of cpu" \
                 "$NGINX_CPU during the $n run (shared machine?); figures" \
                 "are disturbed, run again when the machine is idle."
        fi
    done
}

mkdir -p "$BENCH_DIR/results"
RESULT_FILE=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ).txt
report | tee -a "$RESULT_FILE"
{
    echo
    for n in plain persona; do
        echo "--- wrk output, $n"
        grep -v '^BENCH_RESULT ' "$TMP/wrk-$n.txt"
    done
} >>"$RESULT_FILE"
log "results appended to ${RESULT_FILE#"$ROOT"/}"

OK=1
if [ "$(( v_ratio && v_over && v_cmds && v_conn ))" -ne 1 ] \
        && [ -n "${BENCH_STRICT:-}" ]; then
    exit 1
fi
exit 0
