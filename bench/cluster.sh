#!/usr/bin/env bash
# Throughput and nginx CPU per request with persona_redis against one
# Redis node and against a 3-master Redis Cluster, in one run, same
# profiles, same nginx (1 worker), same wrk load (random ids).
#
#   bench/cluster.sh [seconds=10] [ids=10000] [connections=32]
#
# Prints one line per target: requests/s, non-2xx, p99 latency, and the
# nginx worker's CPU (utime+stime) per request.  A shared machine makes
# the absolute numbers noisy: compare the two lines of one run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-10}
ids=${2:-10000}
conns=${3:-32}
nginx=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
module=$root/build/ngx_http_persona_module.so

for c in redis-server redis-cli wrk perl "$nginx"; do
    command -v "$c" >/dev/null || { echo "cluster.sh: $c not found" >&2; exit 2; }
done
[ -f "$module" ] || { echo "cluster.sh: make module first" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/persona-bench-cluster.XXXXXX")
single_pid=

cleanup() {
    [ -f "$dir/nginx/logs/nginx.pid" ] \
        && kill -QUIT "$(cat "$dir/nginx/logs/nginx.pid")" 2>/dev/null || true
    [ -n "$single_pid" ] && kill "$single_pid" 2>/dev/null || true
    "$root/scripts/redis-cluster.sh" stop "$dir/cluster" || true
    sleep 0.3
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 200) {
            my $p = 20000 + int rand 12000;
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                LocalPort => $p, Proto => "tcp", Listen => 1) or next;
            print $p; exit 0;
        }
        exit 1;'
}

# ---- Redis: one node, and a cluster of 3 masters -------------------------

single=$(free_port)
redis-server --port "$single" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --logfile "$dir/single.log" &
single_pid=$!
read -r -a cports <<< "$(MASTERS=3 REPLICAS=0 \
    "$root/scripts/redis-cluster.sh" start "$dir/cluster" | tail -1)"
for _ in $(seq 50); do
    redis-cli -p "$single" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
done

# the same profiles in both, keys with a hash tag; the cluster's are sent
# to the node a MOVED names
perl -MIO::Socket::INET -e '
    my ($ids, @ports) = @ARGV;
    my %sock;
    sub cmd {
        my ($port, @a) = @_;
        my $s = $sock{$port} ||= IO::Socket::INET->new(
            PeerAddr => "127.0.0.1", PeerPort => $port) or die "$port: $!";
        print $s "*" . @a . "\r\n" . join("", map { "\$" . length($_) . "\r\n$_\r\n" } @a);
        my $line = <$s>;
        return $line;
    }
    for my $i (0 .. $ids - 1) {
        my @c = ("HSET", sprintf("persona:{u%06d}:profile", $i),
                 "tier", ($i % 3 ? "gold" : "silver"), "visits", $i % 50);
        cmd($ports[0], @c);
        my $r = cmd($ports[1], @c);
        $r = cmd($1, @c) if $r =~ /^-MOVED \d+ [\d.]+:(\d+)/;
        die "seeding: $r" if $r =~ /^-/;
    }' "$ids" "$single" "${cports[0]}"

# ---- nginx and wrk, once per target ---------------------------------------

port=$(free_port)
mkdir -p "$dir/nginx/conf" "$dir/nginx/logs"

run() {
    local name=$1 redis=$2
    cat > "$dir/nginx/conf/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    persona_redis $redis timeout=200ms max_fails=0;
    server {
        listen 127.0.0.1:$port;
        location = /t {
            persona on;
            persona_profile_key "persona:{\$persona_id}:profile";
            return 200 "\$persona_status \$persona_profile_tier\n";
        }
    }
}
CONF
    "$nginx" -p "$dir/nginx/" -c conf/nginx.conf
    sleep 0.5
    local worker
    worker=$(pgrep -P "$(cat "$dir/nginx/logs/nginx.pid")" | head -1)

    # warm up: connections and (cluster) the slot map
    wrk -t1 -c"$conns" -d1s -s "$root/bench/random-id.lua" \
        "http://127.0.0.1:$port/t" -- "$ids" >/dev/null
    local ok
    ok=$(curl -s "http://127.0.0.1:$port/t" -H "Cookie: persona_id=u000001")

    local t0 t1 out
    t0=$(awk '{ print $14 + $15 }' "/proc/$worker/stat")
    out=$(wrk -t1 -c"$conns" -d"${secs}s" -s "$root/bench/random-id.lua" \
          "http://127.0.0.1:$port/t" -- "$ids" | grep BENCH_RESULT)
    t1=$(awk '{ print $14 + $15 }' "/proc/$worker/stat")

    kill -QUIT "$(cat "$dir/nginx/logs/nginx.pid")"
    sleep 0.5

    perl -e '
        my ($name, $ok, $ticks, $hz, $out) = @ARGV;
        my %r = $out =~ /(\w+)=(\d+)/g;
        my $rps = $r{requests} / ($r{duration_us} / 1e6);
        my $cpu = $ticks / $hz * 1e6 / ($r{requests} || 1);
        printf "%-8s %9.0f req/s  non-2xx %d  p99 %.2f ms  nginx cpu %.1f us/req  (a lookup: %s)\n",
            $name, $rps, $r{err_status}, $r{p99_us} / 1000, $cpu, $ok;
    ' "$name" "$ok" "$((t1 - t0))" "$(getconf CLK_TCK)" "$out"
}

echo "persona_redis: one node vs a 3-master cluster; ${secs}s each," \
     "$conns connections, $ids ids"
run single "127.0.0.1:$single"
run cluster "127.0.0.1:${cports[0]} 127.0.0.1:${cports[1]} cluster"
