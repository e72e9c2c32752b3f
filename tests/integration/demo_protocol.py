#!/usr/bin/python3
"""demo_protocol.py — integration/demo_speaks_its_documented_protocol.

    demo_protocol.py VIGIL_DEMO

An independent client, written from the byte table in docs/demo.md (struct and zlib.crc32,
no code shared with the demo), talks to the demo's server, started with no clients of its own
and no faults, so every count is known:

  - HELLO gets WELCOME with the client's name; PING gets PONG with its id; REQUEST gets
    RESPONSE with its id and the payload reversed, also for two frames in one write and for a
    frame dribbled one byte at a time; a frame with a bad checksum gets ERROR naming its id and
    the session goes on; a frame the server does not expect gets ERROR; BYE ends the session
    and the server closes the connection;
  - a frame length above the limit, a first frame that is not HELLO, a bad name: BYE with the
    reason, then the connection is closed;
  - a client silent for five heartbeat intervals gets BYE "heartbeat timeout";
  - a client connected at SIGTERM gets BYE "server shutting down", and the demo exits 0.

Then /metrics must show exactly what was exchanged: frames per type and direction, bytes to
the byte, heartbeats, connections, errors by kind (decode 1, protocol 4 ...), and
/api/v1/events the client's connect and its disconnect reason.
"""
import json
import os
import signal
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_driver import Demo, metric  # noqa: E402
from integ_common import Failure, get, on_signals_exit  # noqa: E402

HELLO, WELCOME, PING, PONG, REQUEST, RESPONSE, ERROR, BYE = range(1, 9)
NAMES = {1: "hello", 2: "welcome", 3: "ping", 4: "pong", 5: "request", 6: "response",
         7: "error", 8: "bye"}
HEARTBEAT = 0.4  # seconds; the server drops a client silent for 5 intervals (2 s)


def encode(ftype, fid, payload=b""):
    """One frame: u32 length of what follows, version 1, type, 2 reserved bytes, u32 id,
    u32 CRC-32 of bytes 4..11 and the payload, the payload. Big-endian."""
    head = struct.pack(">BBHI", 1, ftype, 0, fid)
    return (struct.pack(">I", len(head) + 4 + len(payload)) + head +
            struct.pack(">I", zlib.crc32(head + payload)) + payload)


