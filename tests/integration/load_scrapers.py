#!/usr/bin/python3
"""load_scrapers.py — integration/http_survives_32_scrapers_during_updates_and_churn.

    load_scrapers.py LOAD_FIXTURE [INCREMENTS_PER_THREAD]

Starts load_fixture.c (vigil_start on 127.0.0.1, port 0) and 32 scraper threads, then tells the
fixture to begin: two threads increment integ_load_increments_total N times each (about 3 s) while
a third creates and removes children of integ_load_churn_total. The scrapers run from before the
first update until the fixture prints DONE; even-numbered ones ask for the text format, odd ones
for OpenMetrics with Prometheus 2.42's Accept header; half of each keep one keep-alive connection,
the other half connect anew for every scrape. Every response must be 200 with the Content-Type
asked for and must parse with the matching prometheus_client parser; the counter each scraper
sees must never go down. Afterwards a final scrape in each format must show the counter at
exactly 2N and the churn family with the children the fixture reports alive, and the fixture
must report no failed or refused churn operation and exit 0 when its stdin closes.
Exit 0 pass, 1 fail, 77 a peer is missing.
"""
import sys

sys.dont_write_bytecode = True  # nothing of ours may land in the source tree

import http.client
import os
import threading
import time
import urllib.parse

from integ_common import (PROMETHEUS_ACCEPT, TEXT_ACCEPT, Failure, Fixture, get, import_parsers,
                          media_type, on_signals_exit)

SCRAPERS = 32
COUNTER = "integ_load_increments"
CHURN = "integ_load_churn"
MAX_SAVED_BODIES = 5


