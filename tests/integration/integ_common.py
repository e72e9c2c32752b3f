"""integ_common.py — what the Python drivers of tests/integration/ share: starting a fixture
program and reading its stdout with deadlines, stopping it for sure, plain HTTP GETs, and the
skip/fail conventions (exit 77 = skipped, exit 1 with a FAIL line = failed).

A fixture serves until its stdin reaches end of file, so closing the pipe is the normal way to
stop it and also what happens when this driver dies for any reason (even SIGKILL from a CTest
timeout): no fixture outlives its test.
"""
import atexit
import http.client
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

SKIP = 77

# The runtime reads these over the options in code; a test must not depend on the caller's.
RUNTIME_ENV = ("VIGIL_METRICS_ENABLED", "VIGIL_METRICS_ADDR", "VIGIL_METRICS_PATH",
               "VIGIL_PROCESS_METRICS", "VIGIL_GLOBAL_LABELS", "VIGIL_MAX_CHILDREN",
               "VIGIL_HTTP_THREADS")

# What Prometheus 2.42 sends when it scrapes.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
TEXT_ACCEPT = "text/plain;version=0.0.4"


class Failure(Exception):
    """A check failed; the message says what and with which values."""


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def import_parsers():
    """(text parser, OpenMetrics parser, floatToGoString), or skip when the module is missing."""
    try:
        from prometheus_client.openmetrics.parser import \
            text_string_to_metric_families as parse_om
        from prometheus_client.parser import text_string_to_metric_families as parse_text
        from prometheus_client.utils import floatToGoString
    except ImportError as e:
        skip(f"prometheus_client is not importable by {sys.executable} ({e}); "
             "Debian: apt-get install python3-prometheus-client, and run /usr/bin/python3")
    return parse_text, parse_om, floatToGoString


class Fixture:
    """A fixture program with piped stdin/stdout; stderr goes to <name>.err in the cwd."""

    def __init__(self, argv, name):
        env = {k: v for k, v in os.environ.items() if k not in RUNTIME_ENV}
        self.name = name
        self.err_path = os.path.abspath(f"{name}.err")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, env=env)
        self.lines = queue.Queue()
        self.seen = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        atexit.register(self.stop)

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout):
        """The first stdout line starting with prefix, waiting at most timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{self.name}: no line starting with {prefix!r} within {timeout} s "
                              f"(stdout so far: {self.seen!r}){self.stderr_tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait()
                raise Failure(f"{self.name} exited with status {rc} before printing {prefix!r} "
                              f"(stdout: {self.seen!r}){self.stderr_tail()}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def url(self, timeout=15):
        line = self.expect("URL ", timeout)
        url = line.split(" ", 1)[1].strip()
        u = urllib.parse.urlsplit(url)
        if u.hostname != "127.0.0.1" or not u.port:
            raise Failure(f"{self.name} printed {url!r}: want http://127.0.0.1:PORT/... with "
                          "the port it bound (not 0)")
        return url

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def stderr_tail(self, n=20):
        try:
            self._err.flush()
            with open(self.err_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return ""
        return "" if not lines else "\n--- stderr:\n" + "\n".join(lines)

    def stop(self, timeout=10):
        """Closes stdin and waits; kills after timeout. Returns the exit status (None if it had
        to be killed)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def on_signals_exit():
    """SIGTERM/SIGINT run the atexit handlers (and so stop the fixtures) before exiting."""
    def handler(signum, frame):
        print(f"FAIL: interrupted by signal {signum}", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def get(url, headers=None, timeout=10, conn=None):
    """GET url; returns (status, {lower-case header: value}, body bytes). Pass conn to reuse a
    keep-alive connection (it must be to the same host and port)."""
    u = urllib.parse.urlsplit(url)
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        hdrs = {"Accept-Encoding": "identity"}
        hdrs.update(headers or {})
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        if own:
            conn.close()


def media_type(content_type):
    """('type/subtype', {param: value}) from a Content-Type value, lower-cased."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params
