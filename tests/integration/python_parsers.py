#!/usr/bin/python3
"""python_parsers.py — integration/python_parsers_read_back_exact_values.

    python_parsers.py EXPO_FIXTURE PROMTOOL

Writes a case file (the format is described in expo_fixture.c) with the awkward inputs an
exposition has to carry: label values with quotes, backslashes, newlines, tabs, UTF-8 (é, 日本,
emoji), braces, " # ", the empty string; help texts with backslashes, newlines and quotes;
doubles at the edges (0, 1, 0.1, 1e-300, the largest double, the smallest subnormal, -2.5, NaN,
±Inf, integers on both sides of vigil's 1e15 integer-formatting cut-off) plus random bit patterns;
counters with whole (up to 2^64-1), fractional and infinite totals; histograms with custom
buckets and known observations; a family with constant labels. The fixture serves them; this
script fetches them

  - with Accept: text/plain;version=0.0.4 -> text/plain; version=0.0.4, read by
    prometheus_client.parser (0.0.4 text),
  - with Prometheus 2.42's Accept header -> application/openmetrics-text; version=1.0.0, read by
    prometheus_client.openmetrics.parser (strict OpenMetrics),
  - with no Accept header -> the text format,

and requires every family (type, help, unit) and every sample to come back exactly: doubles
bit for bit (NaN as NaN), whole numbers exactly (in the text format, as the double nearest to
them), every histogram bucket, _count and _sum; no sample missing, unexpected or duplicated;
_created only in OpenMetrics and only for counters and histograms. With Accept-Encoding: gzip
the response must say Content-Encoding: gzip and inflate to the same body; `promtool check
metrics` must pass the text body with no findings. The random part is seeded (printed) so a
failure can be replayed. Exit 0 pass, 1 fail, 77 a peer is missing.
"""
import sys

sys.dont_write_bytecode = True  # nothing of ours may land in the source tree

import gzip
import math
import os
import random
import shutil
import struct
import subprocess
import time
from fractions import Fraction

from integ_common import (PROMETHEUS_ACCEPT, TEXT_ACCEPT, Failure, Fixture, get, import_parsers,
                          media_type, on_signals_exit, skip)

SEED = int(os.environ.get("VIGIL_INTEG_SEED", "20240611"))
INF, NAN = float("inf"), float("nan")


def hexs(s):
    return "x" + s.encode("utf-8").hex()


def dbits(d):
    return struct.pack(">d", d).hex()


def bits(d):
    return struct.unpack(">Q", struct.pack(">d", float(d)))[0]


def exact(values):
    """The exact sum of values (Fraction), or ±inf."""
    if any(math.isinf(v) for v in values):
        return INF
    return sum((Fraction(v) for v in values), Fraction(0))


