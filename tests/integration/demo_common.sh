# demo_common.sh — sourced by the demo's bash tests: start vigil-demo in the background, wait
# for the addresses it prints, stop it by PID, and fail with its last output for a post-mortem.
#
#   demo_start LOGBASE ARGS...   starts "$demo" ARGS... with stdout/stderr in LOGBASE.out/.err;
#                                sets demo_pid, and once the banner is out: metrics_url (empty
#                                with --no-metrics), base_url (metrics_url without /metrics),
#                                server_addr (HOST:PORT of the message server)
#   demo_stop [SIGNAL]           sends SIGNAL (default TERM) to demo_pid, waits up to 15 s,
#                                sets demo_rc to its exit status
#   fail MESSAGE                 prints FAIL: MESSAGE and the logs, exits 1
#
# The caller sets `demo` (the executable) and may set `demo_wrapper` (e.g. valgrind ...) and
# `demo_log` (the LOGBASE used by fail). Every run also gets --duration as a safety net: a
# CTest timeout kills the script with SIGKILL, which no trap sees, and the demo must not
# outlive it for long.

# The runtime takes its configuration from the environment over the flags: keep tests hermetic.
unset VIGIL_METRICS_ENABLED VIGIL_METRICS_ADDR VIGIL_METRICS_PORT VIGIL_METRICS_PATH \
      VIGIL_PROCESS_METRICS VIGIL_HOST_METRICS VIGIL_GLOBAL_LABELS VIGIL_MAX_CHILDREN \
      VIGIL_HTTP_THREADS VIGIL_HEALTH_ENABLED VIGIL_HEALTH_PATH

demo_pid=
demo_rc=
demo_log=demo
demo_wrapper=()
metrics_url=
base_url=
server_addr=

fail() {
    echo "FAIL: $*"
    local f
    for f in "$demo_log.err" "$demo_log.out"; do
        [ -s "$f" ] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; }
    done
    exit 1
}

demo_cleanup() {
    if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
        kill -TERM "$demo_pid" 2>/dev/null
        local _
        for _ in $(seq 100); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$demo_pid" 2>/dev/null
        wait "$demo_pid" 2>/dev/null
    fi
    demo_pid=
}

demo_start() {
    demo_log=$1
    shift
    rm -f "$demo_log.out" "$demo_log.err"
    "${demo_wrapper[@]}" "$demo" --duration 120 "$@" >"$demo_log.out" 2>"$demo_log.err" </dev/null &
    demo_pid=$!
    local _ line
    for _ in $(seq 300); do # 30 s: valgrind starts slowly
        line=$(grep -m1 '^vigil-demo .*: message server on ' "$demo_log.out" 2>/dev/null)
        if [ -n "$line" ] && grep -q '^  stop: ' "$demo_log.out"; then
            break
        fi
        line=
        if ! kill -0 "$demo_pid" 2>/dev/null; then
            wait "$demo_pid"
            local rc=$?
            demo_pid=
            fail "the demo exited with status $rc before printing its banner"
        fi
        sleep 0.1
    done
    [ -n "$line" ] || fail "no banner from the demo within 30 s"
    server_addr=$(echo "$line" | sed -E 's/^.*message server on ([^ ]+) .*$/\1/')
    metrics_url=$(grep -m1 -oE 'http://127\.0\.0\.1:[0-9]+/metrics' "$demo_log.out")
    base_url=${metrics_url%/metrics}
    case $server_addr in
        *:0) fail "the demo printed port 0 ($server_addr), not the port it bound" ;;
    esac
}

demo_stop() {
    local sig=${1:-TERM} _
    kill "-$sig" "$demo_pid" 2>/dev/null || fail "the demo (pid $demo_pid) is not running"
    for _ in $(seq 150); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$demo_pid" 2>/dev/null && fail "the demo did not exit within 15 s of SIG$sig"
    wait "$demo_pid"
    demo_rc=$?
    demo_pid=
}

# metric_sum FILE REGEX: the sum of the samples whose line starts with a match of REGEX
# (name, then labels as exposed; end a bare name with [ ] or [{]); "none" when none matches.
metric_sum() {
    awk -v re="^($2)" '$0 ~ re { n++; s += $NF }
        END { if (n == 0) print "none"; else printf "%.17g\n", s }' "$1"
}
