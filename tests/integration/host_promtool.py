#!/usr/bin/python3
"""host_promtool.py — integration/promtool_flags_only_node_exporter_names_in_host_metrics.

    host_promtool.py HOST_FIXTURE PROMTOOL

Scrapes the host fixture (vigil's process and host collectors, defaults) in the 0.0.4 text
format and runs `promtool check metrics` on the body. node_exporter's own names such as
node_memory_MemAvailable_bytes or node_netstat_Tcp_InSegs are camelCase, and promtool's lint
says so; users' dashboards depend on those names, so they are kept. The test accepts exactly
those findings:

    node_memory_<...> metric names should be written in 'snake_case' not 'camelCase'
    node_netstat_<...> metric names should be written in 'snake_case' not 'camelCase'

and nothing else: any other line fails the test, as does an exit status other than 0 (no
findings) or 3 (lint findings only). The body and promtool's output are left in the working
directory. Exit 0 pass, 1 fail, 77 promtool is missing.
"""
import sys

sys.dont_write_bytecode = True  # nothing of ours may land in the source tree

import os
import re
import shutil
import subprocess

from integ_common import TEXT_ACCEPT, Failure, Fixture, get, on_signals_exit, skip

ACCEPTED = re.compile(r"^node_(memory|netstat)_[A-Za-z0-9_]+ metric names should be written in "
                      r"'snake_case' not 'camelCase'$")


def main():
    on_signals_exit()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    fixture_bin, promtool = sys.argv[1], shutil.which(sys.argv[2])
    if promtool is None:
        skip(f"promtool ({sys.argv[2]}) not found (Debian: prometheus)")
    fx = Fixture([fixture_bin], "host_fixture")
    url = fx.url()
    status, _, body = get(url, {"Accept": TEXT_ACCEPT})
    rc = fx.stop()
    if status != 200:
        raise Failure(f"GET {url}: HTTP {status}")
    if rc != 0:
        raise Failure(f"the fixture exited with status {rc}{fx.stderr_tail()}")
    with open("scrape.txt", "wb") as f:
        f.write(body)
    if b"\nnode_cpu_seconds_total{" not in body or b"\nnode_memory_MemTotal_bytes " not in body:
        raise Failure("the body has no host metrics (see scrape.txt)")

    pt = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                        timeout=60)
    out = (pt.stdout + pt.stderr).decode("utf-8", "replace")
    with open("promtool.out", "w") as f:
        f.write(out)
    lines = [l for l in out.splitlines() if l.strip()]
    accepted = [l for l in lines if ACCEPTED.match(l)]
    other = [l for l in lines if not ACCEPTED.match(l)]
    print(f"{len(body)} bytes scraped; promtool exit {pt.returncode}, {len(accepted)} accepted "
          f"finding(s) for node_exporter's camelCase names, {len(other)} other line(s)")
    if other or pt.returncode not in (0, 3) or (pt.returncode == 3) != bool(accepted):
        print("FAIL: promtool check metrics reported more than node_exporter's names:")
        for l in other[:50]:
            print("  " + l)
        return 1
    for l in accepted[:5]:
        print("  accepted: " + l)
    print("PASS: the only lint findings are node_exporter's own node_memory_*/node_netstat_* "
          "names")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
