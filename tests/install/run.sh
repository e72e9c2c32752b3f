#!/bin/sh
# run.sh BUILD_DIR [CMAKE] [CC] — install the just-built tree into a temporary prefix and use it
# the ways a consumer would:
#   1. find_package(vigil) with vigil::vigil (shared) and vigil::vigil_static (static),
#   2. cc main.c $(pkg-config --cflags --libs vigil),
# checking on the way that the expected files are there, that libvigil.so's soname is
# libvigil.so.0, and that the static consumer does not need libvigil.so at run time.
# Set VIGIL_KEEP_TMP=1 to keep the temporary folder for a look afterwards.
set -eu

build=${1:?usage: run.sh BUILD_DIR [CMAKE] [CC]}
cmake=${2:-cmake}
cc=${3:-cc}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-install.XXXXXX")
if [ -n "${VIGIL_KEEP_TMP:-}" ]; then
    echo "keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
prefix=$tmp/prefix

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "install $build into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install"; }

pc=$(find "$prefix" -path '*/pkgconfig/vigil.pc' | head -n 1)
[ -n "$pc" ] || fail "no vigil.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/vigil.h" "$prefix/include/vigil/version.h" "$prefix/include/vigil/status.h" \
         "$libdir/libvigil.a" "$libdir/libvigil.so" "$libdir/libvigil.so.0" \
         "$libdir/cmake/vigil/vigilConfig.cmake" "$libdir/cmake/vigil/vigilConfigVersion.cmake"; do
    [ -e "$f" ] || fail "missing ${f#"$prefix"/}"
done
readelf -d "$libdir/libvigil.so" | grep -q 'SONAME.*\[libvigil\.so\.0\]' ||
    fail "libvigil.so has no soname libvigil.so.0"
grep -q "^prefix=$prefix\$" "$pc" || fail "vigil.pc does not name the install prefix: $(head -n 1 "$pc")"

step "find_package(vigil): vigil::vigil and vigil::vigil_static"
"$cmake" -S "$here" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "consumer configure"; }
"$cmake" --build "$tmp/consumer" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "consumer build"; }
LD_LIBRARY_PATH=$libdir "$tmp/consumer/consumer_shared" || fail "consumer_shared"
"$tmp/consumer/consumer_static" || fail "consumer_static"
readelf -d "$tmp/consumer/consumer_shared" | grep -q 'NEEDED.*\[libvigil\.so\.0\]' ||
    fail "consumer_shared is not linked with libvigil.so.0"
if readelf -d "$tmp/consumer/consumer_static" | grep -q 'NEEDED.*libvigil'; then
    fail "consumer_static depends on the shared libvigil"
fi

step "pkg-config vigil"
PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
pkg-config --print-errors --exists vigil || fail "pkg-config cannot resolve vigil"
[ "$(pkg-config --modversion vigil)" = "$(sed -n 's/^Version: //p' "$pc")" ] || fail "modversion"
pkg-config --static --libs vigil >/dev/null || fail "pkg-config --static --libs vigil"
flags=$(pkg-config --cflags --libs vigil)
echo "cc main.c $flags"
# shellcheck disable=SC2086 # the flags are words on purpose
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_pc" "$here/main.c" $flags ||
    fail "cc with pkg-config flags"
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc" || fail "consumer_pc"

echo "install test passed"
