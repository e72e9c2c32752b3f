"""demo_driver.py — what the Python tests of vigil-demo share: starting the demo with its
banner parsed (server address, metrics URL), reading its metrics, and stopping it by PID with
SIGTERM (killed for sure at exit, so no demo outlives its test).

Each run also gets --duration as a safety net: a CTest timeout kills the driver with SIGKILL,
which no atexit handler sees, and the demo must then end on its own.
"""
import atexit
import os
import re
import signal
import subprocess
import time

from integ_common import RUNTIME_ENV, Failure, get

# Everything vigil_start reads from the environment (integ_common's list predates a few).
DEMO_ENV = RUNTIME_ENV + ("VIGIL_METRICS_PORT", "VIGIL_HOST_METRICS", "VIGIL_HEALTH_ENABLED",
                          "VIGIL_HEALTH_PATH")

BANNER = re.compile(r"^vigil-demo \S+: message server on (\S+) \(([^)]*)\)")
METRICS = re.compile(r"^  metrics:  (http://127\.0\.0\.1:\d+/metrics)$")


class Demo:
    """vigil-demo with stdout and stderr in <name>.out / <name>.err in the working directory."""

    def __init__(self, binary, args, name="demo", safety_seconds=120, wrapper=()):
        env = {k: v for k, v in os.environ.items() if k not in DEMO_ENV}
        self.name = name
        self.out_path = os.path.abspath(f"{name}.out")
        self.err_path = os.path.abspath(f"{name}.err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        argv = [*wrapper, binary, "--duration", str(safety_seconds), *args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=env)
        atexit.register(self.kill)
        self.server = None   # "127.0.0.1:PORT"
        self.transport = None
        self.metrics_url = None

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self, n=30):
        parts = []
        for path in (self.err_path, self.out_path):
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                continue
            if lines:
                parts.append(f"--- {os.path.basename(path)}:\n" + "\n".join(lines))
        return "\n" + "\n".join(parts) if parts else ""

    def wait_banner(self, timeout=30):
        """Waits for the whole banner; fills server, transport and metrics_url."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if "\n  stop:" in text:
                for line in text.splitlines():
                    m = BANNER.match(line)
                    if m:
                        self.server, self.transport = m.group(1), m.group(2)
                    m = METRICS.match(line)
                    if m:
                        self.metrics_url = m.group(1)
                if self.server is None or self.server.endswith(":0"):
                    raise Failure(f"{self.name}: banner without the bound server address"
                                  f"{self.tail()}")
                return
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited with status {self.proc.returncode} before "
                              f"its banner{self.tail()}")
            time.sleep(0.05)
        raise Failure(f"{self.name}: no banner within {timeout} s{self.tail()}")

    def server_port(self):
        return int(self.server.rsplit(":", 1)[1])

    def scrape(self):
        """{series text (name and labels, as exposed): value} of one scrape."""
        status, _, body = get(self.metrics_url)
        if status != 200:
            raise Failure(f"GET {self.metrics_url}: status {status}")
        values = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                values[series] = float(value)
        return values

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig to the demo's PID and waits; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise Failure(f"{self.name} did not exit within {timeout} s of signal {sig}"
                              f"{self.tail()}")
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def metric(values, series):
    """The value of one series (exact text, e.g. 'demo_errors_total{kind="tls"}'), or fail."""
    if series not in values:
        raise Failure(f"no series {series} in the scrape")
    return values[series]


def metric_sum(values, prefix):
    """The sum of the series whose text starts with prefix."""
    found = [v for k, v in values.items() if k.startswith(prefix)]
    if not found:
        raise Failure(f"no series starting with {prefix} in the scrape")
    return sum(found)
