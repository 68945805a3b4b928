#!/usr/bin/env bash
# make deb: builds the Debian package libnginx-mod-http-persona from a copy
# of the working tree in build/deb/ (the repository stays clean), then
# checks it with lintian (errors fail the build).
#   build/deb/libnginx-mod-http-persona_VERSION_ARCH.deb
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/deb"
version=$(cd "$root" && dpkg-parsechangelog -S Version)
src="$out/libnginx-mod-http-persona-$version"

rm -rf "$out"
mkdir -p "$src"
# the working tree, without what builds and tests leave behind
tar -C "$root" --exclude=./.git --exclude=./build --exclude='./t/servroot*' \
    --exclude=./demo/test/node_modules --exclude=./bench/results \
    --exclude='./fuzz/corpus-*' -cf - . | tar -C "$src" -xf -

(cd "$src" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 \
    || { tail -40 "$out/build.log"; echo "deb: failed, see $out/build.log" >&2
         exit 1; }

changes=$(ls "$out"/*.changes)
echo "deb: lintian $changes"
lintian --fail-on error --info "$changes" | tee "$out/lintian.log"
rm -rf "$src"
ls -l "$out"/*.deb
