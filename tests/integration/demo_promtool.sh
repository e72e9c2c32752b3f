#!/usr/bin/env bash
# demo_promtool.sh — integration/promtool_accepts_demo_output.
#
#   demo_promtool.sh VIGIL_DEMO PROMTOOL
#
# Starts the demo on 127.0.0.1 port 0 with two workers, waits for the URL it prints, lets it
# work for 2 s and scrapes it (default Accept, so the 0.0.4 text format) twice, 1 s apart. Each
# body must satisfy `promtool check metrics` (nothing printed but node_exporter's own camelCase
# names from the host collector), and the sum
# of demo_jobs_total must have grown between the scrapes (the workers really work). Finally the
# demo is stopped with SIGTERM and must exit 0. Files are left in the working directory for a
# post-mortem. Exit 0: pass; 1: fail; 77: a peer (promtool, curl) is missing.
set -u

demo=${1:?usage: demo_promtool.sh VIGIL_DEMO PROMTOOL}
promtool=${2:?usage: demo_promtool.sh VIGIL_DEMO PROMTOOL}
command -v "$promtool" >/dev/null 2>&1 || { echo "SKIP: promtool ($promtool) not found"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not found"; exit 77; }
[ -x "$demo" ] || { echo "FAIL: $demo is not an executable (build the vigil-demo target)"; exit 1; }

# The runtime takes its address from the environment over the code: keep the test hermetic.
unset VIGIL_METRICS_ENABLED VIGIL_METRICS_ADDR VIGIL_METRICS_PATH VIGIL_PROCESS_METRICS \
      VIGIL_GLOBAL_LABELS VIGIL_MAX_CHILDREN VIGIL_HTTP_THREADS

rm -f demo.out demo.err scrape*.txt headers*.txt promtool*.out
pid=
fail() {
    echo "FAIL: $*"
    for f in demo.err demo.out; do
        [ -s "$f" ] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }
    done
    exit 1
}
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --duration: a safety net that ends the demo even if this script is killed outright (a CTest
# timeout sends SIGKILL, which no trap sees); the test itself stops it with SIGTERM long before.
"$demo" --metrics 127.0.0.1:0 --workers 2 --duration 60 >demo.out 2>demo.err </dev/null &
pid=$!

url=
for _ in $(seq 100); do # 10 s
    url=$(grep -m1 -o 'http://127\.0\.0\.1:[0-9][0-9]*/[^ ]*' demo.out 2>/dev/null)
    [ -n "$url" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        fail "the demo exited with status $? before printing its URL"
    fi
    sleep 0.1
done
[ -n "$url" ] || fail "no 'serving metrics at http://127.0.0.1:PORT/...' line within 10 s"
case $url in
    http://127.0.0.1:0/*) fail "the demo printed port 0 ($url), not the port it bound" ;;
esac
echo "demo (pid $pid) serves $url"
sleep 2

# scrape N: fetch into scrapeN.txt, check status and Content-Type, run promtool.
scrape() {
    local n=$1 code ctype
    code=$(curl -sS --max-time 10 -o "scrape$n.txt" -D "headers$n.txt" -w '%{http_code}' "$url") ||
        fail "curl $url failed (scrape $n)"
    [ "$code" = 200 ] || fail "scrape $n: HTTP status $code, want 200"
    ctype=$(grep -i '^content-type:' "headers$n.txt" | tr -d '\r')
    case $(echo "$ctype" | tr -d ' ' | tr 'A-Z' 'a-z') in
        content-type:text/plain\;version=0.0.4*) ;;
        *) fail "scrape $n: want the 0.0.4 text format by default, got '$ctype'" ;;
    esac
    [ -s "scrape$n.txt" ] || fail "scrape $n: empty body"
    "$promtool" check metrics <"scrape$n.txt" >"promtool$n.out" 2>&1
    local rc=$?
    # The demo includes the host collector, whose node_exporter names such as
    # node_memory_MemAvailable_bytes are camelCase on purpose (dashboards depend on them):
    # promtool's lint flags exactly those (exit 3). Anything else is a failure.
    local other
    other=$(grep -Ev "^node_(memory|netstat)_[A-Za-z0-9_]+ metric names should be written in 'snake_case' not 'camelCase'$" "promtool$n.out")
    if { [ $rc -ne 0 ] && [ $rc -ne 3 ]; } || [ -n "$other" ] ||
        { [ $rc -eq 3 ] && [ ! -s "promtool$n.out" ]; }; then
        echo "--- promtool check metrics (exit $rc):"; cat "promtool$n.out"
        fail "scrape $n: promtool check metrics is not clean (exit $rc; body: $PWD/scrape$n.txt)"
    fi
    echo "scrape $n: $(wc -l <"scrape$n.txt") lines, $(wc -c <"scrape$n.txt") bytes, promtool clean" \
        "but for $(wc -l <"promtool$n.out") node_exporter camelCase name(s)"
}

jobs_sum() { # sum of every demo_jobs_total series in a body
    awk '/^demo_jobs_total[{ ]/ { n++; s += $NF }
         END { if (n == 0) print "none"; else printf "%.17g\n", s }' "$1"
}

scrape 1
sleep 1
scrape 2

j1=$(jobs_sum scrape1.txt)
j2=$(jobs_sum scrape2.txt)
[ "$j1" != none ] && [ "$j2" != none ] ||
    fail "no demo_jobs_total series in a scrape (got '$j1', '$j2')"
echo "demo_jobs_total summed over series: $j1 then $j2"
awk -v a="$j1" -v b="$j2" 'BEGIN { exit !(b > a && a > 0) }' ||
    fail "demo_jobs_total did not grow between the scrapes ($j1 -> $j2): the workers are idle"
for name in demo_job_duration_seconds_bucket demo_processed_bytes_total demo_backlog_jobs; do
    grep -q "^$name" scrape2.txt || fail "no $name series in the demo's output"
done

# The demo registers real health checks: /health must list them with results.
health=${url%/metrics}/health
hcode=$(curl -s -o health.json -w '%{http_code}' "$health") || fail "curl $health failed"
case $hcode in 200 | 503) ;; *) fail "/health: HTTP status $hcode, want 200 or 503" ;; esac
/usr/bin/python3 - health.json "$hcode" <<'PY' || fail "/health does not report the demo's checks"
import json, sys
doc = json.load(open(sys.argv[1]))
code = int(sys.argv[2])
checks = {c["name"]: c for c in doc["checks"]}
for name in ("memory", "disk", "fds", "backlog"):
    assert any(n.startswith(name) for n in checks), (name, sorted(checks))
assert doc["status"] in ("healthy", "degraded", "unhealthy", "unknown"), doc["status"]
assert (code == 200) == (doc["status"] in ("healthy", "degraded")), (code, doc["status"])
print("/health:", code, doc["status"], ", ".join(f"{n}={c['status']}" for n, c in sorted(checks.items())))
PY
live=$(curl -s -o /dev/null -w '%{http_code}' "$health/live") || fail "curl $health/live failed"
[ "$live" = 200 ] || fail "/health/live: HTTP status $live, want 200"

# Stop it as an operator would; it must shut down cleanly and promptly.
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the demo did not exit within 10 s of SIGTERM"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "the demo exited with status $rc after SIGTERM, want 0"
grep -q 'stopped after' demo.out || fail "the demo did not print its 'stopped after' line"
echo "PASS: promtool accepts the demo's output; jobs grew $j1 -> $j2; clean exit on SIGTERM"
