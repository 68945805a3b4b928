#!/usr/bin/env bash
# Benchmark: plain nginx vs. the same page with `persona on` and one Redis
# lookup per request (random ids over 100k profiles, keepalive pool): the
# "spine", always measured. In the same run, against the same baselines,
# the extra cases (BENCH_CASES):
#   rules50     persona + a 50-segment rules file (bench/make-fixtures.pl)
#               vs. persona; and the same with browser-like requests
#               (bench/visitor.lua: User-Agent, Accept-Language, cookies,
#               utm queries, X-Forwarded-For) vs. persona with those
#   geo         persona + persona_geoip2 (bench/make-geo-db.pl: 200k
#               networks) + geo.country/geo.city rules, visitors from all
#               over the database by X-Forwarded-For (realip), vs. persona
#               with the same requests
#   inject4k    a 4 KiB page with 3 slots, blocks from the rules:
#   inject200k  persona_inject on vs. off, and the worker's memory
#               (a fresh nginx per page size: VmHWM of that size only)
#   lua         the OpenResty-style peer: the job of /inject-4k-on/ (id
#               cookie, HGETALL, segment header, 3 blocks in the 4 KiB
#               page) written in Lua (bench/nginx-lua.conf.in: Debian's
#               lua-nginx-module + lua-resty-redis on a keepalive pool,
#               sub_filter with variables), in its own nginx on the same
#               core, measured in the same rounds as "job" (= the module's
#               /inject-4k-on/) and plain
#   cache       /persona/ in an nginx with persona_profile_cache, warmed
#               up so that lookups are cache hits; only when the module
#               accepts the directive (nginx -t), else reported as absent
#   track       issue 9: /persona/ + persona_track on (HINCRBY, HSET and an
#               XADD to a stream with MAXLEN ~ BENCH_EVENTS_MAXLEN after
#               every response) vs. /persona/ with the same browser-like
#               requests ("persona-ua": a request without User-Agent is a
#               bot, never tracked); only when the module accepts
#               persona_track (nginx -t), else reported as absent
#   cap         issue 9: a 50/50 experiment with a frequency cap (the cap
#               counter read with the profile, SET NX + INCR after each
#               exposure) vs. the same experiment without cap ("nocap");
#               track and cap are also measured at one connection
#               ("*-c1"), where Redis read events per request are round
#               trips per request and latency shows any added one
#   mem         the worker's VmHWM under 64 and then 1024 concurrent
#               connections, a fresh nginx per location (plain, persona,
#               lua, cache, base)
# and, when BENCH_BASE_MODULE names another build of the module (e.g. the
# client before pipelining), "base": /persona/ with that module in its
# own nginx, in the same rounds.
# Per location: req/s, p50/p99, nginx worker CPU us/request (from /proc),
# Redis CPU per request and per lookup (utime+stime of redis-server),
# Redis commands and reads per request (INFO commandstats, INFO stats
# total_reads_processed), and the ratios against plain of the same run.
# The locations of one nginx are measured in interleaved rounds
# (BENCH_ROUNDS), and each comparison also round by round.
#
# Everything runs on loopback, on free ports, inside a mktemp -d directory,
# and is stopped by PID on exit (also on Ctrl-C). Layout, as in issue 2:
# nginx (master + 1 worker) alone on one core, redis-server and wrk on the
# other, so Redis's own CPU does not eat into nginx's.
#
# Usage: bench/run.sh            (make bench builds the module, then runs this)
# Environment:
#   BENCH_SECONDS=6      measured seconds per location (the old name
#   BENCH_DURATION=6     BENCH_DURATION works too), cut into
#   BENCH_ROUNDS=3       rounds: each round measures every location of an
#                        nginx for DURATION/ROUNDS seconds, in ABBA order,
#                        so that a drifting shared machine hits all alike
#   BENCH_WARMUP=1       warm-up seconds per location (before the rounds)
#                        (the defaults keep the whole run near 5 minutes;
#                        BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_WARMUP=2
#                        are steadier on a quiet machine)
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
#   BENCH_CASES=rules50,geo,inject,lua,cache,track,cap,mem  extra cases:
#                        rules50, geo, inject4k, inject200k, inject (= both),
#                        lua, cache, track, cap, mem, all; "spine" (or
#                        empty) for plain vs.
#                        persona only
#   BENCH_BASE_MODULE=path  another build of the module, measured as
#                        "base" (/persona/) in the same rounds
#   BENCH_CACHE_ZONE=64m the cache case's persona_profile_cache zone size
#   BENCH_EVENTS_MAXLEN=100000  the track case's persona_events maxlen
#   BENCH_C1_SECONDS=6   measured seconds per location at one connection
#                        (track and cap cases)
#   BENCH_MEM_SECONDS=3  seconds of load per connection count (mem case)
#   BENCH_GEO_NETWORKS=200000  IPv4 networks in the geo database (plus a
#                        quarter as many IPv6 ones)
#   BENCH_SENDFILE=off   nginx's sendfile (off is nginx's default; with on,
#                        the inject-off pages go out by sendfile while the
#                        injecting location reads them)
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench

DURATION=${BENCH_SECONDS:-${BENCH_DURATION:-6}}
WARMUP=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
PROFILES=${BENCH_PROFILES:-100000}
NGINX_CPU=${BENCH_NGINX_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
MODULE=${BENCH_MODULE:-$ROOT/build/ngx_http_persona_module.so}
NGINX=${BENCH_NGINX:-/usr/sbin/nginx}
REDIS_SOCKET=${BENCH_REDIS_SOCKET:-tcp}
CASES=${BENCH_CASES-rules50,geo,inject,lua,cache,track,cap,mem}
BASE_MODULE=${BENCH_BASE_MODULE:-}
CACHE_ZONE=${BENCH_CACHE_ZONE:-64m}
EVENTS_MAXLEN=${BENCH_EVENTS_MAXLEN:-100000}
EVENTS_KEY=persona:bench:events
C1_SECONDS=${BENCH_C1_SECONDS:-6}
MEM_LOAD_SECS=${BENCH_MEM_SECONDS:-3}
LUA_MODULE=/usr/lib/nginx/modules/ngx_http_lua_module.so
LUA_REDIS=/usr/share/lua/5.1/nginx/redis.lua
GEO_NETWORKS=${BENCH_GEO_NETWORKS:-200000}
SENDFILE=${BENCH_SENDFILE:-off}

# Targets from issue 2 ("Performance").
TARGET_RATIO=0.75        # persona req/s >= 0.75 x plain req/s
TARGET_OVERHEAD_US=5     # <= 5 us nginx CPU per request over plain
SEGMENTS=(vip bargain family tech travel)
KNOWN_ID=u000042         # expected segment: SEGMENTS[42 % 5] = family
# Targets of the extra cases.
TARGET_RULES_RATIO=0.95  # rules50 req/s >= 0.95 x persona ("no measurable
                         # cost": within the run-to-run noise)
TARGET_GEO_US=2          # geo lookup (geo - persona-v) < 2 us nginx CPU
TARGET_INJECT_RATIO=0.9  # inject on req/s >= 0.9 x inject off, 4K and 200K
TARGET_HWM_KB=1024       # the injector's extra peak RSS (on - off) may not
                         # grow by more than this from 4K to 200K pages
                         # (32 KiB per connection at -c32); a filter that
                         # buffered pages would add ~CONNS x 196 KiB

CMDLINE="bench/run.sh${*:+ $*}"
if [ -n "${MAKELEVEL:-}" ]; then
    CMDLINE="make bench"
fi
for v in BENCH_SECONDS BENCH_DURATION BENCH_ROUNDS BENCH_WARMUP BENCH_CONNECTIONS \
         BENCH_THREADS \
         BENCH_PROFILES BENCH_NGINX_CPU BENCH_LOAD_CPU BENCH_MODULE \
         BENCH_NGINX BENCH_REDIS_SOCKET BENCH_CASES BENCH_GEO_NETWORKS \
         BENCH_SENDFILE BENCH_BASE_MODULE BENCH_CACHE_ZONE \
         BENCH_MEM_SECONDS BENCH_EVENTS_MAXLEN BENCH_C1_SECONDS; do
    if [ -n "${!v:-}" ]; then
        CMDLINE="$v=${!v} $CMDLINE"
    elif [ "$v" = BENCH_CASES ] && [ -n "${BENCH_CASES+set}" ]; then
        CMDLINE="BENCH_CASES= $CMDLINE"
    fi
done

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

for v in DURATION WARMUP ROUNDS CONNS THREADS PROFILES NGINX_CPU LOAD_CPU \
         MEM_LOAD_SECS EVENTS_MAXLEN C1_SECONDS
do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[ "$DURATION" -ge 1 ] || die "BENCH_DURATION must be >= 1"
[ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be >= 1"
[ "$ROUNDS" -le "$DURATION" ] || ROUNDS=$DURATION
SLICE=$(( DURATION / ROUNDS ))       # measured: SLICE x ROUNDS seconds
# the inject cases' memory phases load nginx at least this long
MEM_SECS=$(( WARMUP > 2 ? WARMUP : 2 ))
if [ "$PROFILES" -lt 43 ] || [ "$PROFILES" -gt 1000000 ]; then
    die "BENCH_PROFILES must be within 43..1000000"
fi
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"
case $REDIS_SOCKET in
    tcp|unix) ;;
    *) die "BENCH_REDIS_SOCKET must be tcp or unix, got '$REDIS_SOCKET'" ;;
esac
case $SENDFILE in
    on|off) ;;
    *) die "BENCH_SENDFILE must be on or off, got '$SENDFILE'" ;;
esac
if ! is_uint "$GEO_NETWORKS" || [ "$GEO_NETWORKS" -lt 1 ] \
        || [ "$GEO_NETWORKS" -gt 5000000 ]; then
    die "BENCH_GEO_NETWORKS must be within 1..5000000"
fi

declare -A WANT=()
IFS=', ' read -r -a CASE_LIST <<<"$CASES"
for c in "${CASE_LIST[@]}"; do
    case $c in
        all)    WANT[rules50]=1; WANT[geo]=1; WANT[inject4k]=1
                WANT[inject200k]=1; WANT[lua]=1; WANT[cache]=1
                WANT[mem]=1; WANT[track]=1; WANT[cap]=1 ;;
        inject) WANT[inject4k]=1; WANT[inject200k]=1 ;;
        rules50|geo|inject4k|inject200k|lua|cache|track|cap|mem)
                WANT[$c]=1 ;;
        spine|none|'') ;;
        *) die "BENCH_CASES: unknown case '$c' (rules50, geo, inject4k," \
               "inject200k, inject, lua, cache, track, cap, mem, all," \
               "spine)" ;;
    esac
done
want() { [ -n "${WANT[$1]:-}" ]; }


# ---- prerequisites ---------------------------------------------------------

need() {
    command -v "$1" >/dev/null 2>&1 \
        || die "'$1' not found; run 'scripts/deps.sh bench' (or make bench)"
}

for c in redis-server redis-cli wrk taskset curl awk perl cmp; do
    need "$c"
done
perl -MJSON::PP -e 1 2>/dev/null \
    || die "perl's JSON::PP is missing (apt-get install perl)"
if want geo && ! perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null; then
    die "the geo case needs libmaxmind-db-writer-perl: run 'scripts/deps.sh" \
        "bench' (or set BENCH_CASES without geo)"
