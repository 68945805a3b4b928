#!/usr/bin/env bash
# Builds ngx_http_persona_module against an nginx source tree copied into
# build/ (never inside /usr/share or the caller's tree).
#   default:              Debian's nginx-dev tree with its conf_flags, so
#                         /usr/sbin/nginx loads the .so with load_module
#   NGINX_SRC=/path:      an upstream nginx tree (--with-compat)
#   NGINX_STATIC=1:       with NGINX_SRC, link the module into the binary
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
mkdir -p "$build"

if [ -n "${NGINX_SRC:-}" ]; then
    src=$(cd "$NGINX_SRC" && pwd)
    tree="$build/nginx-$(basename "$src")"
    flags=(--with-compat --with-debug --with-http_realip_module
           --with-http_ssl_module --with-http_v2_module)
else
    src=/usr/share/nginx/src
    tree="$build/nginx-debian"
    # shellcheck disable=SC1091
    . "$src/conf_flags"
    flags=("${NGX_CONF_FLAGS[@]}")
fi

if [ -n "${NGINX_STATIC:-}" ]; then
    add=(--add-module="$root")
else
    add=(--add-dynamic-module="$root")
fi

if [ ! -d "$tree" ]; then
    cp -a "$src" "$tree.tmp"
    mv "$tree.tmp" "$tree"
fi

# Reconfigure when the module's build script or source list changed.
stamp="$tree/.persona-configured"
want="${flags[*]} ${add[*]} ${CFLAGS:-} $(ls "$root"/src/*.c | md5sum) \
$(md5sum < "$root/config")"
if [ ! -f "$tree/objs/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]
then
    (cd "$tree" && ./configure "${flags[@]}" "${add[@]}" \
        --with-cc-opt="-g -O2 -fPIC -fstack-protector-strong -Wformat \
-Werror=format-security -D_FORTIFY_SOURCE=2 ${CFLAGS:-}" \
        --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" > "$tree/configure.log" 2>&1) \
        || { tail -30 "$tree/configure.log"; exit 1; }
    echo "$want" > "$stamp"
fi

if [ -n "${NGINX_STATIC:-}" ]; then
    make -s -C "$tree" -f objs/Makefile -j"$(nproc)" binary
    echo "built $tree/objs/nginx"
else
    make -s -C "$tree" -f objs/Makefile -j"$(nproc)" modules
    cp "$tree/objs/ngx_http_persona_module.so" "$build/ngx_http_persona_module.so"
    echo "built $build/ngx_http_persona_module.so"
fi
