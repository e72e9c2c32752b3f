#!/usr/bin/python3
"""promql_diff.py — integration/promql_answers_match_prometheus_2_42.

    promql_diff.py VIGIL PROMETHEUS PROMTOOL GEN_SERIES QUERIES [--peer vigil|prometheus]
                   [--only REGEX] [--keep DIR] [--workers N]

A differential test of vigil's PromQL engine and HTTP query API against the real Prometheus
(Debian's 2.42) on the same data:

  1. gen_series.py writes a small dataset (150 series of every kind — counters with resets,
     gauges, constants, classic histograms — 4 hours at 15 s, fixed seed and end time);
  2. `promtool tsdb create-blocks-from openmetrics` turns it into blocks for Prometheus, and
     `vigil tsdb import` loads the same file into a vigil store;
  3. `prometheus` and `vigil serve` start on free 127.0.0.1 ports (no scrape jobs: the only
     series either holds are the dataset's);
  4. every query of QUERIES (one a line, `#` comments; ${START} ${MID} ${END} stand for the
     first sample's time, a time inside the data and the last sample's time) is asked of both
     HTTP APIs as an instant query at 9 times (before, inside, between, at and after the data,
     and at the end of the 5-minute lookback)
     and as a range query over 5 ranges and steps (aligned, odd, fractional), with GET and
     URL parameters as Grafana does, plus a few POSTs and malformed requests;
  5. /api/v1/series, /api/v1/labels and /api/v1/label/<name>/values are compared for a few
     matchers and time ranges.

Two answers agree when they have the same HTTP status, the same success-or-error and error
type, the same result type, the same series label sets (compared sorted, except the order of
values under a top-level sort()/sort_desc()), the same timestamps (to the millisecond), and
values equal within 1e-9 relative (1e-9 absolute near 0; NaN equals NaN, infinities equal by
sign). A value that is bit-identical but printed differently ("inf" for "+Inf") is a
mismatch too: clients parse these strings. Error messages are only reported (NOTE), not
compared.

One MISMATCH line per disagreeing request (the query, the time or range, the first
difference and how many more), a summary, a full report in promql_diff_report.txt in the
working directory; exit 1 on any mismatch. `--peer prometheus` compares Prometheus with a
second Prometheus on a copy of its blocks instead of vigil (the harness's own check: it must
report nothing). Exit 77 when prometheus or promtool is missing.
"""
import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

SKIP = 77

# The dataset: small enough for CI, every metric kind. Changing any of these changes the data.
DATA_SERIES = 150
DATA_HOURS = 4
DATA_STEP = 15
DATA_SEED = 7
DATA_END = 1767225600  # 2026-01-01T00:00:00Z, a multiple of 2 h: a block boundary inside

REL_TOL = 1e-9
ABS_TOL = 1e-9
REQUEST_TIMEOUT = 30


class Failure(Exception):
    """The harness could not run (not a difference between the two engines)."""


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """A server process on 127.0.0.1:port, its output in <name>.log in the working directory,
    stopped by its PID (SIGTERM, then SIGKILL after 15 s)."""

    def __init__(self, name, argv, port):
        self.name = name
        self.argv = argv
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = os.path.abspath(f"{name}.log")
        self.proc = None
        self.starts = 0

    def start(self):
        log = open(self.log_path, "ab")
        log.write(f"--- start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
        log.flush()
        # setpriv --pdeathsig: the server gets SIGTERM if this driver is killed outright (a
        # CTest timeout), so no server outlives its test; it execs, so the PID is the server's.
        wrap = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        self.proc = subprocess.Popen(wrap + self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return f"\n--- {self.name}.log (end):\n" + text[-n:]

    def wait_ready(self, timeout=60):
        """Ready when an instant query of `1` answers 200 (Prometheus says 503 while it loads
        its blocks)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise Failure(f"{self.name} exited with status {self.proc.returncode} while "
                              f"starting{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/query?query=1&time=0")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                last = resp.status
                if resp.status == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.2)
        raise Failure(f"{self.name} not ready within {timeout} s (last: {last}){self.log_tail()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def prometheus_server(binary, config, storage, port, name="prometheus", extra=()):
    return Server(name, [binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
                         "--storage.tsdb.retention.time=100y",
                         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                         *extra], port)


def vigil_server(binary, data_dir, port, extra=()):
    return Server("vigil", [binary, "serve", "--data-dir", data_dir,
                            "--listen", f"127.0.0.1:{port}", *extra], port)


def write_prometheus_config(path):
    # No scrape jobs: Prometheus holds only the backfilled blocks. evaluation_interval is the
    # default step of a subquery written without one (vigil's default is the same 1 m).
    with open(path, "w") as f:
        f.write("global:\n  evaluation_interval: 1m\n")


def start_with_free_port(make, tries=3):
    """make(port) -> Server; retried on another port if it dies at start (port taken)."""
    err = None
    for _ in range(tries):
        srv = make(free_port())
        srv.start()
        try:
            srv.wait_ready()
            return srv
        except Failure as e:
            err = e
            srv.stop()
    raise err


# ---------------------------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection per thread to one server."""

    def __init__(self, server):
        self.server = server
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                           timeout=REQUEST_TIMEOUT)
            self.local.conn = c
        return c

    def _drop(self):
        c = getattr(self.local, "conn", None)
        if c is not None:
            c.close()
        self.local.conn = None

    def request(self, path, params, method="GET"):
        """(HTTP status, Content-Type, body bytes, seconds); raises OSError when the server
        does not answer (after one retry on a fresh connection)."""
        body = None
        headers = {"Accept-Encoding": "identity"}
        qs = urllib.parse.urlencode(params, doseq=True)
        if method in ("GET", "POST-URL"):
            target = path + ("?" + qs if qs else "")
            method = method[:4].rstrip("-")
        else:
            target = path
            body = qs.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            conn = self._conn()
            t0 = time.perf_counter()
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                dt = time.perf_counter() - t0
                if resp.getheader("Connection", "").lower() == "close":
                    self._drop()
                return resp.status, resp.getheader("Content-Type", ""), data, dt
            except (http.client.HTTPException, OSError):
                self._drop()
                if attempt == 1 or not self.server.alive():
                    raise


# ---------------------------------------------------------------------------------------------
# Answers


def fmt_labels(lbls):
    d = dict(lbls)
    name = d.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items())) + "}"


