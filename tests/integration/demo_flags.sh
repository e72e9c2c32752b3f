#!/usr/bin/env bash
# demo_flags.sh — integration/demo_rejects_bad_flags.
#
#   demo_flags.sh VIGIL_DEMO
#
# A bad command line must be refused before anything starts: exit status 2, a line naming the
# flag (or argument) at fault and the usage text ("usage: ...") on stderr, nothing on stdout.
# Every flag with a value is given bad values (not a number, out of range, trailing garbage,
# bad address, unreadable file, ...). `--help` prints the usage on stdout, nothing on stderr,
# and exits 0, even after other flags. Good values of every flag are accepted: a run with all
# of them for one second must exit 0. Each run is bounded by `timeout`, so a demo that starts
# serving instead of refusing fails here rather than hanging the suite.
set -u

demo=${1:?usage: demo_flags.sh VIGIL_DEMO}
[ -x "$demo" ] || { echo "FAIL: $demo is not an executable (build the vigil-demo target)"; exit 1; }
unset VIGIL_METRICS_ENABLED VIGIL_METRICS_ADDR VIGIL_METRICS_PORT VIGIL_METRICS_PATH \
      VIGIL_PROCESS_METRICS VIGIL_HOST_METRICS VIGIL_GLOBAL_LABELS VIGIL_MAX_CHILDREN \
      VIGIL_HTTP_THREADS VIGIL_HEALTH_ENABLED VIGIL_HEALTH_PATH

failures=0
runs=0

show() {
    echo "  --- stdout:"; sed 's/^/  | /' flags.out | head -n 5
    echo "  --- stderr:"; sed 's/^/  | /' flags.err | head -n 5
}

# refused NAMED ARGS...: exit 2, stderr has "usage: " and a line mentioning NAMED, stdout empty.
refused() {
    local named=$1
    shift
    runs=$((runs + 1))
    # Port 0 everywhere, so that a demo which wrongly starts cannot collide with anything.
    timeout -k 2 10 "$demo" --addr 127.0.0.1:0 --metrics 127.0.0.1:0 "$@" \
        >flags.out 2>flags.err </dev/null
    local rc=$? problems=
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && problems+=" still running after 10 s (not refusing);"
    [ $rc -eq 2 ] || problems+=" exit status $rc, want 2;"
    grep -q '^usage: ' flags.err || problems+=" no 'usage: ' line on stderr;"
    grep -q '^vigil-demo: .*'"$named" flags.err ||
        problems+=" no 'vigil-demo: ...' line naming '$named' on stderr;"
    [ -s flags.out ] && problems+=" printed on stdout;"
    if [ -n "$problems" ]; then
        echo "FAIL: vigil-demo $*:$problems"
        show
        failures=$((failures + 1))
    else
        echo "ok: vigil-demo $* -> 2: $(grep -m1 '^vigil-demo: ' flags.err)"
    fi
}

help_ok() {
    runs=$((runs + 1))
    timeout -k 2 10 "$demo" "$@" >flags.out 2>flags.err </dev/null
    local rc=$? problems=
    [ $rc -eq 0 ] || problems+=" exit status $rc, want 0;"
    grep -q '^usage: ' flags.out || problems+=" no 'usage: ' line on stdout;"
    for flag in --addr --metrics --enable-metrics --no-metrics --cert --key --clients \
        --snapshot-interval --duration --quiet-hooks --no-faults --encode-error-rate \
        --decode-error-rate --slow-rate --slow-delay --drop-heartbeat-rate --disconnect-rate; do
        grep -q -- "$flag" flags.out || problems+=" usage does not mention $flag;"
    done
    [ -s flags.err ] && problems+=" printed on stderr;"
    if [ -n "$problems" ]; then
        echo "FAIL: vigil-demo $*:$problems"
        show
        failures=$((failures + 1))
    else
        echo "ok: vigil-demo $* -> 0, usage on stdout"
    fi
}

refused "'--bogus'" --bogus
refused "'stray'" stray
refused "--enable-metrics=false" --enable-metrics false # the value needs '='
refused --enable-metrics --enable-metrics=maybe
refused --addr --addr nowhere
refused --addr --addr 127.0.0.1:70000
refused --addr --addr 127.0.0.1:
refused --addr --addr ::1:7070
refused --metrics --metrics 127.0.0.1:port
refused --metrics --metrics 127.0.0.1:-1
refused "'--metrics'" --metrics # missing value
refused --clients --clients -1
refused --clients --clients 257
refused --clients --clients 3x
refused --clients --clients ''
refused --rate --rate 1001
refused --rate --rate fast
refused --request-timeout --request-timeout 0
refused --request-timeout --request-timeout nan
refused --heartbeat-interval --heartbeat-interval 0.01
refused --heartbeat-interval --heartbeat-interval inf
refused --snapshot-interval --snapshot-interval -1
refused --snapshot-interval --snapshot-interval 10s
refused --duration --duration -5
refused --duration --duration 1e99
refused --hooks --hooks loud
refused --encode-error-rate --encode-error-rate 1.5
refused --decode-error-rate --decode-error-rate -0.1
refused --slow-rate --slow-rate 2
refused --slow-delay --slow-delay 61
refused --drop-heartbeat-rate --drop-heartbeat-rate x
refused --disconnect-rate --disconnect-rate 101
refused --seed --seed -3
refused --seed --seed 12ab
refused --cert --cert /nonexistent/cert.pem --key /nonexistent/key.pem
refused --key --cert "$0" --key /nonexistent/key.pem
refused --key --cert "$0" # a certificate without its key
refused --cert --key "$0" # a key without its certificate
help_ok --help
help_ok --clients 3 --help

# Every flag with a good value: the demo starts, runs a second and exits 0 on its own.
runs=$((runs + 1))
timeout -k 2 20 "$demo" --addr 127.0.0.1:0 --metrics 127.0.0.1:0 --enable-metrics=yes \
    --clients 2 --rate 10 --request-timeout 0.5 --heartbeat-interval 0.2 --snapshot-interval 0 \
    --duration 1 --hooks off --encode-error-rate 0.01 --decode-error-rate 0.01 --slow-rate 0.1 \
    --slow-delay 0.1 --drop-heartbeat-rate 0.05 --disconnect-rate 0.5 --seed 42 \
    >flags.out 2>flags.err </dev/null
rc=$?
if [ $rc -ne 0 ] || ! grep -q '^vigil-demo: stopped after ' flags.out; then
    echo "FAIL: a run with every flag set to a good value exited $rc (want 0 and a summary)"
    show
    failures=$((failures + 1))
else
    echo "ok: every flag with a good value -> ran 1 s, exit 0"
fi
runs=$((runs + 1))
timeout -k 2 20 "$demo" --addr 127.0.0.1:0 --no-metrics --no-faults --quiet-hooks --clients 1 \
    --snapshot-interval 0 --duration 0.5 >flags.out 2>flags.err </dev/null
rc=$?
if [ $rc -ne 0 ] || ! grep -q 'metrics:  off' flags.out || ! grep -q 'faults:   none' flags.out ||
    grep -q 'http://' flags.out; then
    echo "FAIL: --no-metrics --no-faults: exit $rc, or the banner does not say" \
        "metrics off and no faults"
    show
    failures=$((failures + 1))
else
    echo "ok: --no-metrics --no-faults -> no URL, no faults, exit 0"
fi

if [ $failures -ne 0 ]; then
    echo "FAIL: $failures of $runs command lines misbehaved"
    exit 1
fi
echo "PASS: $runs command lines: bad flags exit 2 naming the flag with usage on stderr;" \
    "--help exits 0; good values run"