class Cases:
    """The case file being written, and what every sample should read back as."""

    def __init__(self):
        self.lines = []
        self.families = {}  # family name -> spec

    def family(self, typ, name, help, unit=None, labels=(), const=(), buckets=()):
        base = name[:-6] if typ == "counter" and name.endswith("_total") else name
        self.lines.append(" ".join(
            ["F", typ, hexs(name), "-" if help is None else hexs(help),
             "-" if unit is None else hexs(unit), str(len(labels))] + [hexs(x) for x in labels] +
            [str(len(const))] + [hexs(x) for kv in const for x in kv] +
            [str(len(buckets))] + [dbits(b) for b in buckets]))
        self.families[base] = {"type": typ, "help": help or "", "unit": unit or "",
                               "labels": list(labels), "const": dict(const),
                               "buckets": list(buckets), "children": {}}
        return base

    def _child(self, fam, values):
        spec = self.families[fam]
        key = tuple(values)
        if key not in spec["children"]:
            spec["children"][key] = {"whole": 0, "fracs": [], "value": 0.0, "obs": []}
        return spec["children"][key]

    def _line(self, fam, values, op, args):
        self.lines.append(" ".join(["S", hexs(fam), str(len(values))] +
                                   [hexs(v) for v in values] + [op] + list(args)))

    def gauge(self, fam, values, v):
        self._child(fam, values)["value"] = v
        self._line(fam, values, "set", [dbits(v)])

    def counter_addu(self, fam, values, *ns):
        self._child(fam, values)["whole"] += sum(ns)
        self._line(fam, values, "addu", [str(n) for n in ns])

    def counter_add(self, fam, values, *vs):
        self._child(fam, values)["fracs"].extend(vs)
        self._line(fam, values, "add", [dbits(v) for v in vs])

    def observe(self, fam, values, *vs):
        self._child(fam, values)["obs"].extend(vs)
        self._line(fam, values, "obs" if vs else "none", [dbits(v) for v in vs])

    def touch(self, fam, values):
        self._child(fam, values)
        self._line(fam, values, "none", [])

    def expected(self):
        """{family: {(sample name, sorted label items, le or None): expected value}}.

        Whole numbers are ints (compared exactly), everything else floats (compared by bits)."""
        out = {}
        for fam, spec in self.families.items():
            samples = out.setdefault(fam, {})
            for values, ch in spec["children"].items():
                labels = dict(spec["const"])
                labels.update(zip(spec["labels"], values))
                items = tuple(sorted(labels.items()))
                if spec["type"] == "gauge":
                    samples[(fam, items, None)] = ch["value"]
                elif spec["type"] == "counter":
                    if not ch["fracs"]:
                        v = ch["whole"]
                    else:
                        total = exact([float(ch["whole"])] + ch["fracs"])
                        v = float(total)
                        assert v == total or math.isinf(v), f"case design: {fam}{values} inexact"
                    samples[(fam + "_total", items, None)] = v
                else:
                    obs = ch["obs"]
                    for b in spec["buckets"] + [INF]:
                        samples[(fam + "_bucket", items, b)] = sum(1 for o in obs if o <= b)
                    samples[(fam + "_count", items, None)] = len(obs)
                    total = exact(obs)
                    assert float(total) == total, f"case design: {fam}{values} sum inexact"
                    samples[(fam + "_sum", items, None)] = float(total)
        return out


