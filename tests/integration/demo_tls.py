#!/usr/bin/python3
"""demo_tls.py — integration/demo_serves_tls_with_cert_and_key.

    demo_tls.py VIGIL_DEMO

With a throwaway self-signed certificate made by the `openssl` command (for 127.0.0.1):

  - a key that does not belong to the certificate is refused at start: exit 1, the mismatch
    and the key's path on stderr;
  - with --cert/--key the banner says TLS, the demo's own clients verify the certificate,
    complete requests and cause no TLS error (faults off, so nothing else fails either);
  - Python's ssl module, trusting only that certificate and checking the address it names,
    completes a handshake and a HELLO/WELCOME, PING/PONG, REQUEST/RESPONSE, BYE conversation;
  - a client speaking the protocol in plain TCP gets no WELCOME, and exactly one TLS error is
    counted for it;
  - SIGTERM ends the demo with status 0.

Exit 77 when the openssl command is missing or the demo was built without TLS.
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_driver import Demo, metric  # noqa: E402
from demo_protocol import BYE, PING, PONG, REQUEST, RESPONSE, Session, encode  # noqa: E402
from integ_common import Failure, on_signals_exit, skip  # noqa: E402


def make_cert(name):
    """name.crt / name.key: a self-signed EC certificate for 127.0.0.1, valid one day."""
    rc = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, text=True)
    if rc.returncode != 0:
        raise Failure(f"openssl req failed: {rc.stderr}")
    return os.path.abspath(f"{name}.crt"), os.path.abspath(f"{name}.key")


def refuses_a_foreign_key(demo_bin, cert, other_key):
    d = Demo(demo_bin, ["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--cert", cert,
                        "--key", other_key], name="mismatch")
    try:
        rc = d.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        d.kill()
        raise Failure("a certificate with another certificate's key: the demo started")
    with open(d.err_path) as f:
        err = f.read()
    if rc != 1 or "mismatch" not in err or other_key not in err:
        raise Failure(f"a foreign key: exit {rc}, stderr {err!r}; want 1 and a mismatch named")
    print(f"a foreign key is refused: exit 1, {err.strip()!r}")


def python_tls_conversation(port, cert):
    ctx = ssl.create_default_context(cafile=cert)  # verifies the chain and the IP address
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    version = tls.version()
    tally = {"recv_frames": {}, "sent_frames": {}, "recv_bytes": 0, "sent_bytes": 0}
    s = Session(port, tally, sock=tls)
    s.hello("py-tls")
    s.frame(PING, 1)
    s.expect(PONG, 1)
    s.frame(REQUEST, 1, b"over tls")
    s.expect(RESPONSE, 1, b"slt revo")
    s.frame(BYE, 0, b"done")
    s.expect_close()
    print(f"python ssl ({version}, certificate verified): hello, ping, request, bye")


def plain_client_is_refused(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(encode(1, 0, b"py-plain"))
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    # A TLS alert record (content type 21) may come back; a protocol frame must not.
    if got and got[0] != 21:
        raise Failure(f"a plain-TCP client got {got[:40]!r}, want nothing or a TLS alert")


def run(demo_bin):
    cert, key = make_cert("server")
    _, other_key = make_cert("other")
    refuses_a_foreign_key(demo_bin, cert, other_key)

    demo = Demo(demo_bin, ["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--cert", cert,
                           "--key", key, "--clients", "2", "--rate", "20", "--no-faults",
                           "--snapshot-interval", "0"])
    try:
        demo.wait_banner()
        if demo.transport != "TLS":
            raise Failure(f"the banner says {demo.transport!r}, want 'TLS'")
        deadline = time.monotonic() + 10
        while True:
            v = demo.scrape()
            done = metric(v, "demo_pending_requests_completed_total")
            if done >= 20 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if done < 20:
            raise Failure(f"only {done:g} requests completed over TLS in 10 s{demo.tail()}")
        tls_errors = metric(v, 'demo_errors_total{kind="tls"}')
        all_errors = sum(x for k, x in v.items() if k.startswith("demo_errors_total{"))
        if tls_errors != 0 or all_errors != 0:
            raise Failure(f"{all_errors:g} errors ({tls_errors:g} TLS) with faults off")
        print(f"the demo's clients over TLS: {done:g} requests completed, no error")

        python_tls_conversation(demo.server_port(), cert)
        plain_client_is_refused(demo.server_port())
        deadline = time.monotonic() + 5
        while metric(demo.scrape(), 'demo_errors_total{kind="tls"}') < 1:
            if time.monotonic() > deadline:
                raise Failure("a plain-TCP client was not counted as a TLS error")
            time.sleep(0.1)
        if metric(demo.scrape(), 'demo_errors_total{kind="tls"}') != 1:
            raise Failure("one plain-TCP client counted as more than one TLS error")
        print("a plain-TCP client gets no WELCOME and is counted as one TLS error")
    finally:
        status = demo.stop()
    if status != 0:
        raise Failure(f"the demo exited with {status} after SIGTERM, want 0{demo.tail()}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    if shutil.which("openssl") is None:
        skip("the openssl command is not installed (Debian: openssl)")
    probe = subprocess.run([sys.argv[1], "--addr", "127.0.0.1:0", "--no-metrics", "--clients",
                            "0", "--cert", "/dev/null", "--key", "/dev/null"],
                           capture_output=True, text=True, timeout=30)
    if "built without TLS" in probe.stderr:
        skip("this vigil-demo was built without TLS (libssl-dev missing at build time)")
    on_signals_exit()
    try:
        run(sys.argv[1])
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    print("PASS: TLS with --cert/--key: verified clients, refused plain TCP, foreign key refused")


if __name__ == "__main__":
    main()
