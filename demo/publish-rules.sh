#!/usr/bin/env bash
# Publishes the repository's rules into the running demo the way README's
# operator quick start does it: a new release folder, checked with
# persona-check, then an atomic switch of the symlink nginx reads
# (persona_rules DEST).  Used when the module has goals: the release holds
# rules/*.json, rules/blocks/ and rules/optional/*.json.
#   demo/publish-rules.sh PERSONA_CHECK ROOT DEST [--watch]
# With --watch it publishes again whenever a source file changes (checked
# every second); a release that fails the check is not published.
set -euo pipefail

check=$1
root=$2
dest=$3
watch=${4:-}
releases="$(dirname "$dest")/releases"
# release numbers go on from the last one (never rewrite the live one)
n=$(find "$releases" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null \
    | sort -n | tail -n 1 || true)
n=${n:-0}

signature() {
    find "$root/rules" -maxdepth 1 -name '*.json' -type f -printf '%p %T@ %s\n'
    find "$root/rules/blocks" "$root/rules/optional" -type f -printf '%p %T@ %s\n'
}

publish() {
    local rel out
    n=$((n + 1))
    rel="$releases/$n"
    mkdir -p "$rel"
    cp -R "$root"/rules/*.json "$root/rules/blocks" "$rel/"
    cp "$root"/rules/optional/*.json "$rel/"
    chmod -R a+rX "$releases"
    if ! out=$("$check" "$rel" 2>&1); then
        echo "demo: rules not published (the last good ones keep serving):" >&2
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        rm -rf "$rel"
        return 1
    fi
    ln -sfn "releases/$n" "$dest.new"
    mv -T "$dest.new" "$dest"
    # nginx read the older releases when it loaded them; keep the last two
    find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name "$n" \
        ! -name "$((n - 1))" -exec rm -rf {} +
    [ -z "$watch" ] || echo "demo: rules published (release $n)"
}

if [ -z "$watch" ]; then
    publish
    exit
fi

last=$(signature | md5sum)
while sleep 1; do
    now=$(signature | md5sum)
    if [ "$now" != "$last" ]; then
        last=$now
        publish || true
    fi
done