fi
# persona-check (make tools) cross-checks the segments nginx computes
PERSONA_CHECK=$ROOT/build/persona-check
[ -x "$PERSONA_CHECK" ] || PERSONA_CHECK=
[ -x "$NGINX" ] || die "nginx binary '$NGINX' not found (apt-get install nginx)"
[ -f "$MODULE" ] || die "module '$MODULE' not found; build it first:" \
    "scripts/build-module.sh (or make bench)"
[ -z "$BASE_MODULE" ] || [ -f "$BASE_MODULE" ] \
    || die "BENCH_BASE_MODULE '$BASE_MODULE' not found"
if want lua && { [ ! -f "$LUA_MODULE" ] || [ ! -f "$LUA_REDIS" ]; }; then
    die "the lua case needs libnginx-mod-http-lua and lua-nginx-redis: run" \
        "'scripts/deps.sh bench' (or set BENCH_CASES without lua)"
fi

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
mkdir -p "$TMP/html/plain" "$TMP/html/persona" "$TMP/tmp" "$TMP/redis" \
         "$TMP/rules"

REDIS_PID=
NGINX_PID=
WRK_PID=
# Several nginx can run at once (main, lua, cache, base: see use_inst);
# NGINX_PID, WORKER_PID and NGINX_PORT are those of the current one.
INST=main
NGINX_PORT=
WORKER_PID=
declare -A I_PID=() I_WORKER=() I_PORT=()
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
    for i in "${!I_PID[@]}"; do
        stop_pid "${I_PID[$i]}" "nginx ($i)"
    done
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
# <total_connections_received> <connected_clients> <keyspace_misses>
# <all commands' calls> <total_reads_processed> <get calls> <incr calls>
# <xadd calls>" (-1: Redis < 6.2 has no total_reads_processed).
redis_counters() {
    rcli INFO stats commandstats clients | tr -d '\r' | awk -F'[:=,]' '
        BEGIN { r = -1 }
        $1 == "cmdstat_hgetall"             { h = $3 }
        $1 == "cmdstat_get"                 { g = $3 }
        $1 == "cmdstat_incr"                { i = $3 }
        $1 == "cmdstat_xadd"                { x = $3 }
        $1 ~ /^cmdstat_/                    { a += $3 }
        $1 == "total_connections_received"  { t = $2 }
        $1 == "connected_clients"           { c = $2 }
        $1 == "keyspace_misses"             { m = $2 }
        $1 == "total_reads_processed"       { r = $2 }
        END { printf "%d %d %d %d %d %d %d %d %d\n", h, t, c, m, a, r, g, i, x }'
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

# The known visitor's profile fields, from Redis: "field=value" lines.
known_profile() {
    rcli HGETALL "persona:profile:$KNOWN_ID" | tr -d '\r' \
        | awk 'NR % 2 { k = $0; next } { print k "=" $0 }'
}

# Files nginx serves and reads, written once per run: a private copy of
# the module, the pages, the rules of the extra cases, the geo database.
prepare_files() {
    local t0
    # Load a private copy: a rebuild of build/*.so during the run (other
    # people share the checkout) would otherwise crash the worker, and
    # every nginx started in this run loads the same module.
    cp "$MODULE" "$TMP/ngx_http_persona_module.so"
    if [ -n "$BASE_MODULE" ]; then
        cp "$BASE_MODULE" "$TMP/ngx_http_persona_module-base.so"
        BASE_SHA=$(sha256sum "$TMP/ngx_http_persona_module-base.so" \
                   | cut -c1-12)
    fi
    MODULE_SHA=$(sha256sum "$TMP/ngx_http_persona_module.so" | cut -c1-12)
    MODULE_BUILT=$(date -u -r "$MODULE" '+%Y-%m-%d %H:%M:%S UTC')
    cp "$BENCH_DIR/page.html" "$TMP/html/plain/index.html"
    cp "$BENCH_DIR/page.html" "$TMP/html/persona/index.html"

    mapfile -t KNOWN_FIELDS < <(known_profile)
    [ "${#KNOWN_FIELDS[@]}" -ge 4 ] \
        || die "cannot read persona:profile:$KNOWN_ID back from Redis"
    perl "$BENCH_DIR/make-fixtures.pl" "$TMP" "$BENCH_DIR/page.html" \
            "${KNOWN_FIELDS[@]}" \
        || die "bench/make-fixtures.pl failed"
    if [ -n "$PERSONA_CHECK" ]; then
        for f in rules50 geo inject cap nocap; do
            "$PERSONA_CHECK" "$TMP/rules/$f.json" >"$TMP/check-$f.log" 2>&1 \
                || { cat "$TMP/check-$f.log" >&2
                     die "persona-check rejects $TMP/rules/$f.json"; }
        done
    fi
    if want geo; then
        t0=$(date +%s.%N)
        perl "$BENCH_DIR/make-geo-db.pl" "$TMP" "$GEO_NETWORKS" \
                "$PROFILES" || die "bench/make-geo-db.pl failed"
        log "geo database: $GEO_NETWORKS IPv4 + $((GEO_NETWORKS / 4)) IPv6" \
            "networks, $(( $(stat -c %s "$TMP/geo.mmdb") / 1024 )) KiB," \
            "written in $(awk -v a="$t0" -v b="$(date +%s.%N)" \
            'BEGIN { printf "%.1f", b - a }')s"
    fi
    sed -e "s|@PREFIX@|$(sed_esc "$TMP")|g" \
        -e "s|@EVENTS_MAXLEN@|$EVENTS_MAXLEN|g" \
        "$BENCH_DIR/nginx-issue9.conf.in" >"$TMP/issue9.conf"
    chmod -R a+rX "$TMP/html" "$TMP/rules"
    [ ! -f "$TMP/geo.mmdb" ] || chmod a+r "$TMP/geo.mmdb"
}

# The nginx of this run, by instance (INST):
#   main   bench/nginx.conf.in: every location but the peers below
#   lua    bench/nginx-lua.conf.in: the OpenResty-style peer (lua case)
#   cache  bench/nginx.conf.in + persona_profile_cache (cache case)
#   base   bench/nginx.conf.in with BENCH_BASE_MODULE
# Their files: nginx.conf, error.log, nginx.pid for main, else
# nginx-INST.conf, error-INST.log, nginx-INST.pid.
inst_conf()   { if [ "$1" = main ]; then echo "$TMP/nginx.conf"
                else echo "$TMP/nginx-$1.conf"; fi; }
inst_errlog() { if [ "$1" = main ]; then echo "$TMP/error.log"
                else echo "$TMP/error-$1.log"; fi; }
inst_pid()    { if [ "$1" = main ]; then echo "$TMP/nginx.pid"
                else echo "$TMP/nginx-$1.pid"; fi; }

use_inst() {    # use_inst NAME: make NAME the current nginx
    INST=$1
    NGINX_PID=${I_PID[$1]:-}
    WORKER_PID=${I_WORKER[$1]:-}
    NGINX_PORT=${I_PORT[$1]:-}
}

ISSUE9_STATE="not selected (BENCH_CASES)"
BROWSER_UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'

CACHE_LINE="persona_profile_cache zone=persona_bench:$CACHE_ZONE ttl=1h"
CACHE_LINE+=" negative_ttl=1h stale=1h;"

write_nginx_conf() {    # for INST, on NGINX_PORT
    local addr geo cache events issue9 module=$TMP/ngx_http_persona_module.so
    local tmpl=$BENCH_DIR/nginx.conf.in
    if [ "$REDIS_SOCKET" = unix ]; then
        addr="unix:$TMP/redis/redis.sock"
    else
        addr="127.0.0.1:$REDIS_PORT"
    fi
    if want geo; then
        geo="persona_geoip2  $TMP/geo.mmdb;"
    else
        geo="# persona_geoip2: the geo case is not selected (BENCH_CASES)"
    fi
    cache="# persona_profile_cache: only in the cache case's nginx"
    events="# persona_events: only in the main nginx with the track case"
    issue9="# issue 9's locations: only in the main nginx (track, cap)"
    if [ "$INST" = main ] && [ "$ISSUE9_STATE" = present ]; then
        issue9="include $TMP/issue9.conf;"
        want track && events="persona_events $EVENTS_KEY maxlen=$EVENTS_MAXLEN;"
    fi
    case $INST in
        lua)   tmpl=$BENCH_DIR/nginx-lua.conf.in ;;
        cache) cache=$CACHE_LINE ;;
        base)  module=$TMP/ngx_http_persona_module-base.so ;;
    esac
    sed -e "s|@MODULE@|$(sed_esc "$module")|g" \
        -e "s|@PREFIX@|$(sed_esc "$TMP")|g" \
        -e "s|@PID@|$(sed_esc "$(inst_pid "$INST")")|g" \
        -e "s|@ERRLOG@|$(sed_esc "$(inst_errlog "$INST")")|g" \
        -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@REDIS_ADDR@|$(sed_esc "$addr")|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
        -e "s|@SENDFILE@|$SENDFILE|g" \
        -e "s|@GEOIP2@|$(sed_esc "$geo")|g" \
        -e "s|@CACHE@|$(sed_esc "$cache")|g" \
        -e "s|@EVENTS@|$(sed_esc "$events")|g" \
        -e "s|@ISSUE9@|$(sed_esc "$issue9")|g" \
        "$tmpl" >"$(inst_conf "$INST")"
}

# Does the module accept persona_profile_cache? (nginx -t of the cache
# instance's configuration, on a port nobody listens on)
probe_cache() {
    local save_inst=$INST save_port=$NGINX_PORT
    INST=cache
    NGINX_PORT=$(free_port)
    write_nginx_conf
    if "$NGINX" -p "$TMP" -c "$(inst_conf cache)" -e "$TMP/error-cache.log" \
            -t >"$TMP/nginx-t-cache.log" 2>&1; then
        CACHE_STATE=present
    else
        CACHE_STATE="absent ($(grep -m1 'emerg' "$TMP/nginx-t-cache.log" \
            | sed -E 's/.*\[emerg\] //; s/ in \/.*//'))"
    fi
    INST=$save_inst
    NGINX_PORT=$save_port
}

# Does the module accept issue 9's locations (persona_track,
# persona_events, a rules file with a cap)? nginx -t of the main
# configuration with them; without them when not.
probe_issue9() {
    local save_port=$NGINX_PORT
    INST=main
    NGINX_PORT=$(free_port)
    ISSUE9_STATE=present
    write_nginx_conf
    if ! "$NGINX" -p "$TMP" -c "$(inst_conf main)" -e "$TMP/error.log" \
            -t >"$TMP/nginx-t-issue9.log" 2>&1; then
        ISSUE9_STATE="absent ($(grep -m1 'emerg' "$TMP/nginx-t-issue9.log" \
            | sed -E 's/.*\[emerg\] //; s/ in \/.*//'))"
    fi
    NGINX_PORT=$save_port
}


nginx_logs() {
    cat "$(inst_errlog "$INST")" "$TMP/nginx.out" 2>/dev/null || true
}