def parse_value(s):
    if not isinstance(s, str):
        raise ValueError(f"sample value {s!r} is not a string")
    return float(s)


def to_ms(t):
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        raise ValueError(f"timestamp {t!r} is not a number")
    return int(round(t * 1000))


class Answer:
    """A response reduced to what is compared. kind: 'error', 'success' or 'broken' (not a
    valid API response at all: bad JSON, no answer, wrong shape)."""

    def __init__(self, http_status, content_type, body, seconds):
        self.http_status = http_status
        self.seconds = seconds
        self.kind = "broken"
        self.error_type = self.error = self.result_type = None
        self.data = None
        self.problem = None
        try:
            doc = json.loads(body)
        except ValueError:
            self.problem = f"HTTP {http_status}, body is not JSON: {body[:200]!r}"
            return
        if not content_type.lower().startswith("application/json"):
            self.problem = f"Content-Type {content_type!r}, not application/json"
            return
        try:
            self._decode(doc)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            self.kind = "broken"
            self.problem = f"HTTP {http_status}, malformed answer ({e}): {body[:300]!r}"

    @classmethod
    def no_answer(cls, why):
        a = cls.__new__(cls)
        a.http_status = None
        a.seconds = 0.0
        a.kind = "broken"
        a.error_type = a.error = a.result_type = a.data = None
        a.problem = why
        return a

    def _decode(self, doc):
        status = doc["status"]
        if status == "error":
            self.kind = "error"
            self.error_type = doc["errorType"]
            self.error = doc["error"]
            return
        if status != "success":
            raise ValueError(f"status {status!r}")
        data = doc["data"]
        self.kind = "success"
        if isinstance(data, list):  # series, labels, label values
            self.result_type = "list"
            self.data = data
            return
        if "resultType" not in data:  # metadata: an object compared as it is
            self.result_type = "object"
            self.data = data
            return
        rt = data["resultType"]
        res = data["result"]
        self.result_type = rt
        # Vectors and matrices keep the raw [t, "v"] points: when both servers print a series
        # identically it is compared in one list comparison, and only series that differ are
        # parsed and checked point by point (see compare_series).
        if rt == "vector":
            self.data = [(tuple(sorted(s["metric"].items())), s["value"]) for s in res]
        elif rt == "matrix":
            self.data = [(tuple(sorted(s["metric"].items())), s["values"]) for s in res]
        elif rt == "scalar":
            self.data = (to_ms(res[0]), res[1])
            parse_value(res[1])
        elif rt == "string":
            self.data = (to_ms(res[0]), res[1])
        else:
            raise ValueError(f"resultType {rt!r}")

    def describe(self):
        if self.kind == "broken":
            return f"no valid answer ({self.problem})"
        if self.kind == "error":
            return f"HTTP {self.http_status} error {self.error_type} ({self.error})"
        if self.result_type in ("vector", "matrix"):
            return f"HTTP {self.http_status} {self.result_type} of {len(self.data)} series"
        if self.result_type == "list":
            return f"HTTP {self.http_status} list of {len(self.data)}"
        return f"HTTP {self.http_status} {self.result_type} {self.data[1]!r}"


