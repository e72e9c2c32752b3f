#!/usr/bin/python3
"""demo_query_api.py — integration/demo_answers_prometheus_queries_about_itself.

    demo_query_api.py VIGIL_DEMO VIGIL_CLI

The demo keeps a history of its own metrics (self-scraped every --scrape-interval), and its
metrics port answers Prometheus's HTTP query API over that history. Started with a 1 s scrape
interval, its own clients and a data directory, after a few self-scrapes:

  - /api/v1/query answers about the demo's own metrics: demo_uptime_seconds is one series with
    a value no larger than the demo has been up, count_over_time sees at least two scrapes, and
    the stored demo_connections_total is never ahead of a live /metrics scrape;
  - /api/v1/query_range gives a rising uptime, one point per step, timestamps on the steps;
  - a POST form body gets the same answer as a GET;
  - /api/v1/series, /api/v1/labels and /api/v1/metadata describe the demo's families;
  - a query that does not parse is a 400 bad_data with Prometheus's message;
  - SIGTERM ends the demo with status 0;
  - `vigil serve --data-dir` over the directory the demo left answers the same API from disk
    and exits 0 on SIGTERM.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_driver import Demo, metric  # noqa: E402
from integ_common import Failure, get, on_signals_exit  # noqa: E402
import http.client  # noqa: E402

SCRAPE = 1  # seconds between the demo's self-scrapes


def api(base, path, params=None, post=False):
    """(status, parsed JSON) of GET base+path?params, or of a POST with params as a form."""
    query = urllib.parse.urlencode(params or {}, doseq=True)
    if not post:
        status, _, body = get(f"{base}{path}" + (f"?{query}" if query else ""))
    else:
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            conn.request("POST", u.path + path, body=query,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            status, body = resp.status, resp.read()
        finally:
            conn.close()
    try:
        return status, json.loads(body)
    except ValueError:
        raise Failure(f"{path} {params}: status {status}, not JSON: {body[:300]!r}")


def success(base, path, params=None, post=False):
    status, doc = api(base, path, params, post)
    if status != 200 or doc.get("status") != "success":
        raise Failure(f"{path} {params}: status {status}: {doc}")
    return doc["data"]


def vector(base, query, t=None):
    params = {"query": query}
    if t is not None:
        params["time"] = f"{t:.3f}"
    data = success(base, "/api/v1/query", params)
    if data["resultType"] != "vector":
        raise Failure(f"{query}: resultType {data['resultType']}, want vector")
    return data["result"]


def wait_for_scrapes(base, n, timeout=30):
    """Waits until the history holds n self-scrapes of demo_uptime_seconds."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        result = vector(base, "count_over_time(demo_uptime_seconds[5m])")
        seen = int(float(result[0]["value"][1])) if result else 0
        if seen >= n:
            return seen
        time.sleep(0.2)
    raise Failure(f"only {seen} self-scrapes of demo_uptime_seconds within {timeout} s")


def check_instant(demo, base, started):
    result = vector(base, "demo_uptime_seconds")
    if len(result) != 1 or result[0]["metric"] != {"__name__": "demo_uptime_seconds"}:
        raise Failure(f"demo_uptime_seconds: want one series without labels, got {result}")
    uptime = float(result[0]["value"][1])
    if not 0 <= uptime <= time.monotonic() - started + 1:
        raise Failure(f"demo_uptime_seconds is {uptime}, the demo has been up "
                      f"{time.monotonic() - started:.1f} s")
    stored = vector(base, "demo_connections_total")
    live = metric(demo.scrape(), "demo_connections_total")
    if len(stored) != 1 or float(stored[0]["value"][1]) > live:
        raise Failure(f"stored demo_connections_total {stored} is ahead of /metrics ({live})")
    by_type = vector(base, 'sum by (type) (demo_messages_total{role="server",'
                           'direction="received"})')
    types = sorted(r["metric"].get("type", "") for r in by_type)
    if "hello" not in types or "ping" not in types:
        raise Failure(f"messages by type: {types}, want hello and ping among them")
    print(f"query: uptime {uptime:g} s, {live:g} connections, message types {types}")


