#!/usr/bin/python3
"""verify_with_prometheus.py — checks the expected values of PromQL test scripts against a real
Prometheus (the v2.42 `prometheus` binary Debian 12 ships), so that no expectation in
tests/promql/scripts/ is a guess.

Run by hand (it is not part of ctest: it starts real Prometheus servers and takes a while):

    tests/promql/scripts/verify_with_prometheus.py tests/promql/scripts/*.test
    tests/promql/scripts/verify_with_prometheus.py --show FILE.test   # print what Prometheus says

For each stretch of a script between `clear`s it starts a fresh Prometheus on 127.0.0.1 (a free
port, a temporary --storage.tsdb.path, --storage.tsdb.retention.time=100y, no scrape jobs),
sends the stretch's loaded samples through Prometheus's remote-write receiver in one request
(remote write, unlike OpenMetrics backfill, carries the exact bits of staleness markers and takes
timestamps near 0 as they are, so no time shift is needed), then asks /api/v1/query for each
eval at its time and compares with the script's expectation by test.go's rules: set comparison
(ordered for eval_ordered), relative epsilon 1e-6, NaN equal to NaN, eval_fail expecting an
error. Like test.go it also asks /api/v1/query_range from t-1m to t+1m with a 1m step and holds
the point at t to the same expectation (skipped for eval_fail; order not checked), so a script
that passes here would pass Prometheus's own runner too (test.go's @-modifier variants aside).
Each server is stopped by its PID. Exit status 0 when every eval agrees, 1 otherwise.

A load that follows evals without a `clear` starts another server holding everything loaded
since the last clear: one remote-write request per server keeps all samples inside the head's
appendable window.

Only the Python standard library is used: the protobuf message and the snappy framing of a
remote-write request are written by hand (snappy with literal blocks only, which every decoder
accepts).
"""
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
EPSILON = 1e-6
MIN_NORMAL = struct.unpack("<d", struct.pack("<Q", 0x0010000000000000))[0]


# ---- the script format (a Python reading of promql/test.go and ParseSeriesDesc) ---------------

class ScriptError(Exception):
    pass


DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
UNIT_MS = [365 * 86400000, 7 * 86400000, 86400000, 3600000, 60000, 1000, 1]


def parse_duration(text):
    if text == "0":
        return 0
    m = DURATION_RE.match(text)
    if not text or not m:
        raise ScriptError("bad duration %r" % text)
    return sum(int(g) * u for g, u in zip(m.groups(), UNIT_MS) if g)


def parse_go_number(text):
    """Go's strconv.ParseInt(s, 0, 64), then ParseFloat(s, 64), for the forms scripts use."""
    try:
        return float(int(text, 0)) if not re.match(r"^[+-]?0\d", text) else float(int(text, 8))
    except ValueError:
        pass
    low = text.lower()
    if low in ("nan",):
        return math.nan
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if re.match(r"^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?$", text):
        return float(text.replace("_", ""))
    raise ValueError(text)


STRING_RE = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(' + STRING_RE + r')\s*(,)?')


