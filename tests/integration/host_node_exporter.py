#!/usr/bin/python3
"""host_node_exporter.py — integration/host_metrics_agree_with_node_exporter.

    host_node_exporter.py HOST_FIXTURE NODE_EXPORTER

Starts the host fixture (vigil's process and host collectors with their defaults, served on
127.0.0.1) and the real node_exporter from Debian (prometheus-node-exporter 1.5) on a free
127.0.0.1 port with the collectors vigil mirrors (cpu, meminfo, filesystem, diskstats, netdev,
loadavg, stat), then scrapes them back to back: vigil, node_exporter, vigil. For every family
vigil implements (FAMILIES below, and every node_memory_* family):

  - the family exists on both sides or on neither, with the same TYPE and the same HELP text;
  - the set of label sets is the same (so the same CPUs and modes, mount points, disks and
    network devices survive the same default exclusions);
  - constants are equal to the bit: MemTotal, SwapTotal, Hugepagesize, VmallocTotal, boot time,
    filesystem sizes, read-only flags and device errors, disk info;
  - counters lie between the two vigil scrapes: v1 - eps <= node_exporter <= v2 + eps. The kernel
    counters only grow, and the three scrapes are strictly one after another, so eps is 0 for
    integer counters (network bytes and packets, context switches, interrupts, forks, disk I/O).
    For CPU seconds both sides also clamp a counter that Linux lets go back (iowait) to its
    highest value, but each from its own history: node_exporter starts fresh for this test, so
    its first value can sit below vigil's clamped one by the size of such a dip, a few ticks.
    eps = 0.05 s (5 ticks of USER_HZ) covers that and nothing else.

Devices can come and go between scrapes (a container starting adds a veth), so the three scrapes
are tried up to three times; the last attempt's problems are reported. The bodies are left in
the working directory. Exit 0 pass, 1 fail, 77 node_exporter or prometheus_client is missing.
"""
import sys

sys.dont_write_bytecode = True  # nothing of ours may land in the source tree

import atexit
import os
import socket
import subprocess
import time

from integ_common import TEXT_ACCEPT, Failure, Fixture, get, import_parsers, on_signals_exit, skip

NODE_COLLECTORS = ("cpu", "meminfo", "filesystem", "diskstats", "netdev", "loadavg", "stat")

# Family names as prometheus_client reports them (a counter's without "_total").
FILESYSTEM = ["node_filesystem_" + s for s in ("avail_bytes", "device_error", "files",
                                                 "files_free", "free_bytes", "readonly",
                                                 "size_bytes")]
DISK_COUNTERS = ["node_disk_" + s for s in (
    "reads_completed", "reads_merged", "read_bytes", "read_time_seconds", "writes_completed",
    "writes_merged", "written_bytes", "write_time_seconds", "io_time_seconds",
    "io_time_weighted_seconds", "discards_completed", "discards_merged", "discarded_sectors",
    "discard_time_seconds", "flush_requests", "flush_requests_time_seconds")]
NET_COUNTERS = ["node_network_%s_%s" % (d, s)
                for d, fields in (("receive", ("bytes", "packets", "errs", "drop", "fifo",
                                               "frame", "compressed", "multicast")),
                                  ("transmit", ("bytes", "packets", "errs", "drop", "fifo",
                                                "colls", "carrier", "compressed")))
                for s in fields]
CPU_COUNTERS = ["node_cpu_seconds", "node_cpu_guest_seconds"]
STAT_COUNTERS = ["node_context_switches", "node_intr", "node_forks"]
FAMILIES = set(FILESYSTEM + DISK_COUNTERS + NET_COUNTERS + CPU_COUNTERS + STAT_COUNTERS + [
    "node_disk_info", "node_disk_io_now", "node_boot_time_seconds", "node_procs_running",
    "node_procs_blocked", "node_load1", "node_load5", "node_load15"])
# Must be there on any Linux machine (the rest depends on its disks and interfaces).
REQUIRED = ["node_cpu_seconds", "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes",
            "node_boot_time_seconds", "node_context_switches", "node_intr", "node_load1"]
CONSTANT_FAMILIES = ["node_filesystem_size_bytes", "node_filesystem_readonly",
                     "node_filesystem_device_error", "node_disk_info", "node_boot_time_seconds",
                     "node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes",
                     "node_memory_Hugepagesize_bytes", "node_memory_VmallocTotal_bytes"]
CPU_EPS = 0.05


