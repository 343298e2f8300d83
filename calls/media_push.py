"""call.media pushes: only the latest state matters, so one connection's changes to a call are
coalesced, sent at most every PUSH_INTERVAL, and only to the two connections holding the call
(a side's other tabs learn the state with the next full event, hello or sync)."""

import asyncio
import logging

from channels.db import database_sync_to_async

from . import selectors
from .events import call_event_payload

log = logging.getLogger(__name__)

# At 50 messages a second to 200 tabs of one user, pushing every change to every tab took 35 s of
# CPU for 1,000 messages (bench/media_fanout.py); a person cannot toggle faster than this anyway.
PUSH_INTERVAL = 0.2


class MediaPushes:
    """One connection's pending media-state pushes, one small task per call."""

    def __init__(self, layer, user_id: int) -> None:
        self.layer, self.user_id = layer, user_id
        self._dirty: set[str] = set()
        self._tasks: dict[str, asyncio.Task] = {}

    def changed(self, call_id: str) -> None:
        """The state of `call_id` was recorded: push it now, or with the next push if one is due."""
        self._dirty.add(call_id)
        if call_id not in self._tasks:
            self._tasks[call_id] = asyncio.get_running_loop().create_task(self._run(call_id))

    async def _run(self, call_id: str) -> None:
        try:
            # Each push reads the call after the change that asked for it was committed, so the
            # last push always carries the last recorded state.
            while call_id in self._dirty:
                self._dirty.discard(call_id)
                await self._push(call_id)
                await asyncio.sleep(PUSH_INTERVAL)  # the rate limit: changes meanwhile wait
        finally:
            self._tasks.pop(call_id, None)

    async def _push(self, call_id: str) -> None:
        call = await database_sync_to_async(selectors.call_of)(user_id=self.user_id, call_id=call_id)
        if call is None or call.state != "active":
            return  # an ended call's last state is in its call.ended
        payload = call_event_payload(call, "call.media")
        for channel in {call.caller_channel, call.callee_channel} - {""}:
            try:
                await self.layer.send(channel, payload)
            except Exception:  # a full or failed inbox: that side catches up with its next event
                log.warning("call.media push to %s failed", channel, exc_info=True)

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
