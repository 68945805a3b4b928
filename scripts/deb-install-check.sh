#!/usr/bin/env bash
# make deb-check (root, throw-away): installs build/deb's package with apt,
# runs nginx -t on README's minimal configuration (the block after the
# "minimal-config" marker) with the package's example rules, then purges
# the package again, whatever happened.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deb=$(ls "$root"/build/deb/libnginx-mod-http-persona_*_*.deb 2>/dev/null \
      | head -n 1)
[ -n "$deb" ] || { echo "deb-check: no package, run make deb" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb-check: needs root (apt install)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' libnginx-mod-http-persona 2>/dev/null \
        | grep -q 'install ok installed'; then
    echo "deb-check: libnginx-mod-http-persona is installed already;" \
         "this check only runs where it is not" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/persona-deb-check.XXXXXX)
cleanup() {
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
        libnginx-mod-http-persona > "$tmp/purge.log" 2>&1 \
        || cat "$tmp/purge.log" >&2
    rm -rf "$tmp"
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$deb" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; exit 1; }
echo "deb-check: installed $(basename "$deb")"
for f in /usr/lib/nginx/modules/ngx_http_persona_module.so \
         /usr/share/nginx/modules-available/mod-http-persona.conf \
         /etc/nginx/modules-enabled/50-mod-http-persona.conf \
         /usr/bin/persona-check \
         /usr/share/nginx-persona/rules/shop.json \
         /usr/share/nginx-persona/rules/schema/persona-rules.schema.json; do
    [ -e "$f" ] || { echo "deb-check: missing $f" >&2; exit 1; }
done
grep -qx 'load_module modules/ngx_http_persona_module.so;' \
    /usr/share/nginx/modules-available/mod-http-persona.conf

# README's steps 2 and 3, in the throw-away directory
mkdir -p "$tmp/persona"
cp -R /usr/share/nginx-persona/rules "$tmp/persona/releases-1"
# the optional rules need features this build may not have
rm -rf "$tmp/persona/releases-1/optional"
ln -s releases-1 "$tmp/persona/rules"
awk '/<!-- minimal-config/ { on = 1; next }
     on && /^ *```nginx/ { inblock = 1; next }
     inblock && /^ *```/ { exit }
     inblock { sub(/^   /, ""); print }' "$root/README.md" \
    | sed -e "s|/etc/nginx/persona|$tmp/persona|g" > "$tmp/nginx.conf"
grep -q 'persona on;' "$tmp/nginx.conf" \
    || { echo "deb-check: no minimal config found in README.md" >&2; exit 1; }
/usr/sbin/nginx -t -c "$tmp/nginx.conf" -g "pid $tmp/nginx.pid;" \
    -e "$tmp/error.log"
persona-check "$tmp/persona/rules" \
    --test "$tmp/persona/rules/tests/shop.json" | tail -n 1
echo "deb-check: ok (the package is purged again)"