def unquote(s):
    if s[0] == "`":
        return s[1:-1]
    body = s[1:-1]
    return bytes(body, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def parse_metric(text):
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?", text)
    name, pos = m.group(1), m.end()
    labels = {}
    if pos < len(text) and text[pos] == "{":
        pos += 1
        while True:
            rest = text[pos:]
            close = re.match(r"\s*\}", rest)
            if close:
                pos += close.end()
                break
            lm = LABEL_RE.match(rest)
            if not lm:
                raise ScriptError("bad label set in %r" % text)
            labels[lm.group(1)] = unquote(lm.group(2))
            pos += lm.end()
            if not lm.group(3) and not re.match(r"\s*\}", text[pos:]):
                raise ScriptError("bad label set in %r" % text)
    elif name is None:
        raise ScriptError("expected a metric in %r" % text)
    if name:
        labels["__name__"] = name
    return labels, text[pos:]


ITEM_RE = re.compile(r"^(?:(_)(?:x(\d+))?|([+-]?(?:[0-9.][0-9.eE+-]*?|[iI][nN][fF]|[nN][aA][nN]|stale))"
                     r"(?:([+-](?:[0-9.][0-9.eE]*|[iI][nN][fF]|[nN][aA][nN]))?x(\d+))?)$")


def parse_signed(text):
    """A series value: the grammar negates the unsigned number after a '-', so "-0" is -0.0."""
    if text[0] in "+-":
        v = parse_go_number(text[1:])
        return -v if text[0] == "-" else v
    return parse_go_number(text)


def parse_values(text):
    values = []  # None = no sample at that step
    for item in text.split():
        m = ITEM_RE.match(item)
        if not m:
            raise ScriptError("bad series value %r" % item)
        blank, blank_times, first, delta, times = m.groups()
        if blank:
            values.extend([None] * (int(blank_times) if blank_times else 1))
            continue
        v = STALE_NAN if first == "stale" else parse_signed(first)
        if times is None:
            values.append(v)
            continue
        d = parse_signed(delta) if delta else 0.0
        for _ in range(int(times) + 1):
            values.append(v)
            v += d
    return values


def parse_series(line):
    labels, rest = parse_metric(line)
    if rest and not rest[0].isspace():
        raise ScriptError("bad series line %r" % line)
    return labels, parse_values(rest)


EVAL_RE = re.compile(r"^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")


def parse_script(path):
    """Returns a list of stretches: each a dict with 'loads' [(step, [(labels, values)])] and
    'evals' [dict(line, mode, t_ms, expr, expected=[(labels, value)] or scalar)]."""
    with open(path, encoding="utf-8") as f:
        lines = [l.strip() for l in f.read().split("\n")]
    lines = ["" if l.startswith("#") else l for l in lines]
    stretches = [{"loads": [], "evals": []}]
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = re.split(r"[\t ]+", line, maxsplit=1)[0].lower()
        here = "%s:%d" % (path, i + 1)
        if word == "clear":
            stretches.append({"loads": [], "evals": []})
            i += 1
        elif word == "load":
            m = re.match(r"^load\s+(.+?)$", line)
            if not m:
                raise ScriptError(here + ": bad load")
            if stretches[-1]["evals"]:
                # The evals so far saw the store without this load: a new server for what
                # follows, with everything loaded since the last clear.
                stretches.append({"loads": list(stretches[-1]["loads"]), "evals": []})
            step = parse_duration(m.group(1))
            series = []
            i += 1
            while i < len(lines) and lines[i]:
                try:
                    series.append(parse_series(lines[i]))
                except ScriptError as e:
                    raise ScriptError("%s:%d: %s" % (path, i + 1, e))
                i += 1
            stretches[-1]["loads"].append((step, series))
        elif word.startswith("eval"):
            m = EVAL_RE.match(line)
            if not m:
                raise ScriptError(here + ": bad eval")
            ev = {"line": i + 1, "mode": m.group(1) or "", "t_ms": parse_duration(m.group(2) or ""),
                  "expr": m.group(3), "expected": [], "scalar": None}
            i += 1
            while i < len(lines) and lines[i]:
                try:
                    ev["scalar"] = parse_go_number(lines[i])
                    i += 1
                    break
                except ValueError:
                    pass
                labels, values = parse_series(lines[i])
                if len(values) != 1:
                    raise ScriptError("%s:%d: an expected series needs one value" % (path, i + 1))
                ev["expected"].append((labels, values[0]))
                i += 1
            stretches[-1]["evals"].append(ev)
        else:
            raise ScriptError(here + ": invalid command %r" % line)
    return [s for s in stretches if s["evals"]]


# ---- remote write by hand ----------------------------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def encode_write_request(series):
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            ts += field_bytes(1, field_bytes(1, name.encode()) + field_bytes(2, labels[name].encode()))
        for t_ms, v in samples:
            sample = varint(1 << 3 | 1) + struct.pack("<d", v) + varint(2 << 3 | 0) + varint(t_ms)
            ts += field_bytes(2, sample)
        out += field_bytes(1, bytes(ts))
    return bytes(out)


def snappy_literal_block(data):
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start:start + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


# ---- a Prometheus server -----------------------------------------------------------------------

class Prometheus:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-promql-verify-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  evaluation_interval: 1m\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--storage.tsdb.retention.time=100y",
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--web.enable-remote-write-receiver"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("prometheus did not start; see its log")
            time.sleep(0.2)

    def write(self, series):
        body = snappy_literal_block(encode_write_request(series))
        req = urllib.request.Request(self.base + "/api/v1/write", data=body, method="POST", headers={
            "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status // 100 != 2:
                raise RuntimeError("remote write: HTTP %d" % r.status)

    def query(self, expr, t_ms):
        q = urllib.parse.urlencode({"query": expr, "time": "%.3f" % (t_ms / 1000)})
        try:
            with urllib.request.urlopen(self.base + "/api/v1/query?" + q, timeout=60) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)

    def query_range(self, expr, start_ms, end_ms, step_s):
        q = urllib.parse.urlencode({"query": expr, "start": "%.3f" % (start_ms / 1000),
                                    "end": "%.3f" % (end_ms / 1000), "step": str(step_s)})
        try:
            with urllib.request.urlopen(self.base + "/api/v1/query_range?" + q, timeout=60) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- comparing ---------------------------------------------------------------------------------

def almost_equal(a, b):
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < MIN_NORMAL:
        return diff < EPSILON * MIN_NORMAL
    return diff / (abs(a) + abs(b)) < EPSILON


def fmt_labels(labels):
    name = labels.get("__name__", "")
    rest = ", ".join('%s=%s' % (k, json.dumps(v)) for k, v in sorted(labels.items()) if k != "__name__")
    return name + ("{%s}" % rest if rest or not name else "")


def check(ev, answer):
    """Differences between what Prometheus answered and what the eval expects."""
    if answer.get("status") != "success":
        return [] if ev["mode"] == "fail" else ["unexpected error: %s" % answer.get("error")]
    if ev["mode"] == "fail":
        return ["expected failure did not happen"]
    data = answer["data"]
    if data["resultType"] == "scalar":
        got = float(data["result"][1])
        if ev["scalar"] is None:
            return ["expected a vector, got scalar %s" % data["result"][1]]
        return [] if almost_equal(ev["scalar"], got) else ["expected scalar %r, got %s" % (ev["scalar"], data["result"][1])]
    if data["resultType"] != "vector":
        return ["unexpected result type %s" % data["resultType"]]
    if ev["scalar"] is not None:
        return ["expected scalar %r, got a vector" % ev["scalar"]]
    problems, seen = [], set()
    expected = {tuple(sorted(l.items())): (v, pos + 1) for pos, (l, v) in enumerate(ev["expected"])}
    for pos, s in enumerate(data["result"]):
        key = tuple(sorted(s["metric"].items()))
        v = float(s["value"][1])
        if key not in expected:
            problems.append("unexpected series %s %s" % (fmt_labels(s["metric"]), s["value"][1]))
            continue
        seen.add(key)
        want, want_pos = expected[key]
        if ev["mode"] == "ordered" and want_pos != pos + 1:
            problems.append("series %s at position %d, expected at %d" % (fmt_labels(s["metric"]), pos + 1, want_pos))
        if not almost_equal(want, v):
            problems.append("value mismatch for %s: expected %r, got %s" % (fmt_labels(s["metric"]), want, s["value"][1]))
    for key, (want, _) in expected.items():
        if key not in seen:
            problems.append("missing series %s %r" % (fmt_labels(dict(key)), want))
    return problems


def range_mode_problems(prom, ev, answer):
    """test.go's second check: the query as a range query from t-1m to t+1m with a 1m step must
    give the instant result at t (not checked for eval_fail, nor for order)."""
    if ev["mode"] == "fail" or answer.get("status") != "success":
        return []
    t = ev["t_ms"]
    ranged = prom.query_range(ev["expr"], t - 60000, t + 60000, 60)
    if ranged.get("status") != "success":
        return ["range query failed: %s" % ranged.get("error")]
    at_t = []
    for s in ranged["data"]["result"]:
        for ts, v in s["values"]:
            if round(float(ts) * 1000) == t:
                at_t.append({"metric": s["metric"], "value": [ts, v]})
                break
    if answer["data"]["resultType"] == "scalar":
        if not at_t:
            return ["range query has no point at the eval's time"]
        as_instant = {"status": "success", "data": {"resultType": "scalar", "result": at_t[0]["value"]}}
    else:
        as_instant = {"status": "success", "data": {"resultType": "vector", "result": at_t}}
    unordered = dict(ev, mode="" if ev["mode"] == "ordered" else ev["mode"])
    return ["in range mode: " + p for p in check(unordered, as_instant)]


def show(ev, answer):
    at = "%ds" % (ev["t_ms"] // 1000) if ev["t_ms"] % 1000 == 0 else "%dms" % ev["t_ms"]
    head = "eval%s instant at %s %s" % ("_" + ev["mode"] if ev["mode"] else "", at, ev["expr"])
    print("# line %d: %s" % (ev["line"], head))
    if answer.get("status") != "success":
        print("#   error: %s" % answer.get("error"))
        return
    data = answer["data"]
    if data["resultType"] == "scalar":
        print("  %s" % data["result"][1])
    elif data["resultType"] == "vector":
        for s in data["result"]:
            print("  %s %s" % (fmt_labels(s["metric"]), s["value"][1]))
    else:
        print("#   %s result" % data["resultType"])


def stretch_series(stretch):
    merged = {}
    for step, series in stretch["loads"]:
        for labels, values in series:
            key = tuple(sorted(labels.items()))
            merged.setdefault(key, (labels, {}))
            for i, v in enumerate(values):
                if v is not None:
                    merged[key][1][i * step] = v
    return [(labels, sorted(samples.items())) for labels, samples in merged.values()]


def main(argv):
    showing = "--show" in argv
    paths = [a for a in argv if a != "--show"]
    if not paths:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    failures = total = 0
    for path in paths:
        try:
            stretches = parse_script(path)
        except ScriptError as e:
            print(e, file=sys.stderr)
            return 2
        for stretch in stretches:
            prom = Prometheus()
            try:
                prom.write(stretch_series(stretch))
                for ev in stretch["evals"]:
                    answer = prom.query(ev["expr"], ev["t_ms"])
                    total += 1
                    if showing:
                        show(ev, answer)
                        continue
                    problems = check(ev, answer) or range_mode_problems(prom, ev, answer)
                    if problems:
                        failures += 1
                        print("%s:%d: %s: %s" % (path, ev["line"], ev["expr"], "; ".join(problems)))
            finally:
                prom.stop()
    if not showing:
        print("%d agree with Prometheus, %d differ" % (total - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
