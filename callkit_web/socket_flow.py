"""Bounds on what daphne holds in memory for one WebSocket, in both directions.

Daphne writes every message to Twisted's transport, which buffers without limit what the client
has not read, and queues every frame it reads for the application without limit: one user whose
sockets stopped reading took a server from 608 MiB to 1.46 GiB, and it stayed there (issue 11).

- Out: the transport tells its producer, through Twisted's public producer interface, when its
  buffer passes 64 KiB (pause) and when it has drained (resume). A socket sent more than
  MAX_BACKLOG_BYTES meanwhile is closed with CLOSE_TOO_SLOW, and its TCP connection dropped a
  second later, queued bytes and all: to the application a dropped connection (its calls get
  their grace).
- In: while the client is not reading, or the application has more than MAX_PENDING_BYTES of
  its frames still to handle, this socket's frames are left in the kernel (reading pauses);
  nothing is lost, the client just waits. A client that never reads again stops answering
  daphne's pings and is dropped at --ping-timeout.

Installed from callkit_web/asgi.py, so every way of starting daphne (make run, run-prod.sh,
systemd, supervisord, the tests' servers) has it.
"""

import logging
from collections import deque

from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import reactor
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

log = logging.getLogger(__name__)

# Beyond the transport's own 64 KiB: a client this far behind is not reading (a video call's
# whole signaling is a few dozen KiB). Per socket; a user has at most CALLKIT_MAX_SOCKETS_PER_USER.
MAX_BACKLOG_BYTES = 256 * 1024
# Frames read but not yet handled by the application (a burst of ICE candidates is a few KiB).
MAX_PENDING_BYTES = 256 * 1024
# What a queued frame costs beyond its payload (the ASGI message dict around it): tiny frames
# are charged this much, so 1,000 of them fill the allowance, not 131,000 two-byte ones.
FRAME_OVERHEAD_BYTES = 256
CLOSE_TOO_SLOW = 4408  # docs/protocol.md
_RECHECK = 0.02  # seconds between looks at a paused socket's application queue


@implementer(IPushProducer)
class _Backlog:
    """What the transport tells its producer: buffer full (pause) or empty again (resume)."""

    def __init__(self, protocol: "BoundedWebSocketProtocol") -> None:
        self.protocol = protocol
        self.full = False
        self.bytes = 0  # sent since the buffer filled up

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's interface)
        self.full = True
        self.protocol.update_reading()

    def resumeProducing(self) -> None:  # noqa: N802
        self.full, self.bytes = False, 0
        self.protocol.update_reading()

    def stopProducing(self) -> None:  # noqa: N802
        pass


class BoundedWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol with both directions bounded."""

    too_slow = False
    backlog: _Backlog | None = None
    reading_paused = False
    _recheck = None

    def onOpen(self) -> None:  # noqa: N802
        # The HTTP channel that did the upgrade is still the transport's producer (Twisted allows
        # one); it has nothing left to pause, so the backlog takes its place.
        self.backlog = _Backlog(self)
        self.pending_sizes: deque[int] = deque()  # what each frame in the application's queue costs
        self.pending_total = 0  # their sum, kept as they come and go (never re-added per frame)
        self.transport.unregisterProducer()
        self.transport.registerProducer(self.backlog, True)
        super().onOpen()

    def onMessage(self, payload, isBinary) -> None:  # noqa: N802
        super().onMessage(payload, isBinary)
        if self.backlog is not None:
            cost = max(len(payload), FRAME_OVERHEAD_BYTES)
            self.pending_sizes.append(cost)
            self.pending_total += cost
            self.update_reading()

    def _pending_bytes(self) -> int:
        queue = getattr(self, "application_queue", None)
        left = queue.qsize() if queue is not None else 0
        while len(self.pending_sizes) > left:  # a FIFO: the oldest were handled
            self.pending_total -= self.pending_sizes.popleft()
        return self.pending_total

    def update_reading(self) -> None:
        """Read from the client only while it reads us and the application keeps up."""
        if self.transport is None or self.state == self.STATE_CLOSED:
            return
        behind = self._pending_bytes() > MAX_PENDING_BYTES
        pause = self.backlog.full or behind
        if pause and not self.reading_paused:
            self.reading_paused = True
            self.transport.pauseProducing()
        elif not pause and self.reading_paused:
            self.reading_paused = False
            self.transport.resumeProducing()
        if behind and (self._recheck is None or not self._recheck.active()):
            # The application's queue has no callback when it drains: look again shortly.
            self._recheck = reactor.callLater(_RECHECK, self.update_reading)

    def serverSend(self, content, binary=False) -> None:  # noqa: N802
        if self.too_slow:
            return  # closing: queue nothing more
        if self.backlog is not None and self.backlog.full:
            self.backlog.bytes += len(content)  # characters for text: close enough for a bound
            if self.backlog.bytes > MAX_BACKLOG_BYTES:
                self._close_too_slow()
                return
        super().serverSend(content, binary)

    def _close_too_slow(self) -> None:
        log.warning("closing a WebSocket whose client is not reading: %s", self.client_addr)
        self.too_slow = True
        # The close frame waits behind the unread bytes; autobahn drops the TCP connection (and
        # the buffer with it) when the client does not answer it within closeHandshakeTimeout.
        self.sendClose(code=CLOSE_TOO_SLOW, reason="too slow: not reading")

    def onClose(self, wasClean, code, reason) -> None:  # noqa: N802
        if self._recheck is not None and self._recheck.active():
            self._recheck.cancel()
        super().onClose(wasClean, code, reason)


def install() -> None:
    """Make daphne build BoundedWebSocketProtocol for every WebSocket."""
    WebSocketFactory.protocol = BoundedWebSocketProtocol
