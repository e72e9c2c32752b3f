#!/usr/bin/env bash
# demo_leaks.sh — integration/demo_shuts_down_clean_under_valgrind.
#
#   demo_leaks.sh VIGIL_DEMO
#
# Runs the demo under valgrind's memcheck twice, over plain TCP and (when the openssl command
# makes a throwaway certificate and the demo has TLS) over TLS, each time with three clients,
# every fault turned up so each path runs (late answers still queued at shutdown, resets,
# corrupted frames, refused requests), the log hook printing every event and a snapshot every
# second, while /metrics, /health and /api/v1/events are fetched. After a few seconds SIGTERM
# must end it with status 0, the final snapshot printed, and valgrind must report no error and
# no definitely or indirectly lost block (--error-exitcode makes either a non-zero status).
# Exit 77 when valgrind is not installed.
set -u

demo=${1:?usage: demo_leaks.sh VIGIL_DEMO}
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not found"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not found"; exit 77; }
[ -x "$demo" ] || { echo "FAIL: $demo is not an executable (build the vigil-demo target)"; exit 1; }
. "$(dirname "$0")/demo_common.sh"
trap demo_cleanup EXIT
trap 'exit 1' INT TERM

# run NAME ARGS...: one run under valgrind; its log is NAME.valgrind.
run() {
    local name=$1 path
    shift
    rm -f "$name.valgrind"
    demo_wrapper=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99
        --log-file="$name.valgrind")
    demo_start "$name" --addr 127.0.0.1:0 --metrics 127.0.0.1:0 --clients 3 --rate 20 \
        --snapshot-interval 1 --hooks all --slow-rate 0.2 --slow-delay 2 \
        --decode-error-rate 0.05 --encode-error-rate 0.05 --disconnect-rate 0.3 \
        --drop-heartbeat-rate 0.1 --heartbeat-interval 0.3 "$@"
    for path in /metrics /health /api/v1/events; do
        curl -sS --max-time 20 -o /dev/null "$base_url$path" || fail "$name: GET $path failed"
    done
    sleep 4
    demo_stop TERM
    if [ "$demo_rc" -ne 0 ] || [ -s "$name.valgrind" ]; then
        echo "--- $name.valgrind"; cat "$name.valgrind"
        fail "$name: exit status $demo_rc under valgrind (99: memcheck found errors or leaks)"
    fi
    grep -q '^=== vigil-demo ===$' "$name.out" || fail "$name: no snapshot printed"
    grep -q '^vigil-demo: stopped after ' "$name.out" || fail "$name: no final summary"
    grep -q '^\[HOOK\] Client connected: client-00[123]$' "$name.out" ||
        fail "$name: the clients never connected"
    echo "$name: exit 0, valgrind silent; $(grep '^vigil-demo: stopped after ' "$name.out")"
}

run plain

tls=
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout leaks.key -out leaks.crt -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
    if "$demo" --addr 127.0.0.1:0 --no-metrics --clients 0 --duration 0.1 --cert leaks.crt \
        --key leaks.key >/dev/null 2>&1; then
        run tls --cert leaks.crt --key leaks.key
        tls=" and over TLS"
    else
        echo "this demo has no TLS: the TLS run is skipped"
    fi
else
    echo "no openssl command: the TLS run is skipped"
fi
echo "PASS: no memory error or leak in the demo from start to SIGTERM over plain TCP$tls"
