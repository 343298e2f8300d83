"""The in-memory channel layer (one process) without its sweep of every socket on every message."""

import asyncio
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


def _copy(value: Any) -> Any:
    """A copy of a message (JSON-like: dicts, lists, tuples and immutable leaves), like deepcopy's."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    if type(value) is tuple:
        return tuple(_copy(item) for item in value)
    return value  # str, int, float, bool, None, bytes: immutable


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """Channels' in-memory layer, expiring stale messages and group entries once a second.

    Channels sweeps every channel's queue and every group on each send, receive and group send:
    with 1,000 open sockets that walk cost more than the rest of a relayed message. Capacity,
    order and expiry are unchanged; an expired message may linger up to a second longer.
    Each message is still copied for its receiver (a receiver may change what it gets), but by
    walking its dicts and lists rather than with `deepcopy`, and a group send puts the message
    in each member's queue at once instead of through a task per member.
    """

    sweep_interval = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._swept_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_interval:
            self._swept_at = now
            super()._clean_expired()

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    def _put(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, _copy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                self._put(channel, message)
            except ChannelFull:
                pass  # as Channels' own: a full member misses this one, the others get it