def values_equal(a, b):
    """a, b: floats. The tolerance of the brief: 1e-9 relative, 1e-9 absolute near 0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    d = abs(a - b)
    return d <= ABS_TOL or d <= REL_TOL * max(abs(a), abs(b))


def compare_value(exp_s, got_s):
    """None when equal, else what differs."""
    e, g = parse_value(exp_s), parse_value(got_s)
    if not values_equal(e, g):
        return f"expected {exp_s} got {got_s}"
    # Finite numbers may be printed in any form that reads back to the same double; NaN and
    # the infinities must be spelt as Prometheus does (JavaScript's parseFloat("inf") is NaN).
    if (math.isnan(e) or math.isinf(e)) and exp_s != got_s:
        return f"value printed {got_s!r}, Prometheus prints {exp_s!r}"
    return None


class Diff:
    """The differences of one request: a list of (category, text)."""

    def __init__(self):
        self.items = []

    def add(self, cat, text):
        self.items.append((cat, text))

    def __bool__(self):
        return bool(self.items)

    def line(self):
        first = self.items[0][1]
        more = len(self.items) - 1
        return first + (f" [+{more} more]" if more else "")


def compare(exp, got, ordered=False):
    """Compares got (vigil) with exp (Prometheus). Returns (Diff, note or None)."""
    d = Diff()
    note = None
    if got.kind == "broken" or exp.kind == "broken":
        if exp.kind == "broken":
            d.add("harness", f"Prometheus gave no valid answer: {exp.problem}")
        else:
            d.add("broken", f"expected {exp.describe()}, got {got.describe()}")
        return d, note
    if exp.kind != got.kind:
        d.add("error-vs-success", f"expected {exp.describe()}, got {got.describe()}")
        return d, note
    if exp.http_status != got.http_status:
        d.add("http-status", f"HTTP status {got.http_status}, expected {exp.http_status} "
                             f"({exp.describe()})")
    if exp.kind == "error":
        if exp.error_type != got.error_type:
            d.add("error-type", f"errorType {got.error_type!r} ({got.error}), expected "
                                f"{exp.error_type!r} ({exp.error})")
        elif exp.error != got.error:
            note = f"message {got.error!r}, Prometheus says {exp.error!r}"
        return d, note
    if exp.result_type != got.result_type:
        d.add("result-type", f"resultType {got.result_type}, expected {exp.result_type} "
                             f"({exp.describe()}; got {got.describe()})")
        return d, note
    rt = exp.result_type
    if rt in ("scalar", "string"):
        if exp.data[0] != got.data[0]:
            d.add("timestamp", f"timestamp {got.data[0]} ms, expected {exp.data[0]} ms")
        if rt == "scalar":
            why = compare_value(exp.data[1], got.data[1])
            if why:
                d.add("value", f"scalar: {why}")
        elif exp.data[1] != got.data[1]:
            d.add("value", f"string {got.data[1]!r}, expected {exp.data[1]!r}")
        return d, note
    if rt == "list":
        compare_list(exp.data, got.data, d)
        return d, note
    if rt == "object":
        if exp.data != got.data:
            d.add("value", f"{json.dumps(got.data, sort_keys=True)[:200]}, expected "
                           f"{json.dumps(exp.data, sort_keys=True)[:200]}")
        return d, note
    compare_series(exp.data, got.data, rt, d)
    if ordered and rt == "vector" and not d:
        ev = [raw[1] for _, raw in exp.data]
        gv = [raw[1] for _, raw in got.data]
        for i, (a, b) in enumerate(zip(ev, gv)):
            if compare_value(a, b):
                d.add("order", f"order: position {i} has value {b} ({fmt_labels(got.data[i][0])}"
                               f"), expected {a} ({fmt_labels(exp.data[i][0])})")
                break
    return d, note


def compare_list(exp, got, d):
    def key(x):
        return json.dumps(x, sort_keys=True)
    es, gs = {key(x) for x in exp}, {key(x) for x in got}
    if len(got) != len(gs):
        d.add("duplicates", f"{len(got) - len(gs)} duplicate entries in the list")
    missing, extra = sorted(es - gs), sorted(gs - es)
    if missing:
        d.add("missing", f"{len(missing)} missing, e.g. {missing[0]}")
    if extra:
        d.add("extra", f"{len(extra)} extra, e.g. {extra[0]}")


def point(p):
    """(t in ms, value string) of a raw [t, "v"] point; ValueError when malformed."""
    if not isinstance(p, list) or len(p) != 2:
        raise ValueError(f"point {p!r} is not [time, value]")
    parse_value(p[1])
    return to_ms(p[0]), p[1]


def compare_series(exp, got, rt, d):
    em, gm = {}, {}
    for k, raw in exp:
        em[k] = raw
    for k, raw in got:
        if k in gm:
            d.add("duplicates", f"series {fmt_labels(k)} appears twice")
        gm[k] = raw
    missing = sorted(k for k in em if k not in gm)
    extra = sorted(k for k in gm if k not in em)
    if missing:
        d.add("missing", f"{len(missing)} of {len(em)} series missing, e.g. "
                         f"{fmt_labels(missing[0])} = {sample_text(em[missing[0]], rt)}")
    if extra:
        d.add("extra", f"{len(extra)} extra series, e.g. {fmt_labels(extra[0])} = "
                       f"{sample_text(gm[extra[0]], rt)}")
    for k in sorted(k for k in em if k in gm):
        e, g = em[k], gm[k]
        if e == g:
            continue
        try:
            if rt == "vector":
                compare_points([e], [g], k, d, vector=True)
            else:
                if not isinstance(g, list):
                    raise ValueError(f"values {g!r} is not a list")
                compare_points(e, g, k, d, vector=False)
        except ValueError as err:
            d.add("malformed", f"{fmt_labels(k)}: {err}")


def compare_points(e_raw, g_raw, k, d, vector):
    e = [point(p) for p in e_raw]
    g = [point(p) for p in g_raw]
    et = [t for t, _ in e]
    gt = [t for t, _ in g]
    if et != gt:
        if vector:
            d.add("timestamp", f"{fmt_labels(k)}: timestamp {gt[0]} ms, expected {et[0]} ms")
        else:
            es, gs = set(et), set(gt)
            lost, more = sorted(es - gs), sorted(gs - es)
            what = []
            if lost:
                what.append(f"{len(lost)} points missing (first at {lost[0]} ms, expected "
                            f"{dict(e)[lost[0]]})")
            if more:
                what.append(f"{len(more)} extra points (first at {more[0]} ms = "
                            f"{dict(g)[more[0]]})")
            if not what:
                what.append("points out of order or repeated")
            d.add("timestamps", f"{fmt_labels(k)}: {len(gt)} points, expected {len(et)}: "
                                + "; ".join(what))
    gd = dict(g)
    for t, v in e:
        if t in gd:
            why = compare_value(v, gd[t])
            if why:
                d.add("value", f"{fmt_labels(k)}" + ("" if vector else f" at {t} ms")
                      + f": {why}")
                break


def sample_text(raw, rt):
    try:
        if rt == "vector":
            t, v = point(raw)
            return f"{v} @{t}"
        pts = [point(p) for p in raw]
    except (ValueError, TypeError) as e:
        return f"malformed ({e})"
    return f"{len(pts)} points" + (f" from {pts[0][0]} ms ({pts[0][1]})" if pts else "")


def self_test():
    """The comparator must find what it is meant to find: synthetic answer pairs with a
    known verdict, checked on every run before any server starts."""
    def vec(*series, t=10.0):
        return {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": m, "value": [t, v]} for m, v in series]}}

    def mat(*series):
        return {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": m, "values": pts} for m, pts in series]}}

    def err(kind, msg="x"):
        return {"status": "error", "errorType": kind, "error": msg}

    def ans(doc, status=200, ct="application/json"):
        return Answer(status, ct, json.dumps(doc).encode(), 0.0)

    a, b = {"__name__": "m", "i": "1"}, {"i": "2", "__name__": "m"}
    cases = [  # (expected, got, ordered, should differ, what)
        (vec((a, "1"), (b, "2")), vec((b, "2"), (a, "1")), False, False, "order ignored"),
        (vec((a, "1"), (b, "2")), vec((b, "2"), (a, "1")), True, True, "order of sort()"),
        (vec((a, "1")), vec((a, "1.0000000001")), False, False, "within 1e-9 relative"),
        (vec((a, "1")), vec((a, "1.001")), False, True, "value"),
        (vec((a, "0")), vec((a, "1e-12")), False, False, "absolute tolerance near 0"),
        (vec((a, "0")), vec((a, "1e-6")), False, True, "beyond the absolute tolerance"),
        (vec((a, "NaN")), vec((a, "NaN")), False, False, "NaN equals NaN"),
        (vec((a, "NaN")), vec((a, "0")), False, True, "NaN against a number"),
        (vec((a, "+Inf")), vec((a, "+Inf")), False, False, "+Inf"),
        (vec((a, "+Inf")), vec((a, "-Inf")), False, True, "infinities of both signs"),
        (vec((a, "+Inf")), vec((a, "inf")), False, True, "+Inf spelt inf"),
        (vec((a, "1")), vec((a, "1"), t=10.001), False, True, "timestamp"),
        (vec((a, "1"), (b, "2")), vec((a, "1")), False, True, "missing series"),
        (vec((a, "1")), vec((a, "1"), (b, "2")), False, True, "extra series"),
        (vec((a, "1")), vec(({"i": "1"}, "1")), False, True, "metric name kept or dropped"),
        (mat((a, [[1, "1"], [2, "2"]])), mat((a, [[1, "1"]])), False, True, "missing point"),
        (mat((a, [[1, "1"], [2, "2"]])), mat((a, [[1.0, "1"], [2, "2.0"]])), False, False,
         "same points printed differently"),
        (err("bad_data"), err("execution"), False, True, "error type"),
        (err("bad_data", "a"), err("bad_data", "b"), False, False, "message only (a note)"),
        (err("bad_data"), vec(), False, True, "error against success"),
        ({"status": "success", "data": {"resultType": "scalar", "result": [10, "1"]}},
         vec(({}, "1")), False, True, "result type"),
    ]
    for exp, got, ordered, differs, what in cases:
        d, _ = compare(ans(exp), ans(got), ordered)
        if bool(d) != differs:
            raise Failure(f"comparator self-test '{what}': "
                          f"{'no difference found' if differs else d.line()}")
    d, _ = compare(ans(err("bad_data"), 400), ans(err("bad_data"), 422))
    if not d:
        raise Failure("comparator self-test 'HTTP status': no difference found")
    d, _ = compare(ans(vec()), Answer(200, "application/json", b"{not json", 0.0))
    if not d:
        raise Failure("comparator self-test 'broken body': no difference found")


# ---------------------------------------------------------------------------------------------
# What is asked


def read_queries(path, subst):
    out = []
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            q = line
            for k, v in subst.items():
                q = q.replace("${" + k + "}", v)
            if re.search(r"\$\{[A-Z]+\}", q):
                raise Failure(f"{path}:{n}: unknown placeholder in {line!r}")
            out.append((n, q))
    return out


def fmt_t(t):
    s = f"{t:.3f}".rstrip("0").rstrip(".")
    return s


def is_ordered(query):
    """A top-level sort()/sort_desc() fixes the order of an instant vector."""
    return re.match(r"^\s*sort(_desc)?\s*\(", query) is not None


class Case:
    def __init__(self, label, path, params, query=None, method="GET", ordered=False,
                 line=None):
        self.label = label      # how the request is shown: "instant t=..." etc.
        self.path = path
        self.params = params
        self.query = query
        self.method = method
        self.ordered = ordered
        self.line = line


def query_cases(queries, instant_times, ranges):
    cases = []
    for line, q in queries:
        for t in instant_times:
            cases.append(Case(f"instant t={fmt_t(t)}", "/api/v1/query",
                              {"query": q, "time": fmt_t(t)}, q, ordered=is_ordered(q),
                              line=line))
        for start, end, step in ranges:
            cases.append(Case(f"range {fmt_t(start)}..{fmt_t(end)} step {fmt_t(step)}",
                              "/api/v1/query_range",
                              {"query": q, "start": fmt_t(start), "end": fmt_t(end),
                               "step": fmt_t(step)}, q, line=line))
    return cases


def api_cases(start, end):
    """Requests beyond the query list: POST forms, parameter forms and errors, metadata."""
    s, e, mid = fmt_t(start), fmt_t(end), fmt_t(end - 5400)
    c = []

    def add(label, path, params, method="GET", query=None):
        c.append(Case(label, path, params, query, method))

    q = "sum by (method) (rate(demo_requests_total[5m]))"
    add("POST instant", "/api/v1/query", {"query": q, "time": e}, "POST", q)
    add("POST range", "/api/v1/query_range", {"query": q, "start": s, "end": e, "step": "60"},
        "POST", q)
    add("POST, parameters in the URL", "/api/v1/query", {"query": q, "time": e}, "POST-URL", q)
    multi = "sum by (method) (\n  rate(demo_requests_total[5m])\n)\t# a comment\n"
    add("instant, query on several lines", "/api/v1/query", {"query": multi, "time": e},
        query=multi)
    add("instant, RFC 3339 time", "/api/v1/query",
        {"query": "demo_build_info", "time": "2025-12-31T23:00:00Z"}, query="demo_build_info")
    add("instant, RFC 3339 time with fraction", "/api/v1/query",
        {"query": "demo_build_info", "time": "2025-12-31T23:00:00.123Z"},
        query="demo_build_info")
    add("range, step as a duration", "/api/v1/query_range",
        {"query": q, "start": s, "end": e, "step": "5m"}, query=q)
    add("range, RFC 3339 start and end", "/api/v1/query_range",
        {"query": q, "start": "2025-12-31T22:00:00Z", "end": "2026-01-01T00:00:00Z",
         "step": "90"}, query=q)
    add("range, step 0", "/api/v1/query_range", {"query": q, "start": s, "end": e, "step": "0"},
        query=q)
    add("range, negative step", "/api/v1/query_range",
        {"query": q, "start": s, "end": e, "step": "-15"}, query=q)
    add("range, end before start", "/api/v1/query_range",
        {"query": q, "start": e, "end": s, "step": "60"}, query=q)
    add("range, more than 11,000 points", "/api/v1/query_range",
        {"query": q, "start": s, "end": e, "step": "1"}, query=q)
    add("range, start == end", "/api/v1/query_range",
        {"query": q, "start": mid, "end": mid, "step": "60"}, query=q)
    add("range, no step", "/api/v1/query_range", {"query": q, "start": s, "end": e}, query=q)
    add("range, bad start", "/api/v1/query_range",
        {"query": q, "start": "yesterday", "end": e, "step": "60"}, query=q)
    add("instant, bad time", "/api/v1/query", {"query": q, "time": "noon"}, query=q)
    add("instant, no query", "/api/v1/query", {"time": e})
    add("instant, empty query", "/api/v1/query", {"query": "", "time": e}, query="")
    for t in ("1767225599.9999", "1767225600.0005", "1767225600.0015", "1.7672256e9", "-1"):
        add(f"instant, time={t}", "/api/v1/query",
            {"query": "vector(time()) + timestamp(demo_build_info)", "time": t},
            query="vector(time()) + timestamp(demo_build_info)")
    add("range, RFC 3339 with a zone offset", "/api/v1/query_range",
        {"query": q, "start": "2025-12-31T23:00:00+01:00", "end": "2026-01-01T01:00:00+01:00",
         "step": "60"}, query=q)
    add("range, exactly 11,001 points", "/api/v1/query_range",
        {"query": "vector(1)", "start": s, "end": fmt_t(start + 11000), "step": "1"},
        query="vector(1)")
    add("range, 11,002 points", "/api/v1/query_range",
        {"query": "vector(1)", "start": s, "end": fmt_t(start + 11001), "step": "1"},
        query="vector(1)")
    add("instant, timeout parameter", "/api/v1/query",
        {"query": q, "time": e, "timeout": "30s"}, query=q)
    add("instant, bad timeout", "/api/v1/query",
        {"query": q, "time": e, "timeout": "soon"}, query=q)

    sel = [
        ["demo_build_info"],
        ['{job="demo", instance="node-1"}'],
        ['demo_requests_total{code="500"}', "demo_build_info"],
        ['{__name__=~"demo_request_duration_seconds_.*", le=~"0.0.*|"}'],
        ['demo_temperature_celsius{sensor="s3"}', 'demo_temperature_celsius{sensor=~"s[23]"}'],
        ["nonexistent_metric"],
    ]
    ranges = [{}, {"start": s, "end": e}, {"start": fmt_t(end + 3600), "end": fmt_t(end + 7200)},
              {"start": fmt_t(start - 7200), "end": fmt_t(start - 3600)}]
    for m in sel:
        for r in ranges:
            add(f"series {m} {r or ''}", "/api/v1/series", dict({"match[]": m}, **r))
    add("series without match[]", "/api/v1/series", {})
    add("series with a bad matcher", "/api/v1/series", {"match[]": ["demo_build_info{"]})
    add("series with an empty matcher", "/api/v1/series", {"match[]": ['{job=~".*"}']})
    add("series by POST", "/api/v1/series", {"match[]": ["demo_build_info"]}, "POST")
    for r in ranges[:3]:
        add(f"labels {r or ''}", "/api/v1/labels", dict(r))
        add(f"labels of demo_build_info {r or ''}", "/api/v1/labels",
            dict({"match[]": ["demo_build_info"]}, **r))
    add("labels of two matchers", "/api/v1/labels",
        {"match[]": ["demo_build_info", 'demo_requests_total{code="404"}']})
    for name in ("__name__", "instance", "le", "version", "sensor", "nonexistent"):
        for r in ranges[:3]:
            add(f"label {name} values {r or ''}", f"/api/v1/label/{name}/values", dict(r))
    add("label instance values of demo_build_info", "/api/v1/label/instance/values",
        {"match[]": ["demo_build_info"]})
    add("label code values of two matchers", "/api/v1/label/code/values",
        {"match[]": ['demo_requests_total{method="get"}', 'demo_requests_total{code="404"}']})
    add("label values, bad label name", "/api/v1/label/1bad/values", {})
    add("series of every series", "/api/v1/series", {"match[]": ['{__name__=~".+"}']})
    add("labels of a matcher without series", "/api/v1/labels",
        {"match[]": ["nonexistent_metric"]})
    add("metadata", "/api/v1/metadata", {})
    return c


# ---------------------------------------------------------------------------------------------
# The run


def generate_dataset(gen_series, out):
    if not os.path.isfile(gen_series):
        raise Failure(f"{gen_series} not found (the dataset generator, shared/datasets/)")
    with open(out, "wb") as f:
        r = subprocess.run([sys.executable, gen_series, "--series", str(DATA_SERIES),
                            "--hours", str(DATA_HOURS), "--step", str(DATA_STEP),
                            "--seed", str(DATA_SEED), "--end", str(DATA_END)],
                           stdout=f, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise Failure(f"gen_series.py failed: {r.stderr.decode()[-1000:]}")


def run_checked(argv, what):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"{what} failed with status {r.returncode}: {' '.join(argv)}\n"
                      f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def first_sample_time():
    count = int(DATA_HOURS * 3600 / DATA_STEP)
    return DATA_END - (count - 1) * DATA_STEP


class Runner:
    def __init__(self, prom, peer, peer_name, workers):
        self.prom = prom
        self.peer = peer
        self.peer_name = peer_name
        self.pc = Client(prom)
        self.vc = Client(peer)
        self.workers = workers
        self.lock = threading.Lock()
        self.restart_lock = threading.Lock()
        self.mismatches = []
        self.notes = []
        self.times = {"prometheus": [], peer_name: []}
        self.stats = {"cases": 0, "prom_errors": 0, "prom_empty": 0, "prom_data": 0,
                      "crashes": 0}

    def ask(self, client, case):
        try:
            st, ct, body, dt = client.request(case.path, case.params, case.method)
            return Answer(st, ct, body, dt)
        except (http.client.HTTPException, OSError) as e:
            return Answer.no_answer(f"{type(e).__name__}: {e}")

    def revive(self, case):
        """The peer died: record it, start it again so the remaining cases still run."""
        with self.restart_lock:
            if self.peer.alive():
                return
            rc = self.peer.proc.returncode
            with self.lock:
                self.stats["crashes"] += 1
                self.mismatches.append(("crash", case, f"{self.peer_name} exited with status "
                                        f"{rc} on this request{self.peer.log_tail(800)}"))
            if self.peer.starts >= 6:
                raise Failure(f"{self.peer_name} keeps crashing; giving up")
            self.peer.start()
            self.peer.wait_ready()

    def run_case(self, case):
        exp = self.ask(self.pc, case)
        got = self.ask(self.vc, case)
        if got.kind == "broken" and not self.peer.alive():
            self.revive(case)
        diff, note = compare(exp, got, case.ordered)
        with self.lock:
            self.stats["cases"] += 1
            if exp.kind == "error":
                self.stats["prom_errors"] += 1
            elif exp.kind == "success":
                empty = (exp.result_type in ("vector", "matrix", "list") and not exp.data)
                self.stats["prom_empty" if empty else "prom_data"] += 1
            self.times["prometheus"].append(exp.seconds)
            self.times[self.peer_name].append(got.seconds)
            if diff:
                self.mismatches.append((diff.items[0][0], case, diff.line()))
            if note:
                self.notes.append((case, note))

    def run(self, cases):
        ex = ThreadPoolExecutor(max_workers=self.workers)
        try:
            for f in [ex.submit(self.run_case, c) for c in cases]:
                f.result()
        finally:
            # On a failure or a signal, drop what has not started instead of running it all.
            ex.shutdown(wait=True, cancel_futures=True)


def describe_case(case):
    where = f"line {case.line}: " if case.line else ""
    q = f" {case.query!r}" if case.query is not None else ""
    extra = "" if case.query is not None else f" {case.method} {case.path} {case.params}"
    return f"{where}{case.label}{q}{extra}"


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vigil")
    ap.add_argument("prometheus")
    ap.add_argument("promtool")
    ap.add_argument("gen_series")
    ap.add_argument("queries")
    ap.add_argument("--peer", choices=("vigil", "prometheus"), default="vigil",
                    help="what is compared with Prometheus (prometheus: the harness's check)")
    ap.add_argument("--only", help="only queries matching this regular expression")
    ap.add_argument("--keep", help="keep the data and logs in this directory")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-api", action="store_true", help="skip the non-query API checks")
    ap.add_argument("--peer-arg", action="append", default=[],
                    help="an extra flag for the peer (e.g. --query.lookback-delta=4m with "
                         "--peer prometheus, to see that differences are found)")
    a = ap.parse_args()

    for tool in (a.prometheus, a.promtool):
        if shutil.which(tool) is None:
            skip(f"{tool} not found; Debian: apt-get install prometheus")

    def on_signal(signum, frame):
        raise Failure(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    work = a.keep or tempfile.mkdtemp(prefix="vigil-promql-diff-")
    os.makedirs(work, exist_ok=True)
    servers = []
    t_start = time.monotonic()
    try:
        queries_subst = {"START": str(first_sample_time()), "END": str(DATA_END),
                         "MID": str(DATA_END - 5400)}
        self_test()
        queries = read_queries(a.queries, queries_subst)
        if a.only:
            queries = [(n, q) for n, q in queries if re.search(a.only, q)]
        if a.peer == "vigil":
            r = subprocess.run([a.vigil, "serve", "--help"], capture_output=True, text=True)
            if r.returncode != 0:
                raise Failure(f"`{a.vigil} serve --help` exited with {r.returncode}: vigil "
                              f"serve is not available in this build\n{r.stderr[-500:]}")

        dataset = os.path.join(work, "dataset.om")
        generate_dataset(a.gen_series, dataset)
        blocks = os.path.join(work, "prometheus-data")
        shutil.rmtree(blocks, ignore_errors=True)
        run_checked([a.promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                     dataset, blocks], "promtool tsdb create-blocks-from openmetrics")
        config = os.path.join(work, "prometheus.yml")
        write_prometheus_config(config)

        if a.peer == "vigil":
            vdata = os.path.join(work, "vigil-data")
            shutil.rmtree(vdata, ignore_errors=True)
            out = run_checked([a.vigil, "tsdb", "import", dataset, "--data-dir", vdata],
                              "vigil tsdb import")
            print(out.strip())
        else:
            vdata = os.path.join(work, "prometheus-data-2")
            shutil.rmtree(vdata, ignore_errors=True)
            shutil.copytree(blocks, vdata)

        prom = start_with_free_port(lambda p: prometheus_server(a.prometheus, config, blocks, p))
        servers.append(prom)
        if a.peer == "vigil":
            peer = start_with_free_port(lambda p: vigil_server(a.vigil, vdata, p, a.peer_arg))
        else:
            peer = start_with_free_port(lambda p: prometheus_server(
                a.prometheus, config, vdata, p, name="prometheus-2", extra=a.peer_arg))
        servers.append(peer)
        peer_name = "vigil" if a.peer == "vigil" else "prometheus-2"

        start, end = first_sample_time(), DATA_END
        instant_times = [end, end - 3600 + 7.5, end - 7200, end - 1234.567, end + 240,
                         end + 300, end + 600, start + 60, start - 3600]
        ranges = [(start - 300, end + 600, 60), (end - 3600, end, 15), (start, end, 37),
                  (start - 3600, end + 3600, 600), (end - 1800.5, end - 900, 7.25)]
        cases = query_cases(queries, instant_times, ranges)
        if not a.no_api:
            cases += api_cases(start, end)

        runner = Runner(prom, peer, peer_name, a.workers)
        # The harness must not pass on empty answers: the data has to be there.
        probe = runner.ask(runner.pc, Case("probe", "/api/v1/query",
                                           {"query": "count(demo_requests_total)",
                                            "time": fmt_t(end)}))
        if probe.kind != "success" or not probe.data:
            raise Failure(f"Prometheus does not see the backfilled data: {probe.describe()}")
        runner.run(cases)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        for s in servers:
            s.stop()
        sys.exit(1)
    finally:
        for s in servers:
            s.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    st = runner.stats
    report = os.path.abspath("promql_diff_report.txt")
    by_cat = {}
    with open(report, "w") as rep:
        for cat, case, text in runner.mismatches:
            by_cat[cat] = by_cat.get(cat, 0) + 1
            line = f"MISMATCH [{cat}] {describe_case(case)}: {text}"
            print(line)
            rep.write(line + "\n")
        for case, text in runner.notes:
            rep.write(f"NOTE {describe_case(case)}: {text}\n")
    data_share = st["prom_data"] / max(1, st["cases"])
    print(f"SUMMARY {len(queries)} queries, {st['cases']} requests to each server: "
          f"Prometheus answered {st['prom_data']} with data, {st['prom_empty']} empty, "
          f"{st['prom_errors']} errors; {len(runner.mismatches)} mismatches "
          f"{dict(sorted(by_cat.items()))}; {len(runner.notes)} error messages worded "
          f"differently (NOTE lines in {report}); {st['crashes']} crashes of {peer_name}")
    print(f"SUMMARY median request time: Prometheus "
          f"{median(runner.times['prometheus']) * 1e3:.2f} ms, {peer_name} "
          f"{median(runner.times[peer_name]) * 1e3:.2f} ms; "
          f"{time.monotonic() - t_start:.1f} s in all", flush=True)
    if data_share < 0.5:
        print(f"FAIL: only {data_share:.0%} of the requests had data in Prometheus: the test "
              "would prove little", flush=True)
        sys.exit(1)
    if runner.mismatches:
        print(f"FAIL: {len(runner.mismatches)} requests answered differently from "
              "Prometheus 2.42", flush=True)
        sys.exit(1)
    print(f"PASS: {peer_name} answers {st['cases']} requests exactly as Prometheus 2.42",
          flush=True)


if __name__ == "__main__":
    main()