def build_cases():
    rng = random.Random(SEED)
    c = Cases()

    # --- gauges: the edges of the double, and random bit patterns -----------------------------
    g = c.family("gauge", "integ_values",
                 'Doubles that must survive the trip bit for bit: a backslash \\, a newline\n'
                 'and "quotes", é 日本 🎉.', labels=["case"])
    edges = [0.0, 1.0, 0.1, 1e-300, 1.7976931348623157e308, -1.7976931348623157e308, -2.5, NAN,
             INF, -INF, 5e-324, -5e-324, 2.2250738585072014e-308, 1 / 3, 2 / 3,
             0.30000000000000004, 1e21, 1e22, 1.5e-7, -1e-300, 4.35, 100.0, -0.5,
             123456789012345.0, 999999999999999.0, -999999999999999.0, 1e15, 1e15 + 1, 1e16,
             2.0 ** 53, 2.0 ** 53 + 2, -(2.0 ** 63), 2.0 ** 64, 1e300, 0.5e-323,
             9.999999999999999e22, 1.7976931348623155e308]
    randoms = []
    for _ in range(60):  # any bit pattern: subnormals, huge exponents, NaN payloads, negatives
        randoms.append(struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0])
    for _ in range(20):
        randoms.append(rng.uniform(-1e6, 1e6))
    for _ in range(10):
        randoms.append(float(rng.randrange(-10 ** 15, 10 ** 15)))
    for i, v in enumerate(edges + randoms):
        c.gauge(g, [str(i)], v)

    # --- label values that need escaping or are merely unusual --------------------------------
    tricky = ["", "plain", 'with "quotes"', "back\\slash", "trailing backslash\\", '\\"', "\\n",
              "new\nline", "\n", "\n\n", "é", "日本", "🎉 party", 'mixed "é"\\\n日本🎉',
              "comma,and=equals", "{braces}", "}", " # not an exemplar # ", "tab\there",
              "  spaces around  ", "\\\\", '"', "''", "x" * 300, "NaN", "+Inf", "le",
              "Ω≈ç√∫ 𝄞"]
    t = c.family("gauge", "integ_label_text",
                 "Label values with every character the formats escape, and some they do not: "
                 'backslash \\ newline \n quote " and a literal \\n.',
                 labels=["text", "other"])
    for i, s in enumerate(tricky):
        c.gauge(t, [s, tricky[(i + 7) % len(tricky)]], float(i) + 0.5)

    # --- a family with constant labels ----------------------------------------------------------
    p = c.family("gauge", "integ_pinned", 'Constant labels with "awkward" values\\ too.',
                 labels=["shard"], const=[("env", 'pro"d\\\n'), ("zone", "日本 🎌")])
    c.gauge(p, ["a"], 1.5)
    c.gauge(p, ["é"], -2.5)
    c.gauge(p, [""], 0.0)

    # --- counters -------------------------------------------------------------------------------
    ev = c.family("counter", "integ_events_total",
                  "Whole-number counters, up to 2^64-1.\nSecond line with a \\ backslash.",
                  labels=["kind"])
    c.touch(ev, ["zero"])
    c.counter_addu(ev, ["one"], 1)
    c.counter_addu(ev, ["thousand"], *([1] * 1000))
    c.counter_addu(ev, ["big"], 12345678901234567)
    c.counter_addu(ev, ["u64_max"], 2 ** 64 - 1)
    c.counter_addu(ev, ["above_2_53"], 2 ** 53 + 1)
    c.counter_addu(ev, ["mixed"], 3)
    c.counter_add(ev, ["mixed"], 0.5)
    c.counter_add(ev, ["whole_via_add"], 2.0, 5.0)

    fr = c.family("counter", "integ_fraction",
                  'Fractional totals; the name was registered without "_total".',
                  labels=["kind"])
    c.counter_add(fr, ["tenth"], 0.1)
    c.counter_add(fr, ["eighths"], 0.25, 0.5, 0.125)
    c.counter_add(fr, ["tiny"], 1e-300)
    c.counter_add(fr, ["largest"], 1.7976931348623157e308)
    c.counter_add(fr, ["inf"], INF)
    c.counter_add(fr, ["third"], 1 / 3)
    c.counter_addu(fr, ["2_51_and_a_half"], 2 ** 51)
    c.counter_add(fr, ["2_51_and_a_half"], 0.5)

    rq = c.family("counter", "integ_requests_total", "An unlabelled counter.")
    c.counter_addu(rq, [], 42)

    # --- histograms ------------------------------------------------------------------------------
    # Observations are dyadic, so the sum is exact whatever order the library adds them in; some
    # sit exactly on a bound (le is "less than or equal").
    lat = c.family("histogram", "integ_latency_seconds",
                   'Custom buckets; observations on the bounds count in them.\n"seconds"',
                   unit="seconds", buckets=[0.25, 0.5, 1, 2.5, 10, 100, 1e6])
    c.observe(lat, [], 0.0, 0.25, 0.5, 0.125, 2.5, 3.0, 7.75, 1e6, 2e6, 0.5, 99.5)

    pay = c.family("histogram", "integ_payload_bytes",
                   "Bounds whose canonical text is unusual (1e-05, 1.234567e+06, 1e+21).",
                   unit="bytes", labels=["route"],
                   buckets=[1e-05, 0.005, 0.1, 1, 2.5, 1234567, 1e21])
    c.observe(pay, ['/a"b\\c'], 2.0 ** -17, 2.0 ** -8, 0.0625, 1.0, 1.0, 3.0, 1234567.0,
              2.0 ** 30)
    c.observe(pay, ["日本"])  # a child with no observations
    c.observe(pay, [""], 5e21)
    return c


def sample_key(s, fam_type):
    labels = dict(s.labels)
    le = None
    if fam_type == "histogram" and s.name.endswith("_bucket"):
        le = labels.pop("le", None)
    return s.name, tuple(sorted(labels.items())), le


def same(expected, got, fmt):
    """Whether parsed value got is what was asked for."""
    if isinstance(expected, int):
        if fmt == "openmetrics":  # the parser keeps integers as ints: exact
            return not (isinstance(got, float) and not got.is_integer()) and \
                Fraction(got) == expected
        return isinstance(got, float) and bits(got) == bits(float(expected))
    if math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    return bits(got) == bits(expected)