def covered(name):
    return name in FAMILIES or name.startswith("node_memory_")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeExporter:
    """node_exporter on 127.0.0.1:<free port>; stopped by its PID at exit."""

    def __init__(self, path):
        self.proc = None
        self.err = open(os.path.abspath("node_exporter.err"), "wb")
        atexit.register(self.stop)
        for attempt in range(5):  # the port may be taken between bind() and node_exporter's
            self.port = free_port()
            argv = [path, f"--web.listen-address=127.0.0.1:{self.port}",
                    "--collector.disable-defaults"] + [f"--collector.{c}" for c in NODE_COLLECTORS]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=self.err)
            self.url = f"http://127.0.0.1:{self.port}/metrics"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    status, _, _ = get(self.url, timeout=2)
                    if status == 200:
                        print(f"node_exporter (pid {self.proc.pid}) serves {self.url}")
                        return
                except OSError:
                    pass
                time.sleep(0.1)
            self.stop()
        raise Failure("node_exporter did not start (see node_exporter.err)")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def scrape(url, name, parse_text):
    status, headers, body = get(url, {"Accept": TEXT_ACCEPT}, timeout=20)
    if status != 200:
        raise Failure(f"{name}: GET {url} gave HTTP {status}")
    with open(f"{name}.txt", "wb") as f:
        f.write(body)
    fams = {}
    for fam in parse_text(body.decode("utf-8")):
        if not covered(fam.name):
            continue
        samples = {}
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                raise Failure(f"{name}: series {key} appears twice")
            samples[key] = s.value
        fams[fam.name] = {"type": fam.type, "help": fam.documentation, "samples": samples}
    return fams


def fmt(key):
    name, labels = key
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")


def compare(v1, ne, v2):
    problems = []
    names = set(v1) | set(ne)
    for n in REQUIRED:
        if n not in v1:
            problems.append(f"vigil has no {n}")
        if n not in ne:
            problems.append(f"node_exporter has no {n}")
    checked_values = 0
    for name in sorted(names):
        if name not in v1:
            problems.append(f"{name}: node_exporter has it, vigil does not")
            continue
        if name not in ne:
            problems.append(f"{name}: vigil has it, node_exporter does not")
            continue
        a, b, c = v1[name], ne[name], v2.get(name)
        if a["type"] != b["type"]:
            problems.append(f"{name}: TYPE {a['type']} in vigil, {b['type']} in node_exporter")
        if a["help"] != b["help"]:
            problems.append(f"{name}: HELP {a['help']!r} in vigil, {b['help']!r} in "
                            "node_exporter")
        ka, kb = set(a["samples"]), set(b["samples"])
        if ka != kb:
            only_v = sorted(fmt(k) for k in ka - kb)[:10]
            only_n = sorted(fmt(k) for k in kb - ka)[:10]
            problems.append(f"{name}: series differ; only in vigil: {only_v}; only in "
                            f"node_exporter: {only_n}")
            continue
        if c is None or set(c["samples"]) != ka:
            problems.append(f"{name}: the second vigil scrape has other series")
            continue
        is_counter = a["type"] == "counter"
        constant = name in CONSTANT_FAMILIES
        if not (is_counter or constant):
            continue  # gauges that move (free memory, load) are compared by presence only
        eps = CPU_EPS if name in CPU_COUNTERS else 0.0
        for key in sorted(ka):
            lo, mid, hi = a["samples"][key], b["samples"][key], c["samples"][key]
            checked_values += 1
            if constant:
                if not (lo == mid == hi):
                    problems.append(f"{fmt(key)}: constant differs: vigil {lo!r}, "
                                    f"node_exporter {mid!r}, vigil again {hi!r}")
            elif key[0].endswith("_created"):
                continue
            elif not (lo - eps <= mid <= hi + eps):
                problems.append(f"{fmt(key)}: node_exporter {mid!r} is not between vigil's "
                                f"{lo!r} and {hi!r} (eps {eps})")
    return problems, len(names), checked_values


def main():
    on_signals_exit()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    fixture_bin, node_exporter = sys.argv[1], sys.argv[2]
    if not os.access(node_exporter, os.X_OK):
        skip(f"{node_exporter} not found (Debian: prometheus-node-exporter)")
    parse_text, _, _ = import_parsers()

    ne = NodeExporter(node_exporter)
    fx = Fixture([fixture_bin], "host_fixture")
    vurl = fx.url()
    print(f"vigil serves {vurl}")

    problems = []
    for attempt in range(1, 4):
        v1 = scrape(vurl, "vigil1", parse_text)
        n = scrape(ne.url, "node_exporter", parse_text)
        v2 = scrape(vurl, "vigil2", parse_text)
        problems, nfam, nval = compare(v1, n, v2)
        if not problems:
            nseries = sum(len(f["samples"]) for f in n.values())
            print(f"PASS: {nfam} families, {nseries} series: same names, types, help texts and "
                  f"label sets; {nval} constants and counters agree (attempt {attempt})")
            break
        print(f"attempt {attempt}: {len(problems)} problem(s)")
        time.sleep(1)
    ne.stop()
    rc = fx.stop()
    if rc != 0:
        problems.append(f"the fixture exited with status {rc}{fx.stderr_tail()}")
    if problems:
        print(f"FAIL: {len(problems)} problem(s) (bodies in {os.getcwd()}):")
        for p in problems[:100]:
            print("  " + p)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
