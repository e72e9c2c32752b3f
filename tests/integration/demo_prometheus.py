#!/usr/bin/python3
"""demo_prometheus.py — integration/prometheus_scrapes_the_demo.

    demo_prometheus.py VIGIL_DEMO PROMETHEUS PROMTOOL SCRAPE_CONFIG

The real Prometheus (Debian's 2.42) scrapes the running demo on 127.0.0.1, with the scrape
configuration the docs give (examples/prometheus.yml, checked by `promtool check config`, with
only its target and interval replaced: the demo's port-0 address and 1 s). Through
Prometheus's HTTP query API:

  - up{job="vigil-demo"} is 1 (Prometheus reached and parsed the target);
  - the frames the server received, summed, rise between two queries 2.5 s apart, and
    increase() over them is positive (the counters are real, and scraped as counters);
  - histogram_quantile over demo_request_duration_seconds gives a finite latency, and the
    latency tracker's p99 series is there (both latency views survive ingestion).

Both processes are stopped by PID at the end, the demo with SIGTERM (it must exit 0), and the
temporary storage is removed. About 10 s. Exit 77 when Prometheus is not installed.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_driver import Demo  # noqa: E402
from integ_common import Failure, get, on_signals_exit, skip  # noqa: E402

JOB = "vigil-demo"


def free_port():
    """A port free right now on 127.0.0.1 (Prometheus cannot be told to pick one itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_config(template_path, target, out_path):
    with open(template_path) as f:
        text = f.read()
    for old, new in (('"127.0.0.1:9464"', f'"{target}"'), ("scrape_interval: 5s",
                                                          "scrape_interval: 1s")):
        if text.count(old) != 1:
            raise Failure(f"{template_path}: expected exactly one {old!r} to replace")
        text = text.replace(old, new)
    with open(out_path, "w") as f:
        f.write(text)


class Prometheus:
    def __init__(self, binary, config, storage, port):
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = os.path.abspath("prometheus.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self):
        with open(self.log_path, "rb") as f:
            return "\n--- prometheus.log:\n" + f.read().decode("utf-8", "replace")[-2000:]

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"prometheus exited with {self.proc.returncode}{self.log_tail()}")
            try:
                if get(self.base + "/-/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise Failure(f"prometheus not ready within {timeout} s{self.log_tail()}")

    def query(self, expr):
        """The instant vector of expr as [(labels, float)]."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, _, body = get(url)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise Failure(f"query {expr!r}: HTTP {status}: {body[:300]!r}")
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def scalar(self, expr):
        """The single value of expr, or None while it has no result."""
        res = self.query(expr)
        if len(res) > 1:
            raise Failure(f"query {expr!r}: {len(res)} series, want one: {res}")
        return res[0][1] if res else None

    def wait_value(self, expr, want, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.scalar(expr)
            if want(last):
                return last
            time.sleep(0.25)
        raise Failure(f"query {expr!r}: last value {last} after {timeout} s{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run(demo_bin, prometheus_bin, promtool, template):
    rc = subprocess.run([promtool, "check", "config", template], capture_output=True, text=True)
    if rc.returncode != 0:
        raise Failure(f"promtool check config {template}: {rc.stdout}{rc.stderr}")
    demo = Demo(demo_bin, ["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--clients", "3",
                           "--rate", "20", "--snapshot-interval", "0", "--quiet-hooks"])
    storage = tempfile.mkdtemp(prefix="vigil-demo-prom-")
    prom = None
    try:
        demo.wait_banner()
        target = urllib.parse.urlsplit(demo.metrics_url).netloc
        make_config(template, target, "prometheus.yml")
        prom = Prometheus(prometheus_bin, os.path.abspath("prometheus.yml"), storage, free_port())
        prom.wait_ready()
        up = prom.wait_value(f'up{{job="{JOB}"}}', lambda v: v == 1)
        print(f"up{{job=\"{JOB}\"}} = {up:g} (target {target})")

        received = f'sum(demo_messages_total{{job="{JOB}",role="server",direction="received"}})'
        first = prom.wait_value(received, lambda v: v is not None and v > 0)
        time.sleep(2.5)
        second = prom.wait_value(received, lambda v: v is not None and v > first)
        print(f"{received}: {first:g}, then {second:g} 2.5 s later")
        inc = prom.wait_value(f"increase(demo_messages_total{{job=\"{JOB}\",role=\"server\","
                              f"direction=\"received\",type=\"request\"}}[5s])",
                              lambda v: v is not None and v > 0)
        print(f"increase of the requests the server received over 5 s: {inc:g}")

        p50 = prom.wait_value(f"histogram_quantile(0.5, sum by (le) (rate("
                              f"demo_request_duration_seconds_bucket{{job=\"{JOB}\"}}[5s])))",
                              lambda v: v is not None and 0 < v < 2.5)
        p99 = prom.wait_value(f'demo_request_latency_seconds{{job="{JOB}",quantile="0.99"}}',
                              lambda v: v is not None and v > 0)
        print(f"request latency: histogram p50 {p50 * 1e3:.3f} ms, tracker p99 {p99 * 1e3:.3f} ms")
    finally:
        if prom is not None:
            prom.stop()
        status = demo.stop()
        shutil.rmtree(storage, ignore_errors=True)
    if status != 0:
        raise Failure(f"the demo exited with {status} after SIGTERM, want 0{demo.tail()}")


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    demo_bin, prometheus_bin, promtool, template = sys.argv[1:]
    if shutil.which(prometheus_bin) is None:
        skip(f"prometheus ({prometheus_bin}) not found; Debian: apt-get install prometheus")
    if shutil.which(promtool) is None:
        skip(f"promtool ({promtool}) not found")
    on_signals_exit()
    try:
        run(demo_bin, prometheus_bin, promtool, template)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    print("PASS: Prometheus scrapes the demo: up == 1, the message counter rises, latency "
          "queries work", flush=True)


if __name__ == "__main__":
    main()