start_nginx() {         # start the current INST's nginx
    local code logged conf errlog
    conf=$(inst_conf "$INST")
    errlog=$(inst_errlog "$INST")
    for _ in 1 2 3 4 5; do
        # only this attempt's lines count (the log is shared by restarts)
        logged=$(nginx_logs | wc -l)
        NGINX_PORT=$(free_port)
        write_nginx_conf
        if ! "$NGINX" -p "$TMP" -c "$conf" -e "$errlog" \
                -t >"$TMP/nginx-t.log" 2>&1; then
            cat "$TMP/nginx-t.log" >&2
            die "nginx -t failed for $conf"
        fi
        taskset -c "$NGINX_CPU" "$NGINX" -p "$TMP" -c "$conf" \
            -e "$errlog" -g 'daemon off;' \
            </dev/null >>"$TMP/nginx.out" 2>&1 &
        NGINX_PID=$!
        I_PID[$INST]=$NGINX_PID
        for _ in $(seq 1 100); do
            if ! kill -0 "$NGINX_PID" 2>/dev/null; then
                break
            fi
            code=$(curl -s -o /dev/null -w '%{http_code}' \
                   "http://127.0.0.1:$NGINX_PORT/plain/" 2>/dev/null) || true
            if [ "$code" = 200 ]; then
                I_PORT[$INST]=$NGINX_PORT
                return 0
            fi
            sleep 0.05
        done
        stop_pid "$NGINX_PID" nginx
        NGINX_PID=
        unset "I_PID[$INST]"
        if ! nginx_logs | tail -n +$((logged + 1)) \
                | grep 'Address already in use' >/dev/null; then
            die "nginx ($INST) did not start on port $NGINX_PORT (see above)"
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

launch() {      # launch INST: start that nginx and make it current
    use_inst "$1"
    start_nginx
    WORKER_PID=$(find_worker)
    I_WORKER[$INST]=$WORKER_PID
    log "nginx ($INST): master $NGINX_PID, worker $WORKER_PID on" \
        "127.0.0.1:$NGINX_PORT (cpu $NGINX_CPU)"
}

# A fresh nginx (master and worker) of the current INST, so the worker's
# peak RSS (VmHWM) reflects what runs from now on only.
restart_nginx() {
    stop_pid "$NGINX_PID" nginx
    unset "I_PID[$INST]" "I_WORKER[$INST]" "I_PORT[$INST]"
    NGINX_PID=
    WORKER_PID=
    launch "$INST"
}

# "VmHWM VmRSS" of a process, in kB
proc_mem() {
    awk '$1 == "VmHWM:" { h = $2 } $1 == "VmRSS:" { r = $2 }
         END { print h + 0, r + 0 }' "/proc/$1/status" \
        || die "cannot read /proc/$1/status"
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


# ---- sanity of the extra cases ----------------------------------------------

VHOST=visitor.bench      # the virtual server of bench/visitor.lua (realip)
VISITOR_UA='Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'
VISITOR_LANG='de-CH,de;q=0.9,en;q=0.8'

known() {       # known FIELD: the known visitor's profile field
    local kv
    for kv in "${KNOWN_FIELDS[@]}"; do
        if [ "${kv%%=*}" = "$1" ]; then
            printf '%s' "${kv#*=}"
            return 0
        fi
    done
}

# explain_known RULES [JSON members]: persona-check's "segment segments"
# for the known visitor ("-" for no segments)
explain_known() {
    local kv sep='' f=$TMP/known-attrs.json
    {
        printf '{ "profile": {'
        for kv in "${KNOWN_FIELDS[@]}"; do
            printf '%s "%s": "%s"' "$sep" "${kv%%=*}" "${kv#*=}"
            sep=,
        done
        printf ' }, "cookie.persona_id": "%s"%s }\n' "$KNOWN_ID" "${2:+, $2}"
    } >"$f"
    "$PERSONA_CHECK" "$1" --explain "$f" 2>"$TMP/explain.err" \
        | awk '/^segment: / { s = $2 } /^segments: / { m = $2 }
               END { print s, (m == "" ? "-" : m) }'
}

# curl as bench/visitor.lua does: vcurl XFF PATH BODYFILE
vcurl() {
    curl -sS -D - -o "$3" -H "Host: $VHOST" \
        -H "Cookie: persona_id=$KNOWN_ID; _ga=GA1.2.1.2; consent=all" \
        -H "User-Agent: $VISITOR_UA" -H "Accept-Language: $VISITOR_LANG" \
        -H "X-Forwarded-For: $1" "http://127.0.0.1:$NGINX_PORT$2" \
        || die "request to $2 (Host $VHOST) failed"
}

sanity_rules50() {
    local hdrs seg st offer segs want_seg want_segs want_offer
    want_seg="loyal-$(known segment)"
    want_segs=$want_seg,crawler
    if [ -n "$PERSONA_CHECK" ]; then
        read -r want_seg want_segs <<<"$(explain_known \
            "$TMP/rules/rules50.json" \
            '"request.path": "/rules50/", "header.User-Agent": ""')"
        [ "$want_seg" = "loyal-$(known segment)" ] \
            || die "persona-check gives $KNOWN_ID segment '$want_seg' in" \
                   "rules50.json, expected loyal-$(known segment)"
    fi
    want_offer="$(known segment)-$(known tier)-$(known first_name)"

    # no User-Agent, as wrk (curl's own makes the visitor a "bot")
    hdrs=$(curl -sS -D - -o "$TMP/check.html" -A '' \
           -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/rules50/") \
        || die "request to /rules50/ failed"
    seg=$(header X-Persona-Segment <<<"$hdrs")
    st=$(header X-Persona-Status <<<"$hdrs")
    offer=$(header X-Persona-Offer <<<"$hdrs")
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/rules50/ did not return the demo page"
    if [ "$seg" != "$want_seg" ] || [ "$st" != ok ] \
            || [ "$offer" != "$want_offer" ]; then
        printf '%s\n' "$hdrs" >&2
        die "/rules50/: $KNOWN_ID got segment '$seg' status '$st' offer" \
            "'$offer', expected '$want_seg' 'ok' '$want_offer'"
    fi
    hdrs=$(curl -sS -D - -o /dev/null -A '' \
           -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/rules50-debug/") \
        || die "request to /rules50-debug/ failed"
    segs=$(header X-Persona-Segments <<<"$hdrs")
    [ "${segs:--}" = "$want_segs" ] \
        || die "/rules50-debug/: segments '$segs', expected '$want_segs'"
    log "sanity: rules50: $KNOWN_ID -> segment=$seg segments=$segs" \
        "offer=$offer${PERSONA_CHECK:+ (as persona-check says)}"
}

# persona-v and rules50-v: the visitor server, realip, browser headers
sanity_visitor() {
    local hdrs seg st want_seg want_segs
    hdrs=$(vcurl 203.0.113.7 /persona-v/ "$TMP/check.html")
    seg=$(header X-Persona-Segment <<<"$hdrs")
    st=$(header X-Persona-Status <<<"$hdrs")
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/persona-v/ did not return the demo page"
    if [ "$seg" != "$(known segment)" ] || [ "$st" != ok ]; then
        die "/persona-v/: $KNOWN_ID got segment '$seg' status '$st'"
    fi

    want rules50 || return 0
    want_seg="loyal-$(known segment)"
    want_segs=$want_seg
    if [ -n "$PERSONA_CHECK" ]; then
        read -r want_seg want_segs <<<"$(explain_known \
            "$TMP/rules/rules50.json" "\"request.path\": \"/rules50-v/\",
              \"header.User-Agent\": \"$VISITOR_UA\",
              \"header.Accept-Language\": \"$VISITOR_LANG\",
              \"cookie._ga\": \"GA1.2.1.2\", \"cookie.consent\": \"all\"")"
    fi
    hdrs=$(vcurl 203.0.113.7 /rules50-v/ "$TMP/check.html")
    seg=$(header X-Persona-Segment <<<"$hdrs")
    st=$(header X-Persona-Status <<<"$hdrs")
    if [ "$seg" != "$want_seg" ] || [ "$st" != ok ]; then
        die "/rules50-v/: $KNOWN_ID (iPhone, de-CH) got segment '$seg'" \
            "status '$st', expected '$want_seg' 'ok'"
    fi
    log "sanity: visitor server: persona-v -> segment=$(known segment)," \
        "rules50-v (iPhone, de-CH) -> segment=$seg"
}

sanity_geo() {
    local hdrs seg geo ra offer a countries
    hdrs=$(vcurl 203.0.113.7 /geo-debug/ /dev/null)
    geo=$(header X-Geo <<<"$hdrs")
    ra=$(header X-Remote-Addr <<<"$hdrs")
    seg=$(header X-Persona-Segment <<<"$hdrs")
    offer=$(header X-Persona-Offer <<<"$hdrs")
    if [ "$geo" != 'DE|Berlin' ] || [ "$ra" != 203.0.113.7 ] \
            || [ "$seg" != dach ] || [ "$offer" != dach-Berlin ]; then
        printf '%s\n' "$hdrs" >&2
        die "/geo-debug/ from 203.0.113.7: geo '$geo' remote_addr '$ra'" \
            "segment '$seg' offer '$offer', expected DE|Berlin, 203.0.113.7," \
            "dach, dach-Berlin"
    fi
    hdrs=$(vcurl 198.51.100.9 /geo/ "$TMP/check.html")
    seg=$(header X-Persona-Segment <<<"$hdrs")
    [ "$seg" = china-south ] \
        || die "/geo/ from 198.51.100.9 (Shenzhen): segment '$seg'"
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/geo/ did not return the demo page"
    hdrs=$(vcurl 192.0.2.1 /geo-debug/ /dev/null)
    seg=$(header X-Persona-Segment <<<"$hdrs")
    [ "$seg" = "$(known segment)" ] \
        || die "/geo/ from an address not in the database: segment '$seg'" \
               "(expected the profile's, $(known segment))"

    # 40 addresses from the list wrk uses: all must be found
    countries=$(
        awk -v n="$PROFILES" 'NR % int(n / 40 + 1) == 1' \
            "$TMP/geo-addrs.txt" | head -n 40 | while read -r a; do
            hdrs=$(vcurl "$a" /geo-debug/ /dev/null)
            geo=$(header X-Geo <<<"$hdrs")
            ra=$(header X-Remote-Addr <<<"$hdrs")
            if [ -z "${geo%%|*}" ] || { [[ $a != *:* ]] && [ "$ra" != "$a" ]; }
            then
                printf '%s\n' "$hdrs" >&2
                die "/geo-debug/ from $a (in the database): geo '$geo'" \
                    "remote_addr '$ra'"
            fi
            echo "${geo%%|*}"
        done | sort | uniq -c | wc -l)
    log "sanity: geo: 203.0.113.7 -> DE|Berlin, segment dach; 40 sample" \
        "addresses found ($countries countries)"
}

sanity_inject() {       # sanity_inject 4k|200k
    local size=$1 hdrs on=$TMP/check-inject-$1-on.html
    local off=$TMP/check-inject-$1-off.html page=$TMP/html/inject-$1/index.html
    hdrs=$(curl -sS -D - -o "$on" -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/inject-$size-on/") \
        || die "request to /inject-$size-on/ failed"
    [ "$(header X-Persona-Status <<<"$hdrs")" = ok ] \
        || die "/inject-$size-on/: status '$(header X-Persona-Status \
               <<<"$hdrs")'"
    if ! cmp -s "$on" "$TMP/expect/inject-$size.html"; then
        printf '%s\n' "$hdrs" >&2
        log "body: $(wc -c <"$on") bytes, $(grep -c '<!--persona:' "$on")" \
            "lines with slot markers; expected" \
            "$(wc -c <"$TMP/expect/inject-$size.html") bytes"
        cmp "$on" "$TMP/expect/inject-$size.html" >&2 || true
        die "/inject-$size-on/ did not send the page with the 3 blocks" \
            "injected (got $on, expected $TMP/expect/inject-$size.html)"
    fi
    ! grep -q '<!--/\{0,1\}persona:' "$on" \
        || die "/inject-$size-on/: slot markers left in $on"
    hdrs=$(curl -sS -D - -o "$off" -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/inject-$size-off/") \
        || die "request to /inject-$size-off/ failed"
    [ "$(header X-Persona-Status <<<"$hdrs")" = ok ] \
        || die "/inject-$size-off/: status not ok"
    cmp -s "$off" "$page" \
        || die "/inject-$size-off/ changed the page (got $off, file $page)"
    if ! grep -q '<!--persona:hero-->' "$off" \
            || grep -q 'persona-hero' "$off"; then
        die "/inject-$size-off/: unexpected body"
    fi
    curl -sS -o "$TMP/check.html" \
        "http://127.0.0.1:$NGINX_PORT/inject-$size-on/" \
        || die "request to /inject-$size-on/ failed"
    grep -q 'Welcome back, friend' "$TMP/check.html" \
        || die "/inject-$size-on/ without an id: no default blocks"
    log "sanity: inject-$size: on -> $(wc -c <"$on") bytes, hero, offer and" \
        "footer blocks as expected; off -> the $(wc -c <"$page")-byte page" \
        "unchanged"
}


# the OpenResty-style peer (current nginx: lua) must send what the
# module's /inject-4k-on/ sends: the same 3 blocks, the same headers
sanity_lua() {
    local hdrs got=$TMP/check-lua.html
    hdrs=$(curl -sS -D - -o "$got" -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/lua/") \
        || die "request to /lua/ failed"
    if [ "$(header X-Persona-Status <<<"$hdrs")" != ok ] \
            || [ "$(header X-Persona-Segment <<<"$hdrs")" != "$(known \
                 segment)" ]; then
        printf '%s\n' "$hdrs" >&2
        die "/lua/: $KNOWN_ID got status '$(header X-Persona-Status \
            <<<"$hdrs")', expected ok and segment $(known segment)"
    fi
    cmp -s "$got" "$TMP/expect/inject-4k.html" \
        || die "/lua/ did not send what /inject-4k-on/ sends (got $got," \
               "expected $TMP/expect/inject-4k.html)"
    hdrs=$(curl -sS -D - -o "$got" -H 'Cookie: persona_id=u9999999' \
           "http://127.0.0.1:$NGINX_PORT/lua/") || die "request failed"
    [ "$(header X-Persona-Status <<<"$hdrs")" = miss ] \
        || die "/lua/: an unknown id is not a miss"
    grep -q 'Welcome back, friend' "$got" \
        || die "/lua/ without a profile: no default blocks"
    log "sanity: lua: $KNOWN_ID -> the same page as /inject-4k-on/," \
        "unknown id -> miss with the default blocks"
}

# cache (current nginx): the known visitor twice, Redis sees one HGETALL
sanity_cache() {
    local h0 h1 hdrs
    read -r h0 _ <<<"$(redis_counters)"
    for _ in 1 2 3; do
        hdrs=$(curl -sS -D - -o /dev/null -H "Cookie: persona_id=$KNOWN_ID" \
               "http://127.0.0.1:$NGINX_PORT/persona/") \
            || die "request to /persona/ (cache) failed"
        [ "$(header X-Persona-Segment <<<"$hdrs")" = "$(known segment)" ] \
            || die "/persona/ (cache): wrong segment for $KNOWN_ID"
    done
    read -r h1 _ <<<"$(redis_counters)"
    [ $(( h1 - h0 )) -le 1 ] \
        || die "/persona/ with persona_profile_cache: $(( h1 - h0 ))" \
               "HGETALL for 3 requests of one visitor (expected 1)"
    log "sanity: cache: 3 requests of $KNOWN_ID -> $(( h1 - h0 )) HGETALL"
}

# track (main nginx): one browser request of the known visitor adds one
# exposure event and one visit; one without User-Agent (a bot) nothing
sanity_track() {
    local hdrs x0 x1 v0 v1 key=persona:profile:$KNOWN_ID ev
    x0=$(rcli XLEN "$EVENTS_KEY")
    v0=$(rcli HGET "$key" visits)
    hdrs=$(curl -sS -D - -o "$TMP/check.html" -A "$BROWSER_UA" \
           -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/track/") \
        || die "request to /track/ failed"
    [ "$(header X-Persona-Status <<<"$hdrs")" = ok ] \
        || die "/track/: status '$(header X-Persona-Status <<<"$hdrs")'"
    cmp -s "$TMP/check.html" "$BENCH_DIR/page.html" \
        || die "/track/ did not return the demo page"
    curl -sS -o /dev/null -A '' -H "Cookie: persona_id=$KNOWN_ID" \
        "http://127.0.0.1:$NGINX_PORT/track/" || die "request failed"
    sleep 0.3
    x1=$(rcli XLEN "$EVENTS_KEY")
    v1=$(rcli HGET "$key" visits)
    ev=$(rcli XREVRANGE "$EVENTS_KEY" + - COUNT 1 | tr -d '\r' | tr '\n' ' ')
    if [ "$(( x1 - x0 ))" -ne 1 ] || [ "$(( ${v1:-0} - ${v0:-0} ))" -ne 1 ] \
            || [[ $ev != *"type exposure id $KNOWN_ID "* ]]; then
        die "/track/: 2 requests (browser, bot) of $KNOWN_ID gave" \
            "$(( x1 - x0 )) events and $(( ${v1:-0} - ${v0:-0} )) visits," \
            "expected 1 and 1 (last event: $ev)"
    fi
    log "sanity: track: browser request -> 1 exposure event, visits" \
        "${v0:-0} -> $v1; bot request -> nothing"
}

# cap and nocap (main nginx): 20 visitors with a browser User-Agent, each
# in the same variant in both; a counter for those shown "urgency" only
sanity_cap() {
    local i id hdrs v vn c n_u=0 n_c=0
    for i in $(seq 100 119); do
        id=$(printf 'u%06d' "$i")
        hdrs=$(curl -sS -D - -o "$TMP/check.html" -A "$BROWSER_UA" \
               -H "Cookie: persona_id=$id" \
               "http://127.0.0.1:$NGINX_PORT/cap/") \
            || die "request to /cap/ failed"
        v=$(header X-Persona-Variants <<<"$hdrs")
        [ "$(header X-Persona-Status <<<"$hdrs")" = ok ] \
            || die "/cap/: status not ok for $id"
        vn=$(curl -sS -D - -o /dev/null -A "$BROWSER_UA" \
             -H "Cookie: persona_id=$id" \
             "http://127.0.0.1:$NGINX_PORT/nocap/" \
             | header X-Persona-Variants) || die "request to /nocap/ failed"
        [ "$vn" = "$v" ] \
            || die "$id: /cap/ variants '$v', /nocap/ variants '$vn'"
        sleep 0.05
        c=$(rcli GET "persona:profile:$id:cap:hero")
        case $v in
            hero=urgency) n_u=$((n_u + 1)); [ "$c" = 1 ] \
                || die "/cap/: $id saw urgency, cap counter '$c'" ;;
            hero=control) n_c=$((n_c + 1)); [ -z "$c" ] \
                || die "/cap/: $id saw control, cap counter '$c'" ;;
            *) die "/cap/: $id got variants '$v'" ;;
        esac
    done
    if [ "$n_u" -eq 0 ] || [ "$n_c" -eq 0 ]; then
        die "/cap/: 20 visitors, $n_u urgency, $n_c control"
    fi
    log "sanity: cap: 20 visitors -> $n_u urgency (cap counter 1)," \
        "$n_c control (no counter); nocap gives each the same variant"
}

sanity_base() {
    local hdrs
    hdrs=$(curl -sS -D - -o /dev/null -H "Cookie: persona_id=$KNOWN_ID" \
           "http://127.0.0.1:$NGINX_PORT/persona/") \
        || die "request to /persona/ (base) failed"
    [ "$(header X-Persona-Status <<<"$hdrs")" = ok ] \
        || die "/persona/ with BENCH_BASE_MODULE: status not ok"
    log "sanity: base module ($BASE_SHA): $KNOWN_ID -> ok"
}

# Fill the profile cache with every profile (ids in order, in chunks of
# 2 s from where the last chunk stopped), so the cache location's rounds
# measure hits. Bounded: at most 20 chunks.
warm_cache() {
    local done_n=0 out=$TMP/wrk-cache-fill.txt line requests kv t0
    t0=$(date +%s)
    use_inst cache
    for _ in $(seq 1 20); do
        [ "$done_n" -lt "$PROFILES" ] || break
        run_wrk 2 /persona/ "$out" random-id.lua "$PROFILES" seq "$done_n"
        line=$(grep '^BENCH_RESULT ' "$out")
        for kv in ${line#BENCH_RESULT }; do
            [ "${kv%%=*}" = requests ] && requests=${kv#*=}
        done
        done_n=$(( done_n + requests ))
    done
    log "cache: filled with $(( done_n < PROFILES ? done_n : PROFILES ))" \
        "of $PROFILES profiles in $(( $(date +%s) - t0 ))s"
}

# mem_phase NAME: a fresh nginx for NAME's location, MEM_LOAD_SECS of
# load with 64 connections, then with 1024: the worker's VmHWM after each
mem_phase() {
    local name=$1 out kv line err e0
    use_inst "${L_INST[$name]}"
    restart_nginx
    e0=$(grep -c '\[error\]' "$(inst_errlog "$INST")" 2>/dev/null || true)
    for c in 64 1024; do
        log "$name: VmHWM under $c connections (${MEM_LOAD_SECS}s)"
        out=$TMP/wrk-$name-mem$c.txt
        CONNS=$c wrk_loc "$name" "$MEM_LOAD_SECS" "$out"
        read -r "R_HWM${c}[$name]" _ <<<"$(proc_mem "$WORKER_PID")"
        line=$(grep '^BENCH_RESULT ' "$out")
        err=0
        for kv in ${line#BENCH_RESULT }; do
            case ${kv%%=*} in err_*) err=$(( err + ${kv#*=} )) ;; esac
        done
        [ "$err" -eq 0 ] || R_MEMERR[$name]+="c$c: $err wrk errors; "
    done
    e0=$(( $(grep -c '\[error\]' "$(inst_errlog "$INST")" 2>/dev/null \
             || true) - ${e0:-0} ))
    [ "$e0" -eq 0 ] || R_MEMERR[$name]+="$e0 [error] lines in its error log"
    check_nginx
}


# ---- 4.-6. one location: warm-up, measured run, counters -------------------

# run_wrk SECONDS PATH OUTFILE [SCRIPT [ARGS...]]
run_wrk() {
    local secs=$1 path=$2 out=$3 script=${4:-random-id.lua}
    shift 4 2>/dev/null || shift $#
    [ $# -gt 0 ] || set -- "$PROFILES"
    taskset -c "$LOAD_CPU" wrk -t "$THREADS" -c "$CONNS" -d "${secs}s" \
        --latency -s "$BENCH_DIR/$script" \
        "http://127.0.0.1:$NGINX_PORT$path" -- "$@" \
        </dev/null >"$out" 2>&1 &
    WRK_PID=$!
    if ! wait "$WRK_PID"; then
        WRK_PID=
        cat "$out" >&2
        die "wrk failed against $path"
    fi
    WRK_PID=
    grep -q '^BENCH_RESULT ' "$out" || { cat "$out" >&2; die "no wrk result"; }
}

# Fail loudly if the worker died (crash, or the .so changed under it).
check_nginx() {
    local w
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx master $NGINX_PID is gone"
    w=$(pgrep -P "$NGINX_PID" || true)
    if [ "$w" != "$WORKER_PID" ] \
            || grep -q 'exited on signal' "$(inst_errlog "$INST")" \
                    2>/dev/null; then
        die "nginx ($INST) worker $WORKER_PID crashed or was replaced" \
            "(now: ${w:-none})"
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
           R_CORE_LOAD R_USER_US R_SYS_US R_MISSES R_SCRIPT R_HWM R_GROUP \
           R_RSS0 R_BYTES R_SLICES R_HWM_OFF R_HWM_ON R_CMDS R_READS \
           R_REDIS_LOOKUP_US R_HWM64 R_HWM1024 R_MEMERR R_GET R_INCR \
           R_XADD R_CONNS
# sums over a location's slices (S_*), and its definition (L_*)
declare -A S_REQS S_DUR S_T S_U S_K S_NS S_RT S_H S_M S_N S_C S_NB S_NT \
           S_NST S_LB S_LT S_LST S_BYTES S_P50 S_P99 S_ERR_C S_ERR_R \
           S_ERR_W S_ERR_T S_ERR_S S_CL S_A S_RD S_G S_I S_X L_PATH \
           L_SCRIPT L_ARGS \
           L_INST
MEASURED=()
GROUP=0         # run_rounds calls so far: slices of one group are paired

# define_loc NAME PATH [SCRIPT [WRK SCRIPT ARGS...]]
define_loc() {
    local name=$1
    L_INST[$name]=${DEF_INST:-main}
    L_PATH[$name]=$2
    L_SCRIPT[$name]=${3:-random-id.lua}
    shift 2
    shift 2>/dev/null || true
    [ $# -gt 0 ] || set -- "$PROFILES"
    L_ARGS[$name]=$(printf '%s\n' "$@")
}

wrk_loc() {     # wrk_loc NAME SECONDS OUTFILE
    local -a a
    mapfile -t a <<<"${L_ARGS[$1]}"
    run_wrk "$2" "${L_PATH[$1]}" "$3" "${L_SCRIPT[$1]}" "${a[@]}"
}

warmup() {      # warmup NAME
    use_inst "${L_INST[$1]}"
    if [ "$WARMUP" -gt 0 ]; then
        wrk_loc "$1" "$WARMUP" "$TMP/wrk-$1-warmup.txt"
    fi
}

# One measured slice of a location: counters before and after a wrk run,
# added to the location's sums. "measure" in the sense of issue 2, cut
# into rounds (see run_rounds).
slice() {       # slice NAME SECONDS
    local name=$1 out=$TMP/wrk-$1-slice.txt
    local t0 t1 s0 s1 rt0 rt1 h0 h1 c0 c1 cl n0 n1 m0 m1 line kv snap
    local u0 u1 k0 k1 nb0 nt0 ns0 lb0 lt0 ls0 nb1 nt1 ns1 lb1 lt1 ls1
    local a0 a1 rd0 rd1 g0 g1 i0 i1 x0 x1

    use_inst "${L_INST[$name]}"
    snap=$(counters_outside)
    read -r n0 h0 c0 _ m0 a0 rd0 g0 i0 x0 <<<"$snap"
    snap=$(counters_cpu)
    read -r t0 u0 k0 s0 rt0 nb0 nt0 ns0 lb0 lt0 ls0 <<<"$snap"

    wrk_loc "$name" "$2" "$out"

    snap=$(counters_cpu)
    read -r t1 u1 k1 s1 rt1 nb1 nt1 ns1 lb1 lt1 ls1 <<<"$snap"
    snap=$(counters_outside)
    read -r n1 h1 c1 cl m1 a1 rd1 g1 i1 x1 <<<"$snap"

    cat "$out" >>"$TMP/wrk-$name.txt"
    line=$(grep '^BENCH_RESULT ' "$out")
    # shellcheck disable=SC2034  # all set from wrk's line, not all used
    local requests duration_us bytes err_connect err_read err_write \
          err_status err_timeout p50_us p90_us p99_us max_us
    for kv in ${line#BENCH_RESULT }; do
        printf -v "${kv%%=*}" '%s' "${kv#*=}"
    done
    [ "$requests" -gt 0 ] \
        || die "wrk completed no requests against ${L_PATH[$name]}"

    S_REQS[$name]=$(( ${S_REQS[$name]:-0} + requests ))
    S_DUR[$name]=$(( ${S_DUR[$name]:-0} + duration_us ))
    S_BYTES[$name]=$(( ${S_BYTES[$name]:-0} + bytes ))
    S_T[$name]=$(( ${S_T[$name]:-0} + t1 - t0 ))
    S_U[$name]=$(( ${S_U[$name]:-0} + u1 - u0 ))
    S_K[$name]=$(( ${S_K[$name]:-0} + k1 - k0 ))
    S_NS[$name]=$(( ${S_NS[$name]:-0} + s1 - s0 ))
    S_RT[$name]=$(( ${S_RT[$name]:-0} + rt1 - rt0 ))
    S_H[$name]=$(( ${S_H[$name]:-0} + h1 - h0 ))
    S_M[$name]=$(( ${S_M[$name]:-0} + m1 - m0 ))
    S_G[$name]=$(( ${S_G[$name]:-0} + g1 - g0 ))
    S_I[$name]=$(( ${S_I[$name]:-0} + i1 - i0 ))
    S_X[$name]=$(( ${S_X[$name]:-0} + x1 - x0 ))
    # all Redis commands: the "before" INFO call counts in the "after" one
    S_A[$name]=$(( ${S_A[$name]:-0} + a1 - a0 - 1 ))
    if [ "$rd0" -ge 0 ]; then
        S_RD[$name]=$(( ${S_RD[$name]:-0} + rd1 - rd0 ))
    fi
    # the after-status request counts itself
    S_N[$name]=$(( ${S_N[$name]:-0} + n1 - n0 - 1 ))
    # the "after" INFO call is one new connection of ours
    S_C[$name]=$(( ${S_C[$name]:-0} + c1 - c0 - 1 ))
    S_CL[$name]=$(( cl - 1 ))
    S_NB[$name]=$(( ${S_NB[$name]:-0} + nb1 - nb0 ))
    S_NT[$name]=$(( ${S_NT[$name]:-0} + nt1 - nt0 ))
    S_NST[$name]=$(( ${S_NST[$name]:-0} + ns1 - ns0 ))
    S_LB[$name]=$(( ${S_LB[$name]:-0} + lb1 - lb0 ))
    S_LT[$name]=$(( ${S_LT[$name]:-0} + lt1 - lt0 ))
    S_LST[$name]=$(( ${S_LST[$name]:-0} + ls1 - ls0 ))
    # latency percentiles: weighted by requests over the slices
    S_P50[$name]=$(( ${S_P50[$name]:-0} + p50_us * requests ))
    S_P99[$name]=$(( ${S_P99[$name]:-0} + p99_us * requests ))
    S_ERR_C[$name]=$(( ${S_ERR_C[$name]:-0} + err_connect ))
    S_ERR_R[$name]=$(( ${S_ERR_R[$name]:-0} + err_read ))
    S_ERR_W[$name]=$(( ${S_ERR_W[$name]:-0} + err_write ))
    S_ERR_T[$name]=$(( ${S_ERR_T[$name]:-0} + err_timeout ))
    S_ERR_S[$name]=$(( ${S_ERR_S[$name]:-0} + err_status ))
    # nginx CPU us/request of this slice (schedstat: finer than ticks)
    R_SLICES[$name]+="$(awk -v ns=$((s1 - s0)) -v r="$requests" \
                        'BEGIN { printf "%.3f", ns / 1000 / r }') "
}

finalize() {    # finalize NAME: the location's results from its sums
    local name=$1 requests=${S_REQS[$1]} dur=${S_DUR[$1]}
    use_inst "${L_INST[$name]}"
    MEASURED+=("$name")
    R_SCRIPT[$name]=${L_SCRIPT[$name]%.lua}
    R_BYTES[$name]=$(awk -v b="${S_BYTES[$name]}" -v r="$requests" \
                     'BEGIN { printf "%.0f", b / r }')
    read -r "R_HWM[$name]" _ <<<"$(proc_mem "$WORKER_PID")"
    R_GROUP[$name]=$GROUP
    R_REQS[$name]=$requests
    R_RPS[$name]=$(awk -v r="$requests" -v d="$dur" \
                   'BEGIN { printf "%.0f", r / (d / 1e6) }')
    R_P50[$name]=$(awk -v v="${S_P50[$name]}" -v r="$requests" \
                   'BEGIN { printf "%.3f", v / r / 1000 }')
    R_P99[$name]=$(awk -v v="${S_P99[$name]}" -v r="$requests" \
                   'BEGIN { printf "%.3f", v / r / 1000 }')
    R_CPU_US[$name]=$(awk -v t="${S_T[$name]}" -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_USER_US[$name]=$(awk -v t="${S_U[$name]}" -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_SYS_US[$name]=$(awk -v t="${S_K[$name]}" -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_SCHED_US[$name]=$(awk -v ns="${S_NS[$name]}" -v r="$requests" \
        'BEGIN { printf "%.2f", ns / 1000 / r }')
    R_BUSY[$name]=$(awk -v t="${S_T[$name]}" -v hz="$CLK_TCK" -v d="$dur" \
        'BEGIN { printf "%.0f", 100 * (t / hz) / (d / 1e6) }')
    R_REDIS_US[$name]=$(awk -v t="${S_RT[$name]}" -v hz="$CLK_TCK" \
        -v r="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    R_CORE_NGX[$name]="$(pct "${S_NB[$name]}" "${S_NT[$name]}")%"
    R_CORE_NGX[$name]+=" (steal $(pct "${S_NST[$name]}" "${S_NT[$name]}")%)"
    R_CORE_LOAD[$name]="$(pct "${S_LB[$name]}" "${S_LT[$name]}")%"
    R_CORE_LOAD[$name]+=" (steal $(pct "${S_LST[$name]}" "${S_LT[$name]}")%)"
    R_HGETALL[$name]=${S_H[$name]}
    R_CMDS[$name]=$(awk -v a="${S_A[$name]}" -v r="$requests" \
        'BEGIN { printf "%.3f", a / r }')
    R_GET[$name]=$(awk -v a="${S_G[$name]}" -v r="$requests" \
        'BEGIN { printf "%.3f", a / r }')
    R_INCR[$name]=$(awk -v a="${S_I[$name]}" -v r="$requests" \
        'BEGIN { printf "%.3f", a / r }')
    R_XADD[$name]=$(awk -v a="${S_X[$name]}" -v r="$requests" \
        'BEGIN { printf "%.3f", a / r }')
    R_CONNS[$name]=$CONNS
    if [ -n "${S_RD[$name]:-}" ]; then
        R_READS[$name]=$(awk -v a="${S_RD[$name]}" -v r="$requests" \
            'BEGIN { printf "%.3f", a / r }')
    else
        R_READS[$name]=n/a
    fi
    # Redis CPU per HGETALL it answered (none: cache hits only)
    if [ "${S_H[$name]}" -gt 0 ]; then
        R_REDIS_LOOKUP_US[$name]=$(awk -v t="${S_RT[$name]}" \
            -v hz="$CLK_TCK" -v h="${S_H[$name]}" \
            'BEGIN { printf "%.2f", t / hz * 1e6 / h }')
    else
        R_REDIS_LOOKUP_US[$name]=-
    fi
    R_MISSES[$name]=${S_M[$name]}
    R_NGX_REQS[$name]=${S_N[$name]}
    R_NEWCONN[$name]=${S_C[$name]}
    R_CLIENTS[$name]=${S_CL[$name]}
    R_ERRORS[$name]="connect=${S_ERR_C[$name]} read=${S_ERR_R[$name]}"
    R_ERRORS[$name]+=" write=${S_ERR_W[$name]} timeout=${S_ERR_T[$name]}"
    R_ERRORS[$name]+=" non2xx=${S_ERR_S[$name]}"
    if [ $(( S_ERR_C[$name] + S_ERR_R[$name] + S_ERR_W[$name] \
             + S_ERR_T[$name] + S_ERR_S[$name] )) -ne 0 ]; then
        log "WARNING: $name: wrk errors: ${R_ERRORS[$name]}"
    fi
}

# run_rounds NAME...: warm each location up, then ROUNDS rounds of one
# DURATION/ROUNDS-second slice per location, in ABBA order (forward in
# odd rounds, backward in even ones), so that a drift of the machine
# (other work on a shared host) hits every location alike and each
# comparison can be made round by round.
run_rounds() {
    local n r
    local -a order
    GROUP=$((GROUP + 1))
    if [ "$WARMUP" -gt 0 ]; then
        for n; do
            log "$n: warm-up ${WARMUP}s"
            warmup "$n"
        done
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        order=("$@")
        if [ $((r % 2)) -eq 0 ]; then
            order=()
            for ((n = $#; n >= 1; n--)); do
                order+=("${!n}")
            done
        fi
        log "round $r/$ROUNDS: ${order[*]} (${SLICE}s each," \
            "wrk -t$THREADS -c$CONNS)"
        for n in "${order[@]}"; do
            slice "$n" "$SLICE"
        done
    done
    for n; do
        finalize "$n"
    done
}


# ---- main ------------------------------------------------------------------

log "temp dir $TMP"
T_START=$(date +%s)
start_redis
log "redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT (cpu $LOAD_CPU)"
T_LOAD=$(date +%s.%N)
load_profiles
log "loaded $PROFILES profiles in $(awk -v a="$T_LOAD" -v b="$(date +%s.%N)" \
    'BEGIN { printf "%.1f", b - a }')s"

prepare_files
CACHE_STATE="not selected (BENCH_CASES)"
want cache && probe_cache
if want cache; then
    log "persona_profile_cache: $CACHE_STATE"
fi
if want track || want cap; then
    probe_issue9
    log "issue 9's locations (persona_track, caps): $ISSUE9_STATE"
fi
launch main
sanity_check
if [ "$ISSUE9_STATE" = present ]; then
    want track && sanity_track
    want cap && sanity_cap
fi
want rules50 && sanity_rules50
if want rules50 || want geo; then
    sanity_visitor
fi
want geo && sanity_geo
if want lua; then
    sanity_inject 4k
    launch lua
    sanity_lua
fi
if [ "$CACHE_STATE" = present ]; then
    launch cache
    sanity_cache
fi
if [ -n "$BASE_MODULE" ]; then
    launch base
    sanity_base
fi
use_inst main

# The spine and the extra cases of this nginx (bench/nginx.conf.in), all
# in one set of interleaved rounds. persona-v, rules50-v and geo send the
# same requests (bench/visitor.lua, with the geo database's addresses
# when there is one).
define_loc plain /plain/
define_loc persona /persona/
LOCS=(plain persona)
VISITOR_ARGS=("$PROFILES")
if want geo; then
    VISITOR_ARGS+=("$TMP/geo-addrs.txt")
fi
if want rules50; then
    define_loc rules50 /rules50/
    define_loc rules50-v /rules50-v/ visitor.lua "${VISITOR_ARGS[@]}"
    LOCS+=(rules50 rules50-v)
fi
if want rules50 || want geo; then
    define_loc persona-v /persona-v/ visitor.lua "${VISITOR_ARGS[@]}"
    LOCS+=(persona-v)
fi
if want geo; then
    define_loc geo /geo/ visitor.lua "${VISITOR_ARGS[@]}"
    LOCS+=(geo)
fi
# the peers, each in its own nginx on the same core, in the same rounds
if want lua; then
    define_loc job /inject-4k-on/
    DEF_INST=lua define_loc lua /lua/
    LOCS+=(job lua)
fi
# issue 9: browser-like requests (random-id.lua "ua"), same rounds
if [ "$ISSUE9_STATE" = present ]; then
    define_loc persona-ua /persona/ random-id.lua "$PROFILES" ua
    LOCS+=(persona-ua)
    if want track; then
        define_loc track /track/ random-id.lua "$PROFILES" ua
        LOCS+=(track)
    fi
    if want cap; then
        define_loc nocap /nocap/ random-id.lua "$PROFILES" ua
        define_loc cap /cap/ random-id.lua "$PROFILES" ua
        LOCS+=(nocap cap)
    fi
fi
if [ "$CACHE_STATE" = present ]; then
    DEF_INST=cache define_loc cache /persona/
    LOCS+=(cache)
    warm_cache
fi
if [ -n "$BASE_MODULE" ]; then
    DEF_INST=base define_loc base /persona/
    LOCS+=(base)
fi
run_rounds "${LOCS[@]}"

# issue 9 at one connection: no other request to share a write with, so
# Redis read events per request are round trips per request, and latency
# is the round trips' (an added one would show in p50)
if [ "$ISSUE9_STATE" = present ]; then
    C1_LOCS=()
    for n in persona-ua track nocap cap; do
        [ -n "${L_PATH[$n]:-}" ] || continue
        define_loc "$n-c1" "${L_PATH[$n]}" random-id.lua "$PROFILES" ua
        C1_LOCS+=("$n-c1")
    done
    CONNS=1 DURATION=$C1_SECONDS \
        SLICE=$(( C1_SECONDS / ROUNDS > 0 ? C1_SECONDS / ROUNDS : 1 )) \
        run_rounds "${C1_LOCS[@]}"
    use_inst main
    TRACK_DROPPED=$(curl -sS "http://127.0.0.1:$NGINX_PORT/bench-metrics" \
        | awk '$1 == "persona_track_dropped_total" { v = $2 }
               END { print (v == "" ? "?" : v) }') || TRACK_DROPPED='?'
fi

# Memory under 64 then 1024 concurrent connections, a fresh nginx each
if want mem; then
    for n in plain persona lua cache base; do
        [ -n "${L_PATH[$n]:-}" ] || continue
        mem_phase "$n"
    done
fi
use_inst main

# Injection: a fresh nginx per page size, so that the worker's VmHWM
# reflects that size only: its RSS at start, its peak after the off
# location's warm-up, then after the on location's (the injector's extra
# peak is the difference), then on and off in interleaved rounds.
for size in 4k 200k; do
    want "inject$size" || continue
    define_loc "inject-$size-on" "/inject-$size-on/"
    define_loc "inject-$size-off" "/inject-$size-off/"
    restart_nginx
    read -r _ rss0 <<<"$(proc_mem "$WORKER_PID")"
    R_RSS0[$size]=$rss0
    sanity_inject "$size"
    log "inject-$size-off: warm-up ${MEM_SECS}s, then VmHWM"
    wrk_loc "inject-$size-off" "$MEM_SECS" "$TMP/wrk-inject-$size-off-warmup.txt"
    read -r "R_HWM_OFF[$size]" _ <<<"$(proc_mem "$WORKER_PID")"
    log "inject-$size-on: warm-up ${MEM_SECS}s, then VmHWM"
    wrk_loc "inject-$size-on" "$MEM_SECS" "$TMP/wrk-inject-$size-on-warmup.txt"
    read -r "R_HWM_ON[$size]" _ <<<"$(proc_mem "$WORKER_PID")"
    WARMUP=0 run_rounds "inject-$size-on" "inject-$size-off"
done
T_END=$(date +%s)

# ---- 7. report -------------------------------------------------------------

ERRLOGS=("$TMP/error.log")
for i in lua cache base; do
    [ ! -f "$TMP/error-$i.log" ] || ERRLOGS+=("$TMP/error-$i.log")
done
ERRLOG_WARN=$(cat "${ERRLOGS[@]}" 2>/dev/null \
              | grep -c '\[warn\]\|\[error\]\|\[crit\]\|\[alert\]\|\[emerg\]' \
              || true)
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

# ---- extra cases: each location against its baseline of this run ----------

has() { [ -n "${R_REQS[$1]:-}" ]; }
rps_ratio() {
    awk -v a="${R_RPS[$1]}" -v b="${R_RPS[$2]}" 'BEGIN { printf "%.3f", a / b }'
}
d_us() {
    awk -v a="${R_CPU_US[$1]}" -v b="${R_CPU_US[$2]}" \
        'BEGIN { printf "%+.2f", a - b }'
}
d_sched() {
    awk -v a="${R_SCHED_US[$1]}" -v b="${R_SCHED_US[$2]}" \
        'BEGIN { printf "%+.2f", a - b }'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) }'; }
# "min..max" of NAME - BASE nginx CPU us/request (schedstat) round by round
d_rounds() {
    if [ "${R_GROUP[$1]}" != "${R_GROUP[$2]}" ]; then
        echo '(other rounds)'
        return 0
    fi
    awk -v a="${R_SLICES[$1]}" -v b="${R_SLICES[$2]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) {
            d = x[i] - y[i]
            if (i == 1 || d < lo) lo = d
            if (i == 1 || d > hi) hi = d
        }
        printf "%+.1f..%+.1f", lo, hi }'
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) }'; }

# what each extra location is compared with
declare -A BASE=(
    [rules50]=persona [persona-v]=persona [rules50-v]=persona-v
    [geo]=persona-v [inject-4k-on]=inject-4k-off [inject-4k-off]=persona
    [inject-200k-on]=inject-200k-off [inject-200k-off]=plain
    [job]=lua [lua]=plain [cache]=persona [base]=persona
    [persona-ua]=persona [track]=persona-ua [nocap]=persona-ua [cap]=nocap
    [persona-ua-c1]=persona-ua [track-c1]=persona-ua-c1
    [nocap-c1]=persona-ua-c1 [cap-c1]=nocap-c1
)

EXTRA_TARGETS=()        # lines of the targets block
V_EXTRA=1               # all extra targets met
extra_target() {        # extra_target OK(0/1) WHAT GOT...
    local v=$1 what=$2
    shift 2
    [ "$v" -eq 1 ] || V_EXTRA=0
    EXTRA_TARGETS+=("$(printf '  %-4s %-40s got %s' "$(verdict "$v")" \
                       "$what" "$*")")
}

if has rules50; then
    r=$(rps_ratio rules50 persona)
    got="$r ($(d_us rules50 persona) us/req nginx CPU, sched"
    got+=" $(d_sched rules50 persona))"
    if has rules50-v; then
        got+="; browser requests rules50-v/persona-v $(rps_ratio rules50-v \
            persona-v) ($(d_us rules50-v persona-v) us/req)"
    fi
    extra_target "$(ge "$r" "$TARGET_RULES_RATIO")" \
        "rules50 throughput vs persona >= $TARGET_RULES_RATIO" "$got"
fi
if has geo; then
    d=$(d_us geo persona-v)
    extra_target "$(lt "$d" "$TARGET_GEO_US")" \
        "geo lookup < $TARGET_GEO_US us/request" \
        "$d us (geo - persona-v, sched $(d_sched geo persona-v);" \
        "geo - persona $(d_us geo persona))"
fi
# req/s ratio, and nginx's capacity ratio (us/request off / on): when the
# off location does not saturate nginx (wrk's core is the bottleneck with
# 200 KiB pages), req/s alone would hide the injector's cost. Both count.
for size in 4k 200k; do
    if has "inject-$size-on" && has "inject-$size-off"; then
        r=$(rps_ratio "inject-$size-on" "inject-$size-off")
        cap=$(awk -v a="${R_CPU_US[inject-$size-off]}" \
                  -v b="${R_CPU_US[inject-$size-on]}" \
                  'BEGIN { printf "%.3f", a / b }')
        extra_target "$(( $(ge "$r" "$TARGET_INJECT_RATIO") \
                          && $(ge "$cap" "$TARGET_INJECT_RATIO") ))" \
            "inject ${size^^} on/off throughput >= $TARGET_INJECT_RATIO" \
            "req/s $r, nginx capacity $cap" \
            "($(d_us "inject-$size-on" "inject-$size-off") us/req, sched" \
            "$(d_sched "inject-$size-on" "inject-$size-off"))"
    fi
done
# the injector's extra peak RSS per page size: VmHWM after the on
# location's warm-up minus after the off location's, in a fresh nginx
if [ -n "${R_HWM_ON[4k]:-}" ] && [ -n "${R_HWM_ON[200k]:-}" ]; then
    X4=$(( R_HWM_ON[4k] - R_HWM_OFF[4k] ))
    X200=$(( R_HWM_ON[200k] - R_HWM_OFF[200k] ))
    extra_target "$(( X200 - X4 <= TARGET_HWM_KB ))" \
        "VmHWM 200K vs 4K: injector +<= ${TARGET_HWM_KB} kB" \
        "$(( X200 - X4 )) kB (VmHWM 4K ${R_HWM_ON[4k]} kB, 200K" \
        "${R_HWM_ON[200k]} kB; injector's extra peak: 4K $X4, 200K $X200" \
        "kB)"
fi

# ---- issue 10: the peers (lua, cache, base) and memory ---------------------

has_mem() { [ -n "${R_HWM64[*]:-}" ]; }
ratio_of() {    # ratio_of A B: A / B with 3 decimals, "-" when missing
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0)
            print "-"
        else printf "%.3f", a / b }'
}

declare -A WHAT=(
    [plain]="plain nginx, 4 KiB page"
    [persona]="persona on: 1 lookup + header"
    [job]="module: lookup + header + 3 blocks"
    [lua]="Lua peer: the same job"
    [cache]="persona on, profile cache hits"
    [base]="persona on, BENCH_BASE_MODULE"
)

if has persona && has plain; then
    extra_target "$(ge "$(rps_ratio persona plain)" 0.80)" \
        "issue 10: persona >= 0.80x plain" "$(rps_ratio persona plain)"
    extra_target "$(awk -v d="$(d_us persona plain)" \
                   'BEGIN { print (d + 0 <= 4) }')" \
        "issue 10: <= 4 us nginx CPU added/request" \
        "$(d_us persona plain) us (sched $(d_sched persona plain))"
fi
if has job && has lua; then
    extra_target "$(ge "$(rps_ratio job lua)" 1.7)" \
        "issue 10: module >= 1.7x the Lua peer" \
        "$(rps_ratio job lua) (job/lua req/s; persona/lua" \
        "$(rps_ratio persona lua))"
fi
if has cache; then
    extra_target "$(ge "$(rps_ratio cache plain)" 0.95)" \
        "issue 10: cache hits >= 0.95x plain" \
        "$(rps_ratio cache plain) ($(awk -v h="${R_HGETALL[cache]}" \
          -v r="${R_REQS[cache]}" 'BEGIN { printf "%.1f", 100 - 100 * h / r }')% hits)"
fi
if has base && [ "${R_REDIS_LOOKUP_US[base]}" != - ] \
        && [ "${R_REDIS_LOOKUP_US[persona]}" != - ]; then
    r=$(ratio_of "${R_REDIS_LOOKUP_US[persona]}" \
                 "${R_REDIS_LOOKUP_US[base]}")
    extra_target "$(awk -v r="$r" 'BEGIN { print (r + 0 <= 0.334) }')" \
        "issue 10: Redis CPU/lookup <= 1/3 of base" \
        "$r (${R_REDIS_LOOKUP_US[persona]} vs ${R_REDIS_LOOKUP_US[base]} us)"
fi

# ---- issue 9: tracking and caps --------------------------------------------

TARGET_TRACK_US=3        # persona_track on adds <= 3 us nginx CPU/request
TARGET_LAT=1.10          # "nothing to latency": p50 and p99 within
                         # 10% of the baseline's (32 and 1 connection)
TARGET_RT=0.05           # "no Redis round trip": cap's round trips per
                         # request before the response within 0.05 of
                         # nocap's (at one connection)

# "reads/req - INCR/req - XADD/req" at one connection: the Redis read
# events of the lookups (the response waits for them) without those of
# the writes after the response (one write per exposure: SET NX + INCR;
# one per tracked request: HINCRBY + HSET + XADD). At more connections
# requests share writes: "-".
pre_rt() {
    awk -v r="${R_READS[$1]}" -v i="${R_INCR[$1]}" -v x="${R_XADD[$1]}" \
        -v c="${R_CONNS[$1]}" 'BEGIN {
            if (r == "n/a" || c != 1) print "-"
            else printf "%.3f", r - i - x }'
}
lat_ok() {      # lat_ok A B: p50 and p99 of A within TARGET_LAT x B's
    awk -v a5="${R_P50[$1]}" -v b5="${R_P50[$2]}" -v a9="${R_P99[$1]}" \
        -v b9="${R_P99[$2]}" -v t="$TARGET_LAT" \
        'BEGIN { print (a5 <= t * b5 && a9 <= t * b9) }'
}

if has track && has persona-ua; then
    extra_target "$(awk -v d="$(d_us track persona-ua)" -v t="$TARGET_TRACK_US" \
                   'BEGIN { print (d + 0 <= t) }')" \
        "issue 9: tracking <= $TARGET_TRACK_US us nginx CPU/request" \
        "$(d_us track persona-ua) us (track - persona-ua, sched" \
        "$(d_sched track persona-ua); rounds $(d_rounds track persona-ua))"
    extra_target "$(lat_ok track persona-ua)" \
        "issue 9: tracking adds nothing to latency, $CONNS conns" \
        "p50 ${R_P50[track]} vs ${R_P50[persona-ua]} ms, p99" \
        "${R_P99[track]} vs ${R_P99[persona-ua]} ms (each <= +10% asked)"
    if has track-c1 && has persona-ua-c1; then
        extra_target "$(lat_ok track-c1 persona-ua-c1)" \
            "issue 9: tracking adds nothing to latency, 1 conn" \
            "p50 ${R_P50[track-c1]} vs ${R_P50[persona-ua-c1]} ms, p99" \
            "${R_P99[track-c1]} vs ${R_P99[persona-ua-c1]} ms (each <=" \
            "+10% asked); round trips before the response" \
            "$(pre_rt track-c1) vs $(pre_rt persona-ua-c1)"
    fi
fi
if has cap && has nocap && has cap-c1 && has nocap-c1; then
    r=$(awk -v a="$(pre_rt cap-c1)" -v b="$(pre_rt nocap-c1)" \
        'BEGIN { printf "%+.3f", a - b }')
    extra_target "$(awk -v r="$r" -v t="$TARGET_RT" \
                   'BEGIN { print (r + 0 <= t) }')" \
        "issue 9: a capped experiment adds no round trip" \
        "$r round trips/request before the response (1 conn:" \
        "cap $(pre_rt cap-c1), nocap $(pre_rt nocap-c1); GET/req" \
        "${R_GET[cap-c1]}, INCR/req ${R_INCR[cap-c1]}); $CONNS conns:" \
        "reads/req cap ${R_READS[cap]}, nocap ${R_READS[nocap]}; cmds/req" \
        "${R_CMDS[cap]} vs ${R_CMDS[nocap]}"
    extra_target "$(lat_ok cap-c1 nocap-c1)" \
        "issue 9: cap latency vs nocap, 1 conn" \
        "p50 ${R_P50[cap-c1]} vs ${R_P50[nocap-c1]} ms, p99" \
        "${R_P99[cap-c1]} vs ${R_P99[nocap-c1]} ms (each <= +10% asked);" \
        "$CONNS conns: p50 ${R_P50[cap]} vs ${R_P50[nocap]}, p99" \
        "${R_P99[cap]} vs ${R_P99[nocap]} ms"
fi

report_issue9() {
    local n b d
    echo "issue 9: tracking and frequency caps, same run; browser-like" \
         "requests (random-id.lua \"ua\": a User-Agent, else a bot)"
    echo "  persona-ua: /persona/ (the lookup alone); track: + persona_track" \
         "on, events to $EVENTS_KEY (MAXLEN ~ $EVENTS_MAXLEN; tracking" \
         "writes leave after the response); nocap: + a 50/50 experiment;" \
         "cap: the same experiment with a cap (max 1000 per 1d: never" \
         "reached in a run, every exposure is counted)"
    echo "  *-c1: the same at 1 connection, $C1_SECONDS s each: reads/req" \
         "there are round trips per request; rt_pre = reads/req - INCR/req" \
         "- XADD/req, the round trips before the response (the writes" \
         "after it are one per exposure, SET NX + INCR, and one per" \
         "tracked request, HINCRBY + HSET + XADD)"
    echo "  +us = nginx CPU us/request - the base's; GET, INCR, XADD per" \
         "request from INFO commandstats"
    printf '%-14s %-13s %4s %8s %7s %7s %8s %7s %8s %9s %6s %6s %6s %6s\n' \
        location base conn req/s p50_ms p99_ms ngx_us +us cmds/req \
        reads/req rt_pre GET INCR XADD
    for n in persona plain persona-ua track nocap cap persona-ua-c1 track-c1 \
             nocap-c1 cap-c1; do
        has "$n" || continue
        b=${BASE[$n]:-plain}
        d=-
        if [ "$n" = plain ]; then
            b=-
        else
            d=$(d_us "$n" "$b")
        fi
        printf '%-14s %-13s %4s %8s %7s %7s %8s %7s %8s %9s %6s %6s %6s %6s\n' \
            "$n" "$b" "${R_CONNS[$n]}" "${R_RPS[$n]}" "${R_P50[$n]}" \
            "${R_P99[$n]}" "${R_CPU_US[$n]}" \
            "$d" \
            "${R_CMDS[$n]}" "${R_READS[$n]}" "$(pre_rt "$n")" \
            "${R_GET[$n]}" "${R_INCR[$n]}" "${R_XADD[$n]}"
    done
    if has track; then
        echo "  events stream after the run: $(rcli XLEN "$EVENTS_KEY")" \
             "entries (maxlen ~ $EVENTS_MAXLEN);" \
             "persona_track_dropped_total: ${TRACK_DROPPED:-?}"
    fi
}

report_peers() {
    local n
    echo "peers and Redis cost (issue 10), same run, same core for every" \
         "nginx:"
    echo "  plain, persona, job: $TMP/nginx.conf (one nginx); lua: its own" \
         "nginx with Debian's lua-nginx-module $(dpkg-query -W -f \
         '${Version}' libnginx-mod-http-lua 2>/dev/null || echo '?') and" \
         "lua-resty-redis (bench/nginx-lua.conf.in)"
    echo "  persona_profile_cache: $CACHE_STATE"
    if [ -n "$BASE_MODULE" ]; then
        echo "  base: $BASE_MODULE (sha256 $BASE_SHA)"
    fi
    echo "  x_plain = req/s / plain's; +us = nginx worker CPU us/request -" \
         "plain's; redis_us/req and /lookup = redis-server utime+stime per" \
         "wrk request and per HGETALL; cmds/req = all Redis commands" \
         "(INFO commandstats) per request; reads/req = Redis read events" \
         "(total_reads_processed) per request; HWM64/HWM1024 = the" \
         "worker's VmHWM (kB) after ${MEM_LOAD_SECS}s under 64, then 1024" \
         "connections, in a fresh nginx"
    printf '%-8s %-36s %8s %7s %7s %8s %7s %8s %8s %8s %9s %8s %9s\n' \
        location what req/s x_plain p99_ms ngx_us +us redis/req \
        redis/lkp cmds/req reads/req HWM64 HWM1024
    for n in plain persona job lua cache base; do
        [ -n "${L_PATH[$n]:-}" ] || continue
        if has "$n"; then
            printf '%-8s %-36s %8s %7s %7s %8s %7s %8s %8s %8s %9s' \
                "$n" "${WHAT[$n]}" "${R_RPS[$n]}" "$(rps_ratio "$n" plain)" \
                "${R_P99[$n]}" "${R_CPU_US[$n]}" "$(d_us "$n" plain)" \
                "${R_REDIS_US[$n]}" "${R_REDIS_LOOKUP_US[$n]}" \
                "${R_CMDS[$n]}" "${R_READS[$n]}"
        else
            printf '%-8s %-36s %8s %7s %7s %8s %7s %8s %8s %8s %9s' \
                "$n" "${WHAT[$n]}" - - - - - - - - -
        fi
        printf ' %8s %9s\n' "${R_HWM64[$n]:--}" "${R_HWM1024[$n]:--}"
    done
    for n in plain persona lua cache base; do
        [ -z "${R_MEMERR[$n]:-}" ] \
            || echo "  memory phase of $n: ${R_MEMERR[$n]}"
    done
    echo
    if has persona; then
        echo "persona/plain:          $(rps_ratio persona plain)" \
             "($(d_us persona plain) us/request nginx CPU)"
    fi
    if has job && has lua; then
        echo "module/Lua peer:        $(rps_ratio job lua) (job/lua req/s;" \
             "nginx CPU ${R_CPU_US[job]} vs ${R_CPU_US[lua]} us/request);" \
             "lua/plain $(rps_ratio lua plain), job/plain $(rps_ratio job \
             plain)"
    fi
    if has cache; then
        echo "cache hits/plain:       $(rps_ratio cache plain);" \
             "cache/persona $(rps_ratio cache persona);" \
             "${R_HGETALL[cache]} HGETALL for ${R_REQS[cache]} requests"
    fi
    if has base; then
        echo "persona/base:           $(rps_ratio persona base) req/s;" \
             "Redis CPU per lookup ${R_REDIS_LOOKUP_US[persona]} vs" \
             "${R_REDIS_LOOKUP_US[base]} us" \
             "($(ratio_of "${R_REDIS_LOOKUP_US[persona]}" \
             "${R_REDIS_LOOKUP_US[base]}")); reads/request" \
             "${R_READS[persona]} vs ${R_READS[base]}"
    fi
}

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
    echo "features: persona_profile_cache $CACHE_STATE; persona_track and" \
         "caps (issue 9) $ISSUE9_STATE"
    echo "redis:    $(redis-server --version | awk '{ print $3 }'), cpu" \
         "$LOAD_CPU; $PROFILES hash profiles; nginx connects over" \
         "$REDIS_SOCKET"
    echo "wrk:      -t$THREADS -c$CONNS --latency, $ROUNDS interleaved rounds" \
         "of ${SLICE}s per location (warm-up ${WARMUP}s), cpu $LOAD_CPU;" \
         "random persona_id cookie per request"
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
    if [ "$ERRLOG_WARN" -gt 0 ]; then
        cat "${ERRLOGS[@]}" \
            | grep '\[warn\]\|\[error\]\|\[crit\]\|\[alert\]\|\[emerg\]' \
            | sed -E 's/^[0-9/]+ [0-9:]+ (\[[a-z]+\]) [0-9]+#[0-9]+: (\*[0-9]+ )?/\1 /' \
            | sort | uniq -c \
            | sort -rn | head -n 5 | sed 's/^/  /' || true
    fi
    if [ -n "${T_END:-}" ]; then
        echo "run time: $(( T_END - T_START )) s"
    fi
    echo
    echo "persona/plain throughput:      $ratio"
    echo "persona nginx CPU overhead:    $overhead us/request" \
         "(schedstat: $overhead_sched us)"
    echo "Redis commands per request:    $cmd_per_req per wrk request," \
         "$cmd_per_ngx per nginx request"
    echo
    if has job || has lua || has cache || has base || has_mem; then
        report_peers
        echo
    fi
    if has persona-ua; then
        report_issue9
        echo
    fi
    if [ "${#MEASURED[@]}" -gt 2 ]; then
        report_extra
        echo
    fi
    echo "targets (issue 2's four, then the extra cases', issue 10's and" \
         "issue 9's):"
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
    if [ "${#EXTRA_TARGETS[@]}" -gt 0 ]; then
        printf '%s\n' "${EXTRA_TARGETS[@]}"
    fi
    if [ "${R_BUSY[plain]}" -lt 90 ] || [ "${R_BUSY[persona]}" -lt 90 ]; then
        echo
        echo "note: the nginx worker was not saturated (busy" \
             "${R_BUSY[plain]}% plain, ${R_BUSY[persona]}% persona), so req/s" \
             "is not nginx's full capacity; the us/request figures are the" \
             "comparable ones."
    fi
    for n in "${MEASURED[@]}"; do
        if [ "$(( ${R_CORE_NGX[$n]%%%*} - R_BUSY[$n] ))" -gt 5 ]; then
            echo "note: other processes used" \
                 "$(( ${R_CORE_NGX[$n]%%%*} - R_BUSY[$n] ))% of cpu" \
                 "$NGINX_CPU during the $n run (shared machine?); figures" \
                 "are disturbed, run again when the machine is idle."
        fi
    done
}

report_extra() {
    local n b lines
    echo "extra cases (BENCH_CASES=$CASES), same run, same nginx settings;" \
         "sendfile $SENDFILE"
    echo "  rules50   /rules50/: persona + rules/rules50.json (50 segments;" \
         "the known visitor matches" \
         "$( [ -n "$PERSONA_CHECK" ] && explain_known \
             "$TMP/rules/rules50.json" \
             '"request.path": "/rules50/", "header.User-Agent": ""' \
             | awk '{ print split($2, a, ",") }' || echo '?') of them)"
    echo "  persona-v, rules50-v, geo: Host $VHOST (realip from" \
         "X-Forwarded-For), browser-like requests (bench/visitor.lua)"
    if has geo; then
        echo "  geo       persona_geoip2 with $GEO_NETWORKS IPv4 +" \
             "$((GEO_NETWORKS / 4)) IPv6 networks" \
             "($(( $(stat -c %s "$TMP/geo.mmdb") / 1024 )) KiB), rules on" \
             "geo.country/geo.city; every X-Forwarded-For is in the database"
    fi
    echo "  inject-*  persona + rules/inject.json (blocks for hero, offer," \
         "footer) on a 4096 / 204800-byte page, persona_inject on/off;" \
         "a fresh nginx per page size"
    echo "  ratio = req/s / req/s of base; d_us = nginx CPU us/request -" \
         "base's (ticks), d_sched the same from schedstat, d_rounds its" \
         "range over the $ROUNDS rounds (each round's slices back to back)"
    echo
    printf '%-15s %8s %7s %7s %7s %10s %9s %7s %6s  %-15s %6s %8s %8s %s\n' \
        location req/s p50_ms p99_ms resp_B ngx_us/req sched_us ngx_cpu \
        /plain base ratio d_us d_sched d_rounds
    for n in "${MEASURED[@]}"; do
        b=${BASE[$n]:-}
        if [ -n "$b" ] && has "$b"; then
            printf -v lines '%-15s %6s %8s %8s %s' "$b" \
                "$(rps_ratio "$n" "$b")" "$(d_us "$n" "$b")" \
                "$(d_sched "$n" "$b")" "$(d_rounds "$n" "$b")"
        else
            lines='-'
        fi
        printf '%-15s %8s %7s %7s %7s %10s %9s %6s%% %6s  %s\n' \
            "$n" "${R_RPS[$n]}" "${R_P50[$n]}" "${R_P99[$n]}" \
            "${R_BYTES[$n]}" "${R_CPU_US[$n]}" "${R_SCHED_US[$n]}" \
            "${R_BUSY[$n]}" "$(rps_ratio "$n" plain)" "$lines"
    done
    echo
    for n in "${MEASURED[@]}"; do
        case $n in plain|persona) continue ;; esac
        echo "$n: wrk requests ${R_REQS[$n]} (${R_SCRIPT[$n]}.lua), nginx" \
             "${R_NGX_REQS[$n]}, HGETALL ${R_HGETALL[$n]}, new Redis" \
             "connections ${R_NEWCONN[$n]}, wrk errors: ${R_ERRORS[$n]};" \
             "user ${R_USER_US[$n]} + kernel ${R_SYS_US[$n]} us/req;" \
             "cpu $NGINX_CPU busy ${R_CORE_NGX[$n]}, cpu $LOAD_CPU busy" \
             "${R_CORE_LOAD[$n]}"
    done
    if [ -n "${R_RSS0[*]:-}" ]; then
        echo
        echo "nginx worker memory, a fresh nginx per page size (kB): RSS at" \
             "start; VmHWM after ${MEM_SECS}s of the off location, after" \
             "${MEM_SECS}s more of the on location, after the rounds"
        for n in 4k 200k; do
            [ -n "${R_HWM_ON[$n]:-}" ] || continue
            printf '  %-5s %8s -> off %8s -> on %8s (injector +%s) -> %8s\n' \
                "${n^^}" "${R_RSS0[$n]}" "${R_HWM_OFF[$n]}" \
                "${R_HWM_ON[$n]}" \
                "$(( R_HWM_ON[$n] - R_HWM_OFF[$n] ))" "${R_HWM[inject-$n-on]}"
        done
        if [ -n "${X4:-}" ]; then
            echo "  injector's extra peak, 200K - 4K: $(( X200 - X4 )) kB for" \
                 "$CONNS connections ($(awk -v d=$(( X200 - X4 )) \
                 -v c="$CONNS" 'BEGIN { printf "%.1f", d / c }') kB each)"
        fi
    fi
    lines=$(awk '$1 != "plain" && $1 != "persona"' <<<"$(for n in \
        "${MEASURED[@]}"; do echo "$n ${R_BUSY[$n]}"; done)" \
        | awk '$2 < 90 { printf "%s%s (%s%%)", s, $1, $2; s = ", " }')
    if [ -n "$lines" ]; then
        echo
        echo "note: nginx worker not saturated in $lines: req/s there is" \
             "bounded by the load core (wrk + redis), the us/request" \
             "figures are the comparable ones."
    fi
}

mkdir -p "$BENCH_DIR/results"
RESULT_FILE=$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ).txt
report | tee -a "$RESULT_FILE"
{
    echo
    for n in "${MEASURED[@]}"; do
        echo "--- wrk output, $n"
        grep -v '^BENCH_RESULT ' "$TMP/wrk-$n.txt"
    done
} >>"$RESULT_FILE"
log "results appended to ${RESULT_FILE#"$ROOT"/}"

OK=1
if [ "$(( v_ratio && v_over && v_cmds && v_conn && V_EXTRA ))" -ne 1 ] \
        && [ -n "${BENCH_STRICT:-}" ]; then
    exit 1
fi
exit 0
