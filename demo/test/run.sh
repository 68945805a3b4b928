#!/usr/bin/env bash
# make demo-test: starts the demo (demo/run.sh) on free ports, runs the
# dashboard parser's tests and the browser test against it, stops it.
# Screenshots: build/demo-test/*.png.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/demo/test"
shots="$root/build/demo-test"
chromium=${CHROMIUM:-/usr/bin/chromium}

node --test "$dir/metrics.test.js"

[ -x "$chromium" ] || { echo "demo-test: no $chromium (scripts/deps.sh demo-test)" >&2; exit 1; }
[ -d "$dir/node_modules/playwright-core" ] \
    || { echo "demo-test: no playwright-core (scripts/deps.sh demo-test)" >&2; exit 1; }

info=$(mktemp /tmp/persona-demo-test.XXXXXX)
rm -f "$info"
log="$root/build/demo-test.log"
mkdir -p "$shots"
DEMO_INFO=$info "$root/demo/run.sh" > "$log" 2>&1 &
demo=$!
stop() {
    kill "$demo" 2>/dev/null || true
    wait "$demo" 2>/dev/null || true
    rm -f "$info"
}
trap stop EXIT

for _ in $(seq 600); do
    [ -f "$info" ] && break
    kill -0 "$demo" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
done
[ -f "$info" ] || { echo "demo-test: the demo did not start" >&2; cat "$log" >&2; exit 1; }
# shellcheck disable=SC1090
. "$info"
echo "# demo on port $PORT, features: ${FEATURES:-none}"
CHROMIUM=$chromium node "$dir/browser.js" "http://127.0.0.1:$PORT" "$shots"
