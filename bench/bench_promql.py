#!/usr/bin/python3
"""bench_promql.py — vigil's PromQL engine and HTTP API against Prometheus 2.42, side by side.

    build/bench/bench_promql                    (configured copy: no arguments needed)
    bench_promql.py --vigil PATH [--reps N] [--prometheus BIN] [--promtool BIN]
                    [--gen-series PATH] [--dataset FILE]

The default gen_series.py dataset (996 series, one day at 15 s; shared with bench_tsdb through
$TMPDIR/vigil-bench-gen_series-default.om or VIGIL_BENCH_DATASET) is loaded once into each
side: backfilled into Prometheus with `promtool tsdb create-blocks-from openmetrics` (the blocks
are cached in $TMPDIR after Prometheus has compacted them once, as a running Prometheus would
have), imported into vigil with `vigil tsdb import` (every run). Then `prometheus` and
`vigil serve` run on free 127.0.0.1 ports and the dashboard queries of the issue go through both
HTTP APIs (GET, keep-alive, the whole JSON body read), interleaved: one warm-up round, then
--reps rounds (default 7) in which each query is asked of both servers back to back, which one
first alternating round by round. For each query:

    BENCH promql_<short>_ms       <vigil median> ms
    BENCH promql_<short>_prom_ms  <Prometheus median> ms
    BENCH promql_<short>_vs_prom  <Prometheus median / vigil median> x

Before timing, the two answers to each query are compared as the differential test does
(tests/integration/promql_diff.py): a query whose answers differ gets no BENCH lines (a
benchmark of a wrong answer is worthless), a MISMATCH line instead, and the program exits 1.
Without prometheus or promtool it says so and exits 0 with no figures. A few minutes.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Filled in by CMake when the script is configured into the build tree; left as they are when
# it runs from the source tree (then --vigil is needed).
CONFIGURED_VIGIL = "$<TARGET_FILE:vigil-cli>"
CONFIGURED_SOURCE_DIR = "@PROJECT_SOURCE_DIR@"
CONFIGURED_GEN_SERIES = "@VIGIL_BENCH_GEN_SERIES@"


def configured(value):
    # ("$" "<" is split so that CMake's file(GENERATE) does not read it as an expression.)
    return None if value.startswith(("$" "<", "@")) else value


SOURCE_DIR = configured(CONFIGURED_SOURCE_DIR) or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import promql_diff as pd  # noqa: E402  (the servers, the HTTP client and the comparator)

DAY = 86400
# (short name, query, kind, step in seconds or None for an instant query at the end)
QUERIES = [
    ("sum_rate", "sum(rate(demo_requests_total[5m]))", 60),
    ("sum_by_method_rate", "sum by (method) (rate(demo_requests_total[5m]))", 60),
    ("histogram_p99", "histogram_quantile(0.99, sum by (le) "
                      "(rate(demo_request_duration_seconds_bucket[5m])))", 60),
    ("avg_over_time_1h", "avg_over_time(demo_temperature_celsius[1h])", 300),
    ("topk_rate", "topk(5, rate(demo_requests_total[5m]))", None),
    ("sum_by_instance", "sum by (instance) (demo_temperature_celsius)", None),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tmpdir():
    return os.environ.get("TMPDIR") or "/tmp"


def dataset_path(gen_series):
    given = os.environ.get("VIGIL_BENCH_DATASET")
    if given:
        return given
    path = os.path.join(tmpdir(), "vigil-bench-gen_series-default.om")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return path
    if not gen_series or not os.path.isfile(gen_series):
        raise pd.Failure(f"no dataset at {path} and no gen_series.py ({gen_series})")
    log(f"bench_promql: generating the default dataset into {path}")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        subprocess.run([sys.executable, gen_series], stdout=f, check=True)
    os.replace(tmp, path)
    return path


def data_span(path):
    """(first, last) sample time in seconds, from the first and last sample lines (gen_series.py
    writes the first counter's first scrape first and the last histogram's last scrape last)."""
    def ts(line):
        return float(line.split()[-1])
    with open(path, "rb") as f:
        head = f.read(65536).decode("utf-8", "replace").splitlines()
        f.seek(max(0, os.path.getsize(path) - 65536))
        tail = f.read().decode("utf-8", "replace").splitlines()
    first = next(ts(l) for l in head if l and not l.startswith("#"))
    last = next(ts(l) for l in reversed(tail) if l and not l.startswith("#"))
    return first, last


def prometheus_blocks(promtool, prometheus, dataset, config):
    """A directory of Prometheus blocks for the dataset, compacted, cached in $TMPDIR by the
    dataset's size and time."""
    st = os.stat(dataset)
    cache = os.path.join(tmpdir(), f"vigil-bench-promql-prometheus-{st.st_size}-"
                                   f"{int(st.st_mtime)}")
    if os.path.isfile(os.path.join(cache, ".complete")):
        return cache
    shutil.rmtree(cache, ignore_errors=True)
    t0 = time.monotonic()
    pd.run_checked([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", dataset,
                    cache], "promtool tsdb create-blocks-from openmetrics")
    log(f"bench_promql: promtool backfilled the dataset in {time.monotonic() - t0:.1f} s; "
        "letting Prometheus compact the blocks once (about 1-2 minutes, cached afterwards)")
    srv = pd.start_with_free_port(lambda p: pd.prometheus_server(prometheus, config, cache, p))
    try:
        # Prometheus compacts on its one-minute tick; done when the block set stops changing.
        start = time.monotonic()
        last, stable_since = None, time.monotonic()
        while time.monotonic() - start < 300:
            blocks = sorted(d for d in os.listdir(cache)
                            if os.path.isfile(os.path.join(cache, d, "meta.json")))
            busy = any(d.endswith(".tmp-for-creation") for d in os.listdir(cache))
            if blocks != last or busy:
                last, stable_since = blocks, time.monotonic()
            elif time.monotonic() - start > 75 and time.monotonic() - stable_since > 15:
                break
            time.sleep(1)
        log(f"bench_promql: {len(last)} blocks after compaction")
    finally:
        srv.stop()
    open(os.path.join(cache, ".complete"), "w").close()
    return cache