class Scraper(threading.Thread):
    def __init__(self, index, url, parsers, stop, shared):
        super().__init__(name=f"scraper-{index}", daemon=True)
        self.index = index
        self.url = url
        self.openmetrics = index % 2 == 1
        self.keepalive = (index // 2) % 2 == 0
        self.parse = parsers[1] if self.openmetrics else parsers[0]
        self.stop = stop
        self.shared = shared
        self.scrapes = 0
        self.bytes = 0
        self.values = []   # the counter as this scraper saw it, in order
        self.errors = []

    def fail(self, what, body=None):
        with self.shared["lock"]:
            self.shared["errors"] += 1
            saved = ""
            if body is not None and self.shared["saved"] < MAX_SAVED_BODIES:
                self.shared["saved"] += 1
                path = os.path.abspath(f"bad-body-{self.shared['saved']}.txt")
                with open(path, "wb") as f:
                    f.write(body)
                saved = f" (body saved to {path})"
        if len(self.errors) < 5:
            self.errors.append(f"{self.name} scrape {self.scrapes + 1} "
                               f"({'OpenMetrics' if self.openmetrics else 'text'}): {what}{saved}")

    def run(self):
        u = urllib.parse.urlsplit(self.url)
        conn = None
        accept = PROMETHEUS_ACCEPT if self.openmetrics else TEXT_ACCEPT
        want = "application/openmetrics-text" if self.openmetrics else "text/plain"
        while not self.stop.is_set():
            if self.keepalive and conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            try:
                status, hdrs, body = get(self.url, {"Accept": accept}, conn=conn)
            except (OSError, http.client.HTTPException) as e:
                self.fail(f"request failed: {type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                    conn = None
                self.scrapes += 1
                continue
            self.scrapes += 1
            self.bytes += len(body)
            if status != 200:
                self.fail(f"HTTP {status}: {body[:200]!r}", body)
                continue
            mt, _ = media_type(hdrs.get("content-type"))
            if mt != want:
                self.fail(f"Content-Type {hdrs.get('content-type')!r}, want {want}", body)
            try:
                families = list(self.parse(body.decode("utf-8")))
            except Exception as e:
                self.fail(f"parse error: {type(e).__name__}: {e}", body)
                continue
            value = None
            for mf in families:
                if mf.name == COUNTER:
                    for s in mf.samples:
                        if s.name == COUNTER + "_total":
                            value = s.value
            if value is None:
                self.fail(f"no {COUNTER}_total sample", body)
                continue
            if self.values and value < self.values[-1]:
                self.fail(f"{COUNTER}_total went down: {self.values[-1]!r} -> {value!r}", body)
            self.values.append(value)
        if conn is not None:
            conn.close()


def final_scrape(url, accept, parse, n_total, live, errors, label):
    status, hdrs, body = get(url, {"Accept": accept})
    if status != 200:
        errors.append(f"final {label} scrape: HTTP {status}")
        return
    families = {mf.name: mf for mf in parse(body.decode("utf-8"))}
    mf = families.get(COUNTER)
    value = None if mf is None else next(
        (s.value for s in mf.samples if s.name == COUNTER + "_total"), None)
    if value != n_total or (label == "OpenMetrics" and not isinstance(value, int)):
        errors.append(f"final {label} scrape: {COUNTER}_total = {value!r}, want exactly {n_total}")
    churn = families.get(CHURN)
    n_churn = 0 if churn is None else sum(1 for s in churn.samples if s.name == CHURN + "_total")
    if n_churn != live:
        errors.append(f"final {label} scrape: {n_churn} {CHURN}_total series, but the fixture "
                      f"reports {live} children alive")
    refused = families.get("vigil_series_refused")
    if refused is not None:
        for s in refused.samples:
            if s.value != 0:
                errors.append(f"final {label} scrape: {s.name}{s.labels} = {s.value}")
    print(f"final {label} scrape: {COUNTER}_total = {value!r}, {n_churn} churn series, "
          f"{len(body)} bytes")


def main():
    on_signals_exit()
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    per_thread = int(sys.argv[2]) if len(sys.argv) == 3 else 3_000_000
    parsers = import_parsers()[:2]

    fx = Fixture([sys.argv[1], str(per_thread)], "load_fixture")
    url = fx.url()
    print(f"fixture serves {url}; {SCRAPERS} scrapers, 2 x {per_thread} increments")

    stop = threading.Event()
    shared = {"lock": threading.Lock(), "errors": 0, "saved": 0}
    scrapers = [Scraper(i, url, parsers, stop, shared) for i in range(SCRAPERS)]
    for s in scrapers:
        s.start()
    t0 = time.monotonic()
    fx.send("go\n")
    try:
        churn_line = fx.expect("CHURN ", 60)
        value_line = fx.expect("VALUE ", 5)
        done_line = fx.expect("DONE ", 5)
    finally:
        stop.set()
        elapsed = time.monotonic() - t0
        for s in scrapers:
            s.join(timeout=30)
    stuck = [s.name for s in scrapers if s.is_alive()]

    errors = []
    if stuck:
        errors.append(f"scrapers still blocked 30 s after the end: {', '.join(stuck)}")
    n_total = int(done_line.split()[1])
    if n_total != 2 * per_thread:
        errors.append(f"fixture says DONE {n_total}, want {2 * per_thread}")
    if float(value_line.split()[1]) != n_total:
        errors.append(f"the fixture's own vigil_counter_value reads {value_line.split()[1]}, "
                      f"want {n_total}")
    churn = dict(kv.split("=") for kv in churn_line.split()[1:])
    if churn.get("errors") != "0" or churn.get("refused") != "0":
        errors.append(f"churn operations failed or were refused: {churn_line}{fx.stderr_tail()}")

    for s in scrapers:
        errors.extend(s.errors)
    total = sum(s.scrapes for s in scrapers)
    text_n = sum(s.scrapes for s in scrapers if not s.openmetrics)
    om_n = total - text_n
    during = sum(1 for s in scrapers for v in s.values if 0 < v < n_total)
    distinct = len({v for s in scrapers for v in s.values})
    mbytes = sum(s.bytes for s in scrapers) / 1e6
    print(f"{total} scrapes in {elapsed:.1f} s ({text_n} text, {om_n} OpenMetrics; "
          f"{mbytes:.1f} MB; fewest by one scraper: {min(s.scrapes for s in scrapers)}); "
          f"{during} saw the counter mid-update, {distinct} distinct counter values; "
          f"churn: {churn_line[6:]}")
    if shared["errors"]:
        errors.append(f"{shared['errors']} scrape(s) failed in all (first few above)")
    if during == 0:
        errors.append("no scrape saw the counter between 0 and 2N: the scrapes did not overlap "
                      "the updates, so this run proves little")

    final_scrape(url, TEXT_ACCEPT, parsers[0], n_total, int(churn.get("live", -1)), errors,
                 "text")
    final_scrape(url, PROMETHEUS_ACCEPT, parsers[1], n_total, int(churn.get("live", -1)), errors,
                 "OpenMetrics")

    rc = fx.stop()
    if rc != 0:
        errors.append(f"the fixture exited with status {rc} after stdin closed, want 0"
                      f"{fx.stderr_tail()}")
    if errors:
        print(f"FAIL: {len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print(f"PASS: {total} scrapes, all 200 and parsed; counter monotonic and exactly {n_total}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
