#!/bin/sh
# check-exports.sh NM LIBRARY — fail if LIBRARY's dynamic symbol table defines a global symbol
# whose name does not start with vigil_ (STYLE.md item 1: hidden visibility + VIGIL_API).
# The linker's own markers (_init, _fini, _edata, _end, __bss_start) are allowed.
set -eu
nm_tool=${1:?usage: check-exports.sh NM LIBRARY}
lib=${2:?usage: check-exports.sh NM LIBRARY}
[ -f "$lib" ] || { echo "check-exports: $lib does not exist" >&2; exit 1; }

syms=$("$nm_tool" -D --defined-only "$lib")
# Global definitions: text, data, bss, read-only (the types named in STYLE.md), plus weak,
# unique and indirect ones, which would leak just the same.
bad=$(printf '%s\n' "$syms" | awk '$2 ~ /^[TDBRGSVWiu]$/ { print $3 }' |
      grep -v -E '^(vigil_|_init$|_fini$|_edata$|_end$|__bss_start$)' || true)
count=$(printf '%s\n' "$syms" | awk '$2 ~ /^[TDBR]$/ && $3 ~ /^vigil_/' | wc -l)

if [ -n "$bad" ]; then
    echo "check-exports: $lib exports symbols outside the vigil_ prefix:"
    printf '  %s\n' $bad
    echo "Make them static, or name them vigil__* without VIGIL_API (hidden)."
    exit 1
fi
echo "check-exports: $lib exports $count vigil_* symbols and nothing else"
