"""Graceful stop under daphne: on SIGTERM or SIGINT close every socket with 4012 (server restart),
let the calls they held start their grace period, stop the clock, then stop the server."""

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any

from channels.db import database_sync_to_async

log = logging.getLogger(__name__)

# 1012 "service restart" in the private range: daphne (autobahn) sends only 1000 and 3000-4999.
# The browser reconnects, to this or another process.
CLOSE_CODE = 4012
DRAIN_SECONDS = 5.0  # closing every socket and starting its calls' grace may take this long
EXIT_SECONDS = 5.0  # after the server stops, a thread still holding the process is cut short

_open: set[Any] = set()  # this process's connected consumers
_emptied: asyncio.Event | None = None
_stopping = False


def stopping() -> bool:
    """Whether this process is shutting down (new sockets are closed at once)."""
    return _stopping


def opened(consumer: Any) -> None:
    """A consumer holds a socket now; one that opened after the drain's snapshot goes at once."""
    _open.add(consumer)
    if _stopping:
        asyncio.ensure_future(consumer.going_away())


def closed(consumer: Any) -> None:
    """A consumer has let go of its calls; the drain waits for the last one."""
    _open.discard(consumer)
    if not _open and _emptied is not None:
        _emptied.set()


async def drain() -> None:
    """Close every socket for a restart and wait until each has started its calls' grace."""
    global _stopping, _emptied
    _stopping = True
    _emptied = asyncio.Event()
    consumers = list(_open)
    log.info("shutting down: closing %d socket(s) with %d", len(consumers), CLOSE_CODE)
    results = await asyncio.gather(*(consumer.going_away() for consumer in consumers), return_exceptions=True)
    for failure in (r for r in results if isinstance(r, BaseException)):
        log.warning("shutdown: a socket did not close cleanly", exc_info=failure)
    if _open:  # a release begun by the socket's own disconnect is still writing
        await _emptied.wait()
    from .timekeeper import _by_loop  # a late import: the timekeeper imports services

    keeper = _by_loop.get(asyncio.get_running_loop())
    if keeper is not None:
        await keeper.stop()
    # Database work runs on one thread, in order: once this no-op has run, nothing is left on it
    # that could wait for the event loop after it has stopped (a push after commit would, for ever).
    await database_sync_to_async(lambda: None)()


def install() -> None:
    """Under daphne, take SIGTERM and SIGINT over from Twisted once its reactor runs."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None:  # daphne imported it; it only runs under daphne
        reactor.callWhenRunning(_take_signals, reactor)


def _take_signals(reactor: Any) -> None:
    # Twisted's own handlers stop the reactor at once: daphne then cancels every consumer, and a
    # consumer's last database write waits for a loop that no longer runs (the process hangs).
    # Left alone when daphne handles no signals (runserver's autoreloader runs it in a thread).
    if not reactor._installSignalHandlers or threading.current_thread() is not threading.main_thread():
        return

    def on_signal(number: int, frame: Any) -> None:
        reactor.callFromThread(_begin, reactor, number)

    signal.signal(signal.SIGTERM, on_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # run-prod.sh's children ignore Ctrl-C
        signal.signal(signal.SIGINT, on_signal)


def _begin(reactor: Any, number: int) -> None:
    if _stopping:  # a second signal: stop now
        reactor.stop()
        return
    log.info("received %s: shutting down gracefully", signal.Signals(number).name)
    asyncio.ensure_future(_shutdown(reactor))


async def _shutdown(reactor: Any) -> None:
    try:
        await asyncio.wait_for(drain(), DRAIN_SECONDS)
    except Exception:
        log.exception("shutdown: the drain did not finish; stopping anyway")
    finally:
        watchdog = threading.Timer(EXIT_SECONDS, _exit_now)
        watchdog.daemon = True
        watchdog.start()
        reactor.stop()


def _exit_now() -> None:
    # Interpreter exit joins every worker thread: one stuck (e.g. an HTTP request's database call
    # waiting for the stopped loop) would hold the process for ever.
    log.error("shutdown: still running %.0f s after the server stopped; exiting", EXIT_SECONDS)
    logging.shutdown()
    os._exit(1)