def check_body(body, fmt, parse, expected, cases, float_to_go, t0, t1, errors):
    """Parses a body with the parser for fmt and compares with expected; appends to errors."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(f"[{fmt}] body is not valid UTF-8: {e}")
        return
    try:
        families = list(parse(text))
    except Exception as e:  # the parser's errors are plain ValueErrors and friends
        errors.append(f"[{fmt}] the parser refused the body: {type(e).__name__}: {e}")
        return
    seen = {}
    counts = {}
    extra_families = []
    for mf in families:
        spec = cases.families.get(mf.name)
        if spec is None:
            if mf.name.startswith("vigil_"):
                extra_families.append(f"{mf.name}({len(mf.samples)} samples)")
            else:
                errors.append(f"[{fmt}] unexpected family {mf.name!r} ({mf.type})")
            continue
        if mf.type != spec["type"]:
            errors.append(f"[{fmt}] {mf.name}: type {mf.type!r}, want {spec['type']!r}")
        if mf.documentation != spec["help"]:
            errors.append(f"[{fmt}] {mf.name}: help {mf.documentation!r}, want {spec['help']!r}")
        if fmt == "openmetrics" and mf.unit != spec["unit"]:
            errors.append(f"[{fmt}] {mf.name}: unit {mf.unit!r}, want {spec['unit']!r}")
        for s in mf.samples:
            if s.name == mf.name + "_created":
                if fmt != "openmetrics" or spec["type"] == "gauge":
                    errors.append(f"[{fmt}] {s.name}{s.labels}: _created has no place here")
                elif not (t0 - 5 <= s.value <= t1 + 5):
                    errors.append(f"[{fmt}] {s.name}{s.labels} = {s.value!r}: not a Unix time "
                                  f"from this run ({t0:.0f}..{t1:.0f})")
                continue
            k = sample_key(s, spec["type"])
            if k[2] is not None:
                le_text = k[2]
                le = float(le_text)
                if fmt == "openmetrics" and le_text != float_to_go(le):
                    errors.append(f"[{fmt}] {s.name}{s.labels}: le={le_text!r} is not the "
                                  f"canonical {float_to_go(le)!r}")
                k = (k[0], k[1], le)
            counts[k] = counts.get(k, 0) + 1
            seen[k] = s.value
    for fam, samples in expected.items():
        for k, want in samples.items():
            name, items, le = k
            shown = [f"{a}={b!r}" for a, b in items] + ([f"le={le!r}"] if le is not None else [])
            where = f"[{fmt}] {name}{{{', '.join(shown)}}}"
            if k not in seen:
                errors.append(f"{where}: missing")
                continue
            if counts[k] != 1:
                errors.append(f"{where}: appears {counts[k]} times")
            got = seen[k]
            if not same(want, got, fmt):
                errors.append(f"{where}: got {got!r} (bits {bits(got):016x}), "
                              f"want {want!r} (bits {bits(want):016x})")
    wanted = {k for samples in expected.values() for k in samples}
    for k in seen:
        if k not in wanted:
            errors.append(f"[{fmt}] unexpected sample {k!r} = {seen[k]!r}")
    print(f"[{fmt}] {len(families)} families, {sum(counts.values())} samples compared; "
          f"library self-metric families: {', '.join(extra_families) or 'none'}")


def strip_self(text):
    """The body without lines of vigil_* self-metric families (which may change per scrape)."""
    keep = []
    for line in text.splitlines():
        words = line.split(" ")
        name = words[2] if line.startswith("# ") and len(words) > 2 else line
        if not name.startswith("vigil_"):
            keep.append(line)
    return "\n".join(keep)


def fetch(url, accept, want_type, want_version, errors, label, gz=False):
    headers = {}
    if accept is not None:
        headers["Accept"] = accept
    if gz:
        headers["Accept-Encoding"] = "gzip"
    status, hdrs, body = get(url, headers)
    if status != 200:
        raise Failure(f"{label}: HTTP {status}, want 200; body {body[:300]!r}")
    mt, params = media_type(hdrs.get("content-type"))
    if mt != want_type or params.get("version") != want_version:
        errors.append(f"{label}: Content-Type {hdrs.get('content-type')!r}, want {want_type}; "
                      f"version={want_version}")
    enc = hdrs.get("content-encoding")
    if gz:
        if (enc or "").lower() != "gzip":
            errors.append(f"{label}: Content-Encoding {enc!r}, want 'gzip'")
            return body
        try:
            return gzip.decompress(body)
        except (OSError, EOFError) as e:
            errors.append(f"{label}: gzip body does not inflate: {e}")
            return b""
    if enc not in (None, "identity"):
        errors.append(f"{label}: Content-Encoding {enc!r} though the request allowed only "
                      "identity")
    return body


def main():
    on_signals_exit()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    fixture_bin, promtool = sys.argv[1], sys.argv[2]
    parse_text, parse_om, float_to_go = import_parsers()
    promtool = shutil.which(promtool)
    if promtool is None:
        skip("promtool not found (Debian: prometheus)")

    print(f"seed {SEED} (VIGIL_INTEG_SEED replays another)")
    cases = build_cases()
    expected = cases.expected()
    with open("cases.txt", "w") as f:
        f.write("\n".join(cases.lines) + "\n")

    t0 = time.time()
    fx = Fixture([fixture_bin, os.path.abspath("cases.txt")], "expo_fixture")
    url = fx.url()
    print(f"fixture serves {url}")
    errors = []

    text = fetch(url, TEXT_ACCEPT, "text/plain", "0.0.4", errors, "Accept: text/plain 0.0.4")
    om = fetch(url, PROMETHEUS_ACCEPT, "application/openmetrics-text", "1.0.0", errors,
               "Accept: Prometheus 2.42")
    default = fetch(url, None, "text/plain", "0.0.4", errors, "no Accept header")
    text_gz = fetch(url, TEXT_ACCEPT, "text/plain", "0.0.4", errors, "text + gzip", gz=True)
    om_gz = fetch(url, PROMETHEUS_ACCEPT, "application/openmetrics-text", "1.0.0", errors,
                  "OpenMetrics + gzip", gz=True)
    t1 = time.time()
    with open("scrape.txt", "wb") as f:
        f.write(text)
    with open("scrape.om.txt", "wb") as f:
        f.write(om)

    check_body(text, "text", parse_text, expected, cases, float_to_go, t0, t1, errors)
    check_body(om, "openmetrics", parse_om, expected, cases, float_to_go, t0, t1, errors)

    for label, a, b in (("no Accept header vs text", text, default),
                        ("gzip vs identity (text)", text, text_gz),
                        ("gzip vs identity (OpenMetrics)", om, om_gz)):
        if a == b:
            continue
        sa, sb = strip_self(a.decode("utf-8", "replace")), strip_self(b.decode("utf-8", "replace"))
        if sa == sb:
            print(f"note: {label}: bodies differ only in vigil_* self-metric lines")
        else:
            la, lb = sa.splitlines(), sb.splitlines()
            first = next((i for i in range(min(len(la), len(lb))) if la[i] != lb[i]),
                         min(len(la), len(lb)))
            errors.append(f"{label}: bodies differ ({len(a)} vs {len(b)} bytes); first "
                          f"difference at line {first + 1}: "
                          f"{la[first] if first < len(la) else '<end>'!r} vs "
                          f"{lb[first] if first < len(lb) else '<end>'!r}")
    print(f"gzip: text {len(text)} -> {len(text_gz)} bytes inflated, "
          f"OpenMetrics {len(om)} -> {len(om_gz)} bytes inflated")

    pt = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                        timeout=30)
    findings = (pt.stdout + pt.stderr).decode("utf-8", "replace").strip()
    if pt.returncode != 0 or findings:
        errors.append(f"promtool check metrics: exit {pt.returncode}, output:\n{findings}")
    else:
        print("promtool check metrics: clean")

    rc = fx.stop()
    if rc != 0:
        errors.append(f"the fixture exited with status {rc} after stdin closed, want 0"
                      f"{fx.stderr_tail()}")

    if errors:
        print(f"FAIL: {len(errors)} problem(s) (bodies in {os.getcwd()}/scrape*.txt):")
        for e in errors[:200]:
            print("  " + e)
        if len(errors) > 200:
            print(f"  ... and {len(errors) - 200} more")
        return 1
    n = sum(len(s) for s in expected.values())
    print(f"PASS: {n} samples in {len(expected)} families read back exactly by both parsers")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
