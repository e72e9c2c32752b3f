#!/usr/bin/env bash
# demo_promtool.sh — integration/promtool_accepts_demo_output.
#
#   demo_promtool.sh VIGIL_DEMO PROMTOOL
#
# Starts the demo (message server and metrics on 127.0.0.1 port 0, two clients), lets it work
# for 2 s and scrapes /metrics twice, 1 s apart (default Accept: the 0.0.4 text format). Each
# body must pass `promtool check metrics` with exit 0 and nothing printed (no lint finding at
# all); every family docs/demo.md lists must be there; the frames the server received must
# have grown between the scrapes (real traffic). /health must list the built-in checks and
# message_server, /health/live answer 200, /api/v1/events carry client events. Finally SIGTERM
# must end the demo with status 0 after it printed the final snapshot with no pending request
# left. Files stay in the working directory for a post-mortem.
# Exit 0: pass; 1: fail; 77: a peer (promtool, curl) is missing.
set -u

demo=${1:?usage: demo_promtool.sh VIGIL_DEMO PROMTOOL}
promtool=${2:?usage: demo_promtool.sh VIGIL_DEMO PROMTOOL}
command -v "$promtool" >/dev/null 2>&1 || { echo "SKIP: promtool ($promtool) not found"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not found"; exit 77; }
[ -x "$demo" ] || { echo "FAIL: $demo is not an executable (build the vigil-demo target)"; exit 1; }
. "$(dirname "$0")/demo_common.sh"
trap demo_cleanup EXIT
trap 'exit 1' INT TERM
rm -f scrape*.txt headers*.txt promtool*.out health.json events.json

demo_start demo --addr 127.0.0.1:0 --metrics 127.0.0.1:0 --clients 2 --rate 20 \
    --snapshot-interval 0 --quiet-hooks
[ -n "$metrics_url" ] || fail "no metrics URL in the banner"
echo "demo (pid $demo_pid): server $server_addr, metrics $metrics_url"
sleep 2

# scrape N: fetch into scrapeN.txt, check status and Content-Type, run promtool.
scrape() {
    local n=$1 code ctype rc
    code=$(curl -sS --max-time 10 -o "scrape$n.txt" -D "headers$n.txt" -w '%{http_code}' \
        "$metrics_url") || fail "curl $metrics_url failed (scrape $n)"
    [ "$code" = 200 ] || fail "scrape $n: HTTP status $code, want 200"
    ctype=$(grep -i '^content-type:' "headers$n.txt" | tr -d '\r')
    case $(echo "$ctype" | tr -d ' ' | tr 'A-Z' 'a-z') in
        content-type:text/plain\;version=0.0.4*) ;;
        *) fail "scrape $n: want the 0.0.4 text format by default, got '$ctype'" ;;
    esac
    "$promtool" check metrics <"scrape$n.txt" >"promtool$n.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ -s "promtool$n.out" ]; then
        echo "--- promtool check metrics (exit $rc):"; cat "promtool$n.out"
        fail "scrape $n: promtool check metrics is not clean (body: $PWD/scrape$n.txt)"
    fi
    echo "scrape $n: $(wc -l <"scrape$n.txt") lines, promtool clean (exit 0, no findings)"
}

scrape 1
sleep 1
scrape 2

received='demo_messages_total[{]role="server",direction="received"'
m1=$(metric_sum scrape1.txt "$received")
m2=$(metric_sum scrape2.txt "$received")
echo "frames the server received: $m1 then $m2"
awk -v a="$m1" -v b="$m2" 'BEGIN { exit !(a != "none" && b > a && a > 0) }' ||
    fail "the server's received frames did not grow between the scrapes ($m1 -> $m2)"

for family in demo_connected_clients demo_connections_total demo_messages_total \
    demo_message_bytes_total demo_request_duration_seconds demo_request_latency_seconds \
    demo_heartbeats_sent_total demo_heartbeats_received_total demo_heartbeat_timeouts_total \
    demo_pending_requests demo_pending_requests_created_total \
    demo_pending_requests_completed_total demo_pending_requests_timed_out_total \
    demo_pending_requests_failed_total demo_reconnects_total demo_errors_total \
    demo_uptime_seconds process_start_time_seconds process_resident_memory_bytes \
    node_cpu_seconds_total vigil_host_memory_used_bytes vigil_events_total \
    vigil_health_check_status; do
    grep -q "^# TYPE $family " scrape2.txt || fail "no $family family in the demo's output"
done
for kind in encode decode protocol network tls timeout rejected late_response bad_response \
    overload; do
    grep -q "^demo_errors_total{kind=\"$kind\"} " scrape2.txt ||
        fail "demo_errors_total{kind=\"$kind\"} is not exported from the start"
done
connected=$(metric_sum scrape2.txt 'demo_connected_clients[ ]')
[ "$connected" = 2 ] || fail "demo_connected_clients is $connected with two clients, want 2"

# /health: the host built-ins and the server's own check, with results.
hcode=$(curl -s -o health.json -w '%{http_code}' "$base_url/health") || fail "curl /health failed"
case $hcode in 200 | 503) ;; *) fail "/health: HTTP status $hcode, want 200 or 503" ;; esac
/usr/bin/python3 - health.json "$hcode" <<'PY' || fail "/health does not report the demo's checks"
import json, sys
doc = json.load(open(sys.argv[1]))
code = int(sys.argv[2])
checks = {c["name"]: c for c in doc["checks"]}
for name in ("memory", "disk", "fds", "cpu", "load", "message_server"):
    assert name in checks, (name, sorted(checks))
server = checks["message_server"]
assert server["status"] in ("healthy", "degraded"), server
assert server["details"]["connected_clients"] == "2", server["details"]
assert (code == 200) == (doc["status"] in ("healthy", "degraded")), (code, doc["status"])
summary = ", ".join(f"{n}={c['status']}" for n, c in sorted(checks.items()))
print("/health:", code, doc["status"], summary)
PY
live=$(curl -s -o /dev/null -w '%{http_code}' "$base_url/health/live") || fail "curl /health/live"
[ "$live" = 200 ] || fail "/health/live: HTTP status $live, want 200"

# /api/v1/events: the last events, JSON, with the clients' names in them.
curl -sS -o events.json "$base_url/api/v1/events" || fail "curl /api/v1/events failed"
/usr/bin/python3 - events.json <<'PY' || fail "/api/v1/events does not carry the demo's events"
import json, sys
doc = json.load(open(sys.argv[1]))
types = {e["type"] for e in doc["events"]}
clients = {e.get("client") or e.get("peer") for e in doc["events"]}
assert doc["events"], doc
assert types & {"heartbeat_sent", "heartbeat_received", "message_received", "message_sent"}, types
assert clients & {"client-001", "client-002"}, clients
print("/api/v1/events:", len(doc["events"]), "events of types", ", ".join(sorted(types)))
PY

demo_stop TERM
[ "$demo_rc" -eq 0 ] || fail "the demo exited with status $demo_rc after SIGTERM, want 0"
grep -q '^vigil-demo: stopped after ' demo.out || fail "no 'stopped after' summary"
grep -q '^=== vigil-demo ===$' demo.out || fail "no final snapshot on stdout"
grep -Eq '^Active Pending Requests: +0$' demo.out ||
    fail "the final snapshot shows requests still pending after the clients were stopped"
echo "PASS: promtool accepts the demo's output (no findings); traffic grew $m1 -> $m2;" \
    "health, events and a clean exit on SIGTERM"
