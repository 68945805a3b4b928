#!/usr/bin/env bash
# A throw-away Redis Cluster on loopback for tests and benchmarks:
# MASTERS masters (default 3) with REPLICAS replicas each (default 1) on
# free ports, from Debian's redis-server and redis-cli --cluster create.
#
#   scripts/redis-cluster.sh start DIR    prints the node ports, masters
#                                         first; ready when it returns
#   scripts/redis-cluster.sh stop DIR
set -euo pipefail

cmd=${1:-}
dir=${2:-}
masters=${MASTERS:-3}
replicas=${REPLICAS:-1}

if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

# free ports below 32000 (outside the ephemeral range), also free for the
# cluster bus (port + 10000)
free_ports() {
    perl -MIO::Socket::INET -e '
        my ($n, @ports, %seen) = ($ARGV[0]);
        for (1 .. 2000) {
            last if @ports == $n;
            my $port = 12000 + int rand 9000;
            next if $seen{$port}++;
            my @s;
            for my $p ($port, $port + 10000) {
                my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                    LocalPort => $p, Proto => "tcp", Listen => 1) or last;
                push @s, $s;
            }
            push @ports, $port if @s == 2;
        }
        exit 1 unless @ports == $n;
        print "@ports\n";' "$1"
}

case $cmd in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    total=$((masters * (replicas + 1)))
    read -r -a ports <<< "$(free_ports "$total")"
    addrs=()
    for port in "${ports[@]}"; do
        mkdir -p "$dir/$port"
        redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
            --cluster-config-file "$dir/$port/nodes.conf" \
            --cluster-node-timeout 2000 --dir "$dir/$port" --save '' \
            --appendonly no --enable-debug-command yes --daemonize yes \
            --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
        addrs+=("127.0.0.1:$port")
    done
    for port in "${ports[@]}"; do
        for _ in $(seq 50); do
            redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
            sleep 0.1
        done
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" \
        --cluster-yes >"$dir/create.log" 2>&1
    for _ in $(seq 100); do
        ok=1
        for port in "${ports[@]}"; do
            redis-cli -p "$port" cluster info 2>/dev/null \
                | grep -q 'cluster_state:ok' || ok=0
        done
        [ "$ok" = 1 ] && break
        sleep 0.1
    done
    if [ "$ok" != 1 ]; then
        echo "redis-cluster: the cluster did not become ready" >&2
        exit 1
    fi
    echo "${ports[*]}" > "$dir/ports"
    echo "${ports[*]}"
    ;;
stop)
    for pid in "$dir"/*/redis.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
