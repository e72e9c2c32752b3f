#!/usr/bin/env bash
# install-deps.sh [-n|--dry-run] [run|test] — install the Debian packages vigil needs, and only
# the ones that are missing. `run` (the default) is what building the library and the demo
# needs; `test` adds what the test suite uses. With everything present it changes nothing and
# never touches the network, so `make run` / `make test` stay fast on a prepared machine.
#
# apt-get update runs only when something is missing and apt does not know it (or the first
# install attempt fails on stale lists). Not root: sudo when there is one, else a clear error.
# VIGIL_DEPS_PACKAGES="a b c" replaces the package list (for testing this script).
set -euo pipefail

# --- the package lists (the one place to change them) -------------------------------------------
RUN_PACKAGES=(build-essential cmake pkg-config libmicrohttpd-dev zlib1g-dev libcurl4-openssl-dev
              libyaml-dev libzstd-dev libpcre2-dev libssl-dev)
# prometheus-node-exporter and wrk: the host-metrics agreement test and bench/bench_host. Where
# systemd runs, the node-exporter package also starts a service on :9100 (the demo's default
# port); the tests and the benchmark start their own node_exporter on a free port.
TEST_PACKAGES=(libcmocka-dev prometheus python3-prometheus-client curl valgrind openssl
               prometheus-node-exporter wrk)
# ------------------------------------------------------------------------------------------------

usage() { echo "usage: $0 [-n|--dry-run] [run|test]" >&2; exit 2; }

dry_run=0
mode=run
for arg in "$@"; do
    case $arg in
    -n | --dry-run) dry_run=1 ;;
    run | test) mode=$arg ;;
    -h | --help) usage ;;
    *) echo "$0: unknown argument '$arg'" >&2; usage ;;
    esac
done

packages=("${RUN_PACKAGES[@]}")
[ "$mode" = test ] && packages+=("${TEST_PACKAGES[@]}")
if [ -n "${VIGIL_DEPS_PACKAGES:-}" ]; then
    read -r -a packages <<<"$VIGIL_DEPS_PACKAGES"
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: not a Debian-like system (no dpkg-query); install these yourself:" >&2
    echo "  ${packages[*]}" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages for '$mode' are installed"
    exit 0
fi
echo "install-deps: missing for '$mode': ${missing[*]}"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-deps: not root and no sudo; as root, run:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

run() {
    echo "+ ${sudo[*]:+${sudo[*]} }$*"
    [ "$dry_run" -eq 1 ] || "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@"
}

# apt knows a package when it has a candidate version in its (possibly stale) lists.
known() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }
updated=0
for p in "${missing[@]}"; do
    if ! known "$p"; then
        run apt-get update
        updated=1
        break
    fi
done

install=(apt-get install -y --no-install-recommends "${missing[@]}")
if ! run "${install[@]}"; then
    [ "$updated" -eq 0 ] || exit 1
    echo "install-deps: install failed; refreshing the package lists and trying once more"
    run apt-get update
    run "${install[@]}"
fi
if [ "$dry_run" -eq 1 ]; then
    echo "install-deps: dry run, would install ${missing[*]}"
    exit 0
fi
for p in "${missing[@]}"; do
    installed "$p" || { echo "install-deps: $p is still not installed" >&2; exit 1; }
done
echo "install-deps: installed ${missing[*]}"
