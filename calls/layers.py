"""The in-memory channel layer (one process) without its sweep of every socket on every message."""

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """Channels' in-memory layer, expiring stale messages and group entries once a second.

    Channels sweeps every channel's queue and every group on each send, receive and group send:
    with 1,000 open sockets that walk cost more than the rest of a relayed message. Capacity,
    order and expiry are unchanged; an expired message may linger up to a second longer.
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