class Session:
    """One connection; counts what it sent and received, as the server should."""

    def __init__(self, port, tally, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
        self.tally = tally

    def send(self, data, counted_types=()):
        self.sock.sendall(data)
        for t in counted_types:
            self.tally["recv_frames"][t] = self.tally["recv_frames"].get(t, 0) + 1
        self.tally["recv_bytes"] += len(data) if counted_types else 0

    def frame(self, ftype, fid, payload=b""):
        data = encode(ftype, fid, payload)
        self.send(data, [ftype])
        return data

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Failure(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def expect(self, ftype, fid=None, payload=None):
        """Reads one frame, checks its checksum, type, id and payload; returns the payload."""
        length = struct.unpack(">I", self.read_exact(4))[0]
        rest = self.read_exact(length)
        version, got_type, reserved, got_id, crc = struct.unpack(">BBHII", rest[:12])
        body = rest[12:]
        if zlib.crc32(rest[:8] + body) != crc:
            raise Failure(f"frame {NAMES.get(got_type)} from the server fails its checksum")
        if (version, reserved) != (1, 0):
            raise Failure(f"frame with version {version}, reserved {reserved}")
        if got_type != ftype or (fid is not None and got_id != fid):
            raise Failure(f"want {NAMES[ftype]} id {fid}, got {NAMES.get(got_type)} id {got_id} "
                          f"({body[:80]!r})")
        if payload is not None and body != payload:
            raise Failure(f"{NAMES[ftype]} id {got_id}: payload {body[:80]!r}, want "
                          f"{payload[:80]!r}")
        t = self.tally
        t["sent_frames"][ftype] = t["sent_frames"].get(ftype, 0) + 1
        t["sent_bytes"] += 4 + length
        return body

    def expect_close(self):
        """The server closes the connection: EOF (or a reset) within 5 s, nothing else."""
        try:
            extra = self.sock.recv(1)
        except ConnectionResetError:
            extra = b""
        if extra:
            raise Failure(f"want the connection closed, got more data {extra!r}")
        self.sock.close()

    def hello(self, name):
        self.frame(HELLO, 0, name.encode())
        self.expect(WELCOME, 0, name.encode())


def conversation(port, tally):
    s = Session(port, tally)
    s.hello("py-client")
    s.frame(PING, 7)
    s.expect(PONG, 7, b"")
    for i in range(1, 6):
        payload = os.urandom(10 * i)
        s.frame(REQUEST, i, payload)
        s.expect(RESPONSE, i, payload[::-1])
    # A flipped payload bit after the checksum: ERROR names the id, the session goes on.
    bad = bytearray(encode(REQUEST, 42, b"corrupted on the way"))
    bad[20] ^= 0x10
    s.send(bytes(bad))
    s.expect(ERROR, 42, b"checksum mismatch")
    # A frame only the server sends: ERROR, the session goes on.
    s.frame(PONG, 9)
    s.expect(ERROR, 9, b"unexpected pong frame")
    # Two frames in one write.
    s.send(encode(PING, 8) + encode(REQUEST, 6, b"pipelined"), [PING, REQUEST])
    s.expect(PONG, 8)
    s.expect(RESPONSE, 6, b"denilepip")
    # One frame dribbled a byte at a time.
    data = encode(REQUEST, 7, b"slowly")
    for k in range(len(data)):
        s.sock.sendall(data[k:k + 1])
        time.sleep(0.002)
    tally["recv_frames"][REQUEST] += 1
    tally["recv_bytes"] += len(data)
    s.expect(RESPONSE, 7, b"ylwols")
    s.frame(BYE, 0, b"done")
    s.expect_close()


def broken_sessions(port, tally):
    """Each ends with BYE and a close by the server; returns how many."""
    # A length no frame may have: the stream is lost.
    s = Session(port, tally)
    s.hello("py-oversized")
    s.send(struct.pack(">I", 0xFFFFFFFF) + b"\0" * 12)
    s.expect(BYE, 0, b"protocol error: frame length above the largest frame")
    s.expect_close()
    # No HELLO first.
    s = Session(port, tally)
    s.frame(PING, 1)
    s.expect(BYE, 0, b"expected a hello with a name of letters, digits, '-_.'")
    s.expect_close()
    # A name with a space.
    s = Session(port, tally)
    s.frame(HELLO, 0, b"bad name")
    s.expect(BYE, 0, b"expected a hello with a name of letters, digits, '-_.'")
    s.expect_close()
    # Silent after the greeting: dropped after five heartbeat intervals.
    s = Session(port, tally)
    s.hello("py-silent")
    started = time.monotonic()
    s.expect(BYE, 0, b"heartbeat timeout")
    waited = time.monotonic() - started
    if not 5 * HEARTBEAT * 0.9 <= waited <= 5 * HEARTBEAT + 2:
        raise Failure(f"heartbeat timeout after {waited:.2f} s, want about {5 * HEARTBEAT} s")
    s.expect_close()
    return 4


def check_metrics(demo, tally, sessions):
    v = demo.scrape()

    def want(series, expected):
        got = metric(v, series)
        if got != expected:
            raise Failure(f"{series} = {got:g}, want {expected:g}")

    want("demo_connections_total", sessions)
    want("demo_connected_clients", 0)
    for ftype, n in tally["recv_frames"].items():
        want(f'demo_messages_total{{role="server",direction="received",type="{NAMES[ftype]}"}}',
             n)
    for ftype, n in tally["sent_frames"].items():
        want(f'demo_messages_total{{role="server",direction="sent",type="{NAMES[ftype]}"}}', n)
    want('demo_message_bytes_total{role="server",direction="received"}', tally["recv_bytes"])
    want('demo_message_bytes_total{role="server",direction="sent"}', tally["sent_bytes"])
    # The conversation's PINGs 7 and 8; the PING sent instead of a HELLO is a frame received,
    # not a heartbeat (no session yet).
    want("demo_heartbeats_received_total", 2)
    want('demo_heartbeat_timeouts_total{role="server"}', 1)
    # decode: the corrupted request; protocol: the unexpected PONG, the oversized length, the
    # missing HELLO, the bad name.
    for kind, n in (("decode", 1), ("protocol", 4), ("network", 0), ("tls", 0), ("encode", 0),
                    ("overload", 0)):
        want(f'demo_errors_total{{kind="{kind}"}}', n)
    print(f"metrics agree with the client's own count: {tally['recv_bytes']} bytes in, "
          f"{tally['sent_bytes']} bytes out, {sessions} connections")

    status, _, body = get(demo.metrics_url.replace("/metrics", "/api/v1/events"))
    events = json.loads(body)["events"]
    if not any(e["type"] == "client_connected" and e.get("client") == "py-client"
               for e in events):
        raise Failure(f"no client_connected event for py-client in {events[:5]}")
    if not any(e["type"] == "client_disconnected" and e.get("client") == "py-client" and
               e.get("reason") == "client said bye: done" for e in events):
        raise Failure("no client_disconnected event for py-client with reason 'client said bye: done'")
    print("/api/v1/events has py-client's connect and its disconnect reason")


def shutdown_says_bye(demo, tally):
    s = Session(demo.server_port(), tally)
    s.hello("py-last")
    demo.proc.send_signal(signal.SIGTERM)
    s.expect(BYE, 0, b"server shutting down")
    s.expect_close()
    status = demo.stop()
    if status != 0:
        raise Failure(f"the demo exited with {status} after SIGTERM, want 0{demo.tail()}")
    out = demo.output()
    if "Client disconnected: py-last (reason: server shutting down)" not in out:
        raise Failure("the log hook did not print py-last's disconnect at shutdown")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    on_signals_exit()
    demo = Demo(sys.argv[1], ["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
                              "--clients", "0", "--no-faults", "--heartbeat-interval",
                              str(HEARTBEAT), "--snapshot-interval", "0"])
    tally = {"recv_frames": {}, "sent_frames": {}, "recv_bytes": 0, "sent_bytes": 0}
    try:
        demo.wait_banner()
        conversation(demo.server_port(), tally)
        print("conversation: hello, ping, 5 requests, a corrupted frame, an unexpected frame, "
              "two frames in one write, a frame byte by byte, bye: all answered as documented")
        sessions = 1 + broken_sessions(demo.server_port(), tally)
        print("broken sessions: oversized length, no hello, bad name, silent client: BYE + close")
        check_metrics(demo, tally, sessions)
        shutdown_says_bye(demo, tally)
        print("SIGTERM: the connected client got BYE 'server shutting down'; exit 0")
    except (Failure, OSError) as e:
        print(f"FAIL: {e}{demo.tail()}", flush=True)
        sys.exit(1)
    finally:
        demo.kill()
    print("PASS: the server speaks the documented protocol and counts exactly what it saw")


if __name__ == "__main__":
    main()
