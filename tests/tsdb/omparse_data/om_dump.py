#!/usr/bin/python3
"""Dump an OpenMetrics file as prometheus_client's parser reads it, in the line format that
tests/tsdb/test_omparse.c writes from vigil's parser, so the two can be compared byte for byte.

  M TYPE|HELP|UNIT <family name> <hex of the text>
  S <hex of sample name> <label count> [<hex name>=<hex value> ...] <value> <ms>

The value is the hex of the IEEE-754 bits (big endian) or "nan"; ms is the timestamp converted the
way Prometheus's textparse does it: int64(float64(ts) * 1000), truncated toward zero.
Usage: om_dump.py FILE > DUMP
"""
import struct
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.samples import Timestamp


def hx(s):
    return s.encode("utf-8").hex() or "-"


def value(v):
    f = float(v)
    if f != f:
        return "nan"
    return struct.pack(">d", f).hex()


def ms(ts):
    if isinstance(ts, Timestamp):
        text = "%d.%09d" % (ts.sec, ts.nsec)  # the exact decimal the file held (<= 9 digits)
        return int(float(text) * 1000)
    return int(float(ts) * 1000)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    out = []
    for fam in text_string_to_metric_families(text):
        out.append("M TYPE %s %s" % (fam.name, hx(fam.type)))
        out.append("M HELP %s %s" % (fam.name, hx(fam.documentation)))
        if fam.unit:
            out.append("M UNIT %s %s" % (fam.name, hx(fam.unit)))
        for s in fam.samples:
            labels = " ".join("%s=%s" % (hx(k), hx(v)) for k, v in s.labels.items())
            out.append("S %s %d %s %s %d" % (hx(s.name), len(s.labels), labels or "-",
                                             value(s.value), ms(s.timestamp)))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