def timed(client, case):
    st, ct, body, dt = client.request(case.path, case.params)
    return pd.Answer(st, ct, body, dt), dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vigil", default=configured(CONFIGURED_VIGIL))
    ap.add_argument("--prometheus", default="prometheus")
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--gen-series", default=configured(CONFIGURED_GEN_SERIES) or os.path.join(
        SOURCE_DIR, "..", "shared", "datasets", "gen_series.py"))
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--peer", choices=("vigil", "prometheus"), default="vigil",
                    help="prometheus: time a second Prometheus in vigil's place (checks the "
                         "harness; the ratio should be about 1)")
    a = ap.parse_args()
    pd.REQUEST_TIMEOUT = 300  # a day of data at 60 s steps; the slowest side must still finish
    for tool in (a.prometheus, a.promtool):
        if shutil.which(tool) is None:
            print(f"bench_promql: {tool} not found (Debian: apt-get install prometheus); "
                  "no figures", flush=True)
            return 0
    if not a.vigil:
        ap.error("--vigil is needed when the script runs from the source tree")
    if a.reps < 5:
        ap.error("--reps must be at least 5")

    work = tempfile.mkdtemp(prefix="vigil-bench-promql-")
    servers = []
    wrong = 0
    try:
        os.chdir(work)  # the servers' logs go here
        config = os.path.join(work, "prometheus.yml")
        pd.write_prometheus_config(config)
        dataset = dataset_path(a.gen_series)
        first, last = data_span(dataset)
        blocks = prometheus_blocks(a.promtool, a.prometheus, dataset, config)
        pdata = os.path.join(work, "prometheus-data")
        shutil.copytree(blocks, pdata)
        vdata = os.path.join(work, "vigil-data")
        if a.peer == "vigil":
            t0 = time.monotonic()
            out = pd.run_checked([a.vigil, "tsdb", "import", dataset, "--data-dir", vdata],
                                 "vigil tsdb import")
            log(f"bench_promql: {out.strip()} ({time.monotonic() - t0:.1f} s)")
        else:
            shutil.copytree(blocks, vdata)

        prom = pd.start_with_free_port(lambda p: pd.prometheus_server(a.prometheus, config,
                                                                      pdata, p))
        servers.append(prom)
        if a.peer == "vigil":
            vig = pd.start_with_free_port(lambda p: pd.vigil_server(a.vigil, vdata, p))
        else:
            vig = pd.start_with_free_port(lambda p: pd.prometheus_server(
                a.prometheus, config, vdata, p, name="prometheus-2"))
        servers.append(vig)
        clients = {"vigil": pd.Client(vig), "prometheus": pd.Client(prom)}

        end = int(last) // 60 * 60
        start = end - DAY
        cases = []
        for short, q, step in QUERIES:
            if step is None:
                params = {"query": q, "time": pd.fmt_t(end)}
                path, what = "/api/v1/query", f"instant at {end}"
            else:
                params = {"query": q, "start": pd.fmt_t(start), "end": pd.fmt_t(end),
                          "step": str(step)}
                path, what = "/api/v1/query_range", f"{start}..{end} step {step} s"
            cases.append((short, pd.Case(what, path, params, q)))
        log(f"bench_promql: data {first:.3f}..{last:.3f}; queries over {start}..{end}")

        # Warm-up round, which also checks that the answers agree.
        valid = {}
        for short, case in cases:
            exp, _ = timed(clients["prometheus"], case)
            got, _ = timed(clients["vigil"], case)
            diff, _ = pd.compare(exp, got)
            empty = exp.kind != "success" or not exp.data
            if diff or empty:
                wrong += 1
                why = diff.line() if diff else f"Prometheus answered {exp.describe()}"
                print(f"MISMATCH promql_{short}: {case.label} {case.query!r}: {why}",
                      flush=True)
            valid[short] = not (diff or empty)
            log(f"bench_promql: {short}: {exp.describe()}; answers "
                f"{'agree' if valid[short] else 'DIFFER'}")

        times = {short: {"vigil": [], "prometheus": []} for short, _ in cases}
        for rep in range(a.reps):
            order = ("vigil", "prometheus") if rep % 2 == 0 else ("prometheus", "vigil")
            for short, case in cases:
                for side in order:
                    ans, dt = timed(clients[side], case)
                    if ans.kind != "success":
                        raise pd.Failure(f"{side} failed {short} in round {rep}: "
                                         f"{ans.describe()}")
                    times[short][side].append(dt * 1e3)

        for short, case in cases:
            v = statistics.median(times[short]["vigil"])
            p = statistics.median(times[short]["prometheus"])
            log(f"bench_promql: {short} ({case.label}) {case.query}: vigil "
                + " ".join(f"{x:.1f}" for x in times[short]["vigil"]) + " ms; prometheus "
                + " ".join(f"{x:.1f}" for x in times[short]["prometheus"]) + " ms")
            if not valid[short]:
                print(f"# promql_{short}: answers differ from Prometheus's, not reported "
                      f"(vigil {v:.2f} ms, prometheus {p:.2f} ms)", flush=True)
                continue
            print(f"BENCH promql_{short}_ms {v:.2f} ms")
            print(f"BENCH promql_{short}_prom_ms {p:.2f} ms")
            print(f"BENCH promql_{short}_vs_prom {p / v:.2f} x", flush=True)
    except pd.Failure as e:
        print(f"bench_promql: FAIL: {e}", flush=True)
        return 1
    finally:
        for s in servers:
            s.stop()
        os.chdir("/")
        shutil.rmtree(work, ignore_errors=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