def check_range(base):
    now = time.time()
    start, end = int(now) - 4, int(now)
    data = success(base, "/api/v1/query_range", {"query": "demo_uptime_seconds",
                                                  "start": start, "end": end, "step": 1})
    if data["resultType"] != "matrix" or len(data["result"]) != 1:
        raise Failure(f"query_range: want one matrix series, got {data}")
    points = data["result"][0]["values"]
    times = [p[0] for p in points]
    values = [float(p[1]) for p in points]
    if times != list(range(start, start + len(times))) or len(times) < 3:
        raise Failure(f"query_range timestamps {times}: want whole steps from {start}")
    if any(b < a for a, b in zip(values, values[1:])) or values[-1] <= values[0]:
        raise Failure(f"query_range: uptime should rise, got {values}")
    posted = success(base, "/api/v1/query_range", {"query": "demo_uptime_seconds",
                                                    "start": start, "end": end, "step": 1},
                     post=True)
    if posted != data:
        raise Failure(f"POST query_range differs from GET: {posted} vs {data}")
    print(f"query_range: {len(points)} points, uptime {values[0]:g} -> {values[-1]:g} s; "
          "POST agrees")


def check_metadata_endpoints(base):
    series = success(base, "/api/v1/series", {"match[]": ["demo_errors_total"]})
    kinds = sorted(s["kind"] for s in series)
    for kind in ("decode", "network", "protocol", "timeout"):
        if kind not in kinds:
            raise Failure(f"series demo_errors_total: no kind={kind} in {kinds}")
    labels = success(base, "/api/v1/labels")
    for name in ("__name__", "direction", "kind", "role", "type"):
        if name not in labels:
            raise Failure(f"labels: no {name} in {labels}")
    meta = success(base, "/api/v1/metadata", {"metric": "demo_connections"})
    if [m["type"] for m in meta.get("demo_connections", [])] != ["counter"]:
        raise Failure(f"metadata of demo_connections: {meta}")
    status, doc = api(base, "/api/v1/query", {"query": "sum("})
    want = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'}
    if status != 400 or doc != want:
        raise Failure(f"a query that does not parse: {status} {doc}, want 400 {want}")
    print(f"series: {len(series)} demo_errors_total series; labels: {len(labels)}; metadata "
          "and a bad query as Prometheus answers them")


def check_serve(cli, data_dir):
    """vigil serve over the directory the demo left."""
    out = open("serve.out", "wb")
    proc = subprocess.Popen([cli, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        port = None
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            with open("serve.out", "rb") as f:
                m = re.search(rb"on http://127\.0\.0\.1:(\d+)/api/v1", f.read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        if port is None:
            with open("serve.out", "rb") as f:
                raise Failure(f"vigil serve printed no address: {f.read()!r}")
        base = f"http://127.0.0.1:{port}"
        series = success(base, "/api/v1/series", {"match[]": ["demo_uptime_seconds"]})
        if series != [{"__name__": "demo_uptime_seconds"}]:
            raise Failure(f"vigil serve: series demo_uptime_seconds: {series}")
        peak = vector(base, "max_over_time(demo_uptime_seconds[10m])")
        if len(peak) != 1 or float(peak[0]["value"][1]) <= 0:
            raise Failure(f"vigil serve: max_over_time(demo_uptime_seconds[10m]) = {peak}")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        if rc != 0:
            raise Failure(f"vigil serve exited with {rc} after SIGTERM")
        print(f"vigil serve: the demo's history from disk, uptime up to "
              f"{float(peak[0]['value'][1]):g} s; exit 0 on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    on_signals_exit()
    data_dir = os.path.abspath("history")
    subprocess.run(["rm", "-rf", data_dir], check=True)
    started = time.monotonic()
    demo = Demo(sys.argv[1], ["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
                              "--clients", "2", "--no-faults", "--snapshot-interval", "0",
                              "--scrape-interval", str(SCRAPE), "--data-dir", data_dir])
    try:
        demo.wait_banner()
        base = demo.metrics_url.rsplit("/metrics", 1)[0]
        n = wait_for_scrapes(base, 6)  # the range below looks 4 s back
        print(f"history: {n} self-scrapes at {SCRAPE} s")
        check_instant(demo, base, started)
        check_range(base)
        check_metadata_endpoints(base)
        rc = demo.stop()
        if rc != 0:
            raise Failure(f"the demo exited with {rc} after SIGTERM{demo.tail()}")
        check_serve(sys.argv[2], data_dir)
    except (Failure, OSError) as e:
        print(f"FAIL: {e}{demo.tail()}", flush=True)
        sys.exit(1)
    finally:
        demo.kill()
    print("PASS: the demo answers Prometheus's query API about itself, and vigil serve "
          "answers it from the history it left")


if __name__ == "__main__":
    main()
