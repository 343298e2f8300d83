"""Per-process clock that ends calls at their deadlines: woken exactly when a deadline is due,
and every CALLKIT_SWEEP_INTERVAL seconds it renews the heartbeat of the calls its connections
hold and sweeps for overdue calls, including those whose process died (no heartbeat). While the
channel layer is down no tab can reconnect, so no call ends for a lost connection until the layer
has been back for a whole grace period."""

import asyncio
import logging
import weakref
from datetime import datetime

from django.conf import settings

from . import clock, health, services
from .events import call_service
from .socket_limits import open_sockets

log = logging.getLogger(__name__)

_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Timekeeper]" = (
    weakref.WeakKeyDictionary()
)


class Timekeeper:
    """One background task per event loop; every wake-up runs the same idempotent sweep."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.channels: set[str] = set()  # this process's open connections, for the heartbeat
        self.layer_down = False  # at the last tick

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="callkit-timekeeper")

    def wake_at(self, when: datetime) -> None:
        """Sweep again just after `when`."""
        delay = max(0.0, (when - clock.now()).total_seconds()) + 0.005
        # A stray wake-up after stop() only sets an event nobody waits on.
        asyncio.get_running_loop().call_later(delay, self._wake.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=settings.CALLKIT_SWEEP_INTERVAL)
            except TimeoutError:
                pass
            self._wake.clear()
            try:  # the open sockets' places in the caps and their user groups (socket_limits)
                from channels.layers import get_channel_layer

                # Bounded: a Redis that stalls (rather than refuses) must not stop the heartbeat below.
                await asyncio.wait_for(open_sockets.renew(get_channel_layer()), timeout=2)
            except Exception:
                log.exception("renewing the open sockets failed; trying again at the next tick")
            try:
                await call_service(services.calls_heartbeat)(channels=list(self.channels))
                await self._hold_while_layer_down()
                ended = await call_service(services.calls_sweep)()
            except Exception:  # a database blip must not stop the clock
                log.exception("sweep failed; trying again at the next tick")
                continue
            for call in ended:
                log.info("call %s ended by the clock: %s", call.pk, call.end_reason)

    async def _hold_while_layer_down(self) -> None:
        """Every tick of an outage, and the first after it, restarts the grace of every side away."""
        down = not await health.channel_layer_up()
        if down != self.layer_down:
            log.warning("the channel layer is %s", "down: no call ends for a lost connection" if down else "back")
        if down or self.layer_down:
            await call_service(services.calls_hold_grace)()
        self.layer_down = down


def timekeeper() -> Timekeeper:
    """This event loop's timekeeper, started on first use."""
    loop = asyncio.get_running_loop()
    keeper = _by_loop.get(loop)
    if keeper is None:
        keeper = _by_loop[loop] = Timekeeper()
    keeper.start()
    return keeper
