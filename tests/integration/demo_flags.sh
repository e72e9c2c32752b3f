#!/usr/bin/env bash
# demo_flags.sh — integration/demo_rejects_bad_flags.
#
#   demo_flags.sh VIGIL_DEMO
#
# A bad command line must be refused before anything starts: `--bogus` and `--workers 0` exit
# with status 2 and print the usage text ("usage: ...") on stderr and nothing on stdout;
# `--help` prints the usage on stdout and exits 0. Each run is bounded by `timeout`, so a demo
# that starts serving instead of refusing fails here rather than hanging the suite.
set -u

demo=${1:?usage: demo_flags.sh VIGIL_DEMO}
[ -x "$demo" ] || { echo "FAIL: $demo is not an executable (build the vigil-demo target)"; exit 1; }
unset VIGIL_METRICS_ENABLED VIGIL_METRICS_ADDR VIGIL_METRICS_PATH VIGIL_PROCESS_METRICS \
      VIGIL_GLOBAL_LABELS VIGIL_MAX_CHILDREN VIGIL_HTTP_THREADS

failures=0
# run WANT_RC WHERE_USAGE ARGS... — WHERE_USAGE is stdout or stderr (the other must be empty
# for a refusal; --help may say nothing on stderr either).
run() {
    local want=$1 where=$2
    shift 2
    # Port 0 so that a demo which wrongly starts cannot collide with anything.
    timeout -k 2 10 "$demo" --metrics 127.0.0.1:0 "$@" >flags.out 2>flags.err </dev/null
    local rc=$? problems=
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        problems+=" did not exit within 10 s (it is running, not refusing);"
    fi
    [ $rc -eq "$want" ] || problems+=" exit status $rc, want $want;"
    grep -q '^usage: ' "flags.$([ "$where" = stdout ] && echo out || echo err)" ||
        problems+=" no 'usage: ' line on $where;"
    if [ "$where" = stderr ]; then
        [ -s flags.out ] && problems+=" printed on stdout;"
    else
        [ -s flags.err ] && problems+=" printed on stderr;"
    fi
    if [ -n "$problems" ]; then
        echo "FAIL: vigil-demo $*:$problems"
        echo "  --- stdout:"; sed 's/^/  | /' flags.out
        echo "  --- stderr:"; sed 's/^/  | /' flags.err
        failures=$((failures + 1))
    else
        echo "ok: vigil-demo $* -> exit $rc, usage on $where"
    fi
}

run 2 stderr --bogus
run 2 stderr --workers 0
run 0 stdout --help

if [ $failures -ne 0 ]; then
    echo "FAIL: $failures of 3 command lines misbehaved"
    exit 1
fi
echo "PASS: bad flags exit 2 with usage on stderr; --help exits 0"
