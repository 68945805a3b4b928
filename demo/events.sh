#!/usr/bin/env bash
# Prints the entries of a Redis stream as they arrive, one line each:
#   demo/events.sh REDIS_PORT STREAM
set -euo pipefail
port=$1
stream=$2
last='$'
while :; do
    # XREAD's reply, one element a line: the stream, then per entry its
    # id and its field/value pairs; an id stands where a field would
    out=$(redis-cli -p "$port" XREAD COUNT 100 BLOCK 5000 STREAMS \
          "$stream" "$last" 2>/dev/null) || { sleep 1; continue; }
    [ -n "$out" ] || continue
    next=$(printf '%s\n' "$out" | awk -v stream="$stream" '
        NR == 1 && $0 == stream { next }
        key == "" && /^[0-9]+-[0-9]+$/ {
            if (line != "") print line
            line = "  event " $0 ":"; id = $0; next }
        key == "" { key = $0; next }
        { if (key != "ts") line = line " " key "=" $0; key = "" }
        END { if (line != "") print line; print "LAST " id }')
    printf '%s\n' "$next" | grep -v '^LAST ' || true
    last=$(printf '%s\n' "$next" | sed -n 's/^LAST //p')
    [ -n "$last" ] || last='$'
done
