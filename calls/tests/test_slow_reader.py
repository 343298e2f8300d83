"""A client that stops reading cannot grow a real daphne's memory: errors stay small, a socket
that falls too far behind is closed (4408) and treated as dropped, reading clients carry on."""

import base64
import json
import os
import socket
import struct
from collections import deque
import time
from pathlib import Path

import pytest

from .conftest import session_cookie
from .e2e.conftest import Server

pytestmark = pytest.mark.django_db(transaction=True)


def until(condition, seconds: float, what: str):
    """Poll `condition` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)  # between polls
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def daphne():
    server = Server(DJANGO_ALLOWED_HOSTS="127.0.0.1")
    yield server
    server.stop()


def rss_kib(server: Server) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def cpu_ticks(server: Server) -> int:
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def settled(server: Server) -> bool:
    """The server spent no CPU for a quarter of a second: it has done what it was sent."""
    before = cpu_ticks(server)
    time.sleep(0.25)  # the quiet interval that defines "settled"
    return cpu_ticks(server) == before


class RawSocket:
    """A WebSocket over a bare TCP socket, so a test can stop reading at will."""

    def __init__(self, port: int, cookie: str):
        self.sock = socket.socket()
        # A small receive window: the kernel holds little for us, the server must hold the rest.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws/calls/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: http://127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.close_code: int | None = None

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else
                                  bytes([0x80 | 127]) + struct.pack("!Q", n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 1024 else _mask(payload, mask)
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> dict | None:
        """The next text message, or None once a close frame arrives."""
        while True:
            b1, b2 = self._read(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b1 & 0x0F
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return None
            # ping (9) / pong (10): ignored

    def expect(self, kind: str) -> dict:
        while True:
            message = self.recv()
            assert message is not None, f"closed ({self.close_code}) while waiting for {kind}"
            if message["type"] == kind:
                return message

    def ended(self) -> bool:
        """Read until the server closes or drops the connection; True then."""
        try:
            while self.recv() is not None:
                pass
        except (ConnectionResetError, OSError):
            pass
        return True


def _mask(payload: bytes, mask: bytes) -> bytes:
    whole = int.from_bytes(payload, "big")
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (whole ^ key).to_bytes(len(payload), "big")


def test_errors_to_a_client_that_does_not_read_stay_small(daphne, alice):
    cookie = session_cookie(alice)
    sockets = [RawSocket(daphne.port, cookie) for _ in range(15)]
    until(lambda: settled(daphne), 30, "the server to settle")
    before = rss_kib(daphne)
    # Each frame names a 60,000-character unknown field: today's 200 errors a socket would queue
    # 12 MB each, 180 MB in all, for clients that never read.
    frame = json.dumps({"type": "ping", "x" * 60_000: 1})
    for _ in range(200):
        for s in sockets:
            s.send(frame)
    for s in sockets:
        s.send(json.dumps({"type": "ping", "ref": "done"}))
    until(lambda: settled(daphne), 60, "the server to settle")
    grown = (rss_kib(daphne) - before) / 1024
    print(f"errors to non-readers: RSS grew by {grown:.1f} MiB")
    assert grown < 40, f"RSS grew by {grown:.0f} MiB"
    # A client that reads again gets every (small) answer, the socket never closed.
    for s in sockets:
        assert s.expect("pong")["ref"] == "done"


def test_a_peer_that_does_not_read_is_closed_and_its_call_takes_its_grace(daphne, alice, bob):
    a = RawSocket(daphne.port, session_cookie(alice))
    b = RawSocket(daphne.port, session_cookie(bob))
    a.expect("hello"), b.expect("hello")
    a.send(json.dumps({"type": "call.invite", "to": bob.pk, "media": "video", "ref": "i"}))
    call_id = a.expect("ack")["call_id"]
    b.expect("call.incoming")
    b.send(json.dumps({"type": "call.accept", "call_id": call_id, "ref": "a"}))
    b.expect("ack"), a.expect("call.accepted")
    until(lambda: settled(daphne), 30, "the server to settle")
    before = rss_kib(daphne)
    # bob stops reading; alice relays 60 KB offers to him: 12 MB in the first burst alone.
    offer = json.dumps({"type": "rtc.offer", "call_id": call_id, "sdp": "v=0\r\n" + "a" * 59_000})
    for _ in range(200):
        a.send(offer)
    # alice, who reads, is told that bob's side is away: his socket was dropped, the grace runs.
    away = a.expect("call.away")
    assert away["call"]["state"] == "active" and away["call"]["away"]
    grown = (rss_kib(daphne) - before) / 1024
    print(f"relay to a non-reader: RSS grew by {grown:.1f} MiB")
    assert grown < 40, f"RSS grew by {grown:.0f} MiB"
    assert until(b.ended, 10, "bob's socket to end")
    assert b.close_code in (None, 4408)  # the close frame, if it got through before the drop
    a.send(json.dumps({"type": "ping", "ref": "still"}))
    assert a.expect("pong")["ref"] == "still"



class _Transport:
    """Just enough of a Twisted transport to see reading paused."""

    def __init__(self):
        self.paused = False

    def pauseProducing(self):  # noqa: N802
        self.paused = True

    def resumeProducing(self):  # noqa: N802
        self.paused = False


def test_tiny_frames_are_charged_their_envelope_and_reading_pauses_early():
    """Counting payload bytes alone let 131,000 two-byte frames (some 240 bytes each as ASGI
    messages) queue before reading paused, and re-adding the queue per frame made it quadratic."""
    import asyncio

    from callkit_web.socket_flow import MAX_PENDING_BYTES, BoundedWebSocketProtocol, _Backlog

    protocol = BoundedWebSocketProtocol.__new__(BoundedWebSocketProtocol)
    protocol.transport, protocol.state, protocol.muted = _Transport(), BoundedWebSocketProtocol.STATE_OPEN, False
    protocol.application_queue = asyncio.Queue()  # an application that handles nothing meanwhile
    protocol.backlog, protocol.pending_sizes, protocol.pending_total = _Backlog(protocol), deque(), 0
    protocol.client_addr = ("127.0.0.1", 1)
    frames = 0
    while not protocol.transport.paused:
        protocol.onMessage(b"{}", False)
        frames += 1
        assert frames < 5_000, "reading never paused"
    assert frames <= MAX_PENDING_BYTES // 200
    protocol._recheck.cancel()
    # The application catches up: reading resumes, and the running total is back to nothing.
    while not protocol.application_queue.empty():
        protocol.application_queue.get_nowait()
    protocol.update_reading()
    assert not protocol.transport.paused and protocol.pending_total == 0
