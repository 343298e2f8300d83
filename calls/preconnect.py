"""Connect while it rings: which ringing devices of a callee may exchange offer/answer/ICE with the caller."""

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings

# A caller hears from at most this many ringing devices of one call (a user's socket cap is 20 by
# default); past it further devices simply connect the usual way, after Accept.
MAX_LINKS_PER_CALL = 32


@lru_cache(maxsize=1)
def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"callkit.preconnect.link", hashlib.sha256).digest()


def link_of(channel: str) -> str:
    """The public name of a connection in rtc messages: stable per connection, not its channel name."""
    return hmac.new(_key(), channel.encode(), hashlib.sha256).hexdigest()[:18]


def enabled() -> bool:
    return settings.CALLKIT_PRECONNECT


class Links:
    """What one caller connection has heard from its callee's ringing devices: link -> channel, per call."""

    def __init__(self) -> None:
        self._calls: dict[str, dict[str, str]] = {}

    def learn(self, call_id: str, channel: str) -> str | None:
        """Remember the device at `channel` for `call_id`; its link, or None past the cap."""
        links = self._calls.setdefault(call_id, {})
        link = link_of(channel)
        if link not in links and len(links) >= MAX_LINKS_PER_CALL:
            return None
        links[link] = channel
        return link

    def channel(self, call_id: str, link: str) -> str | None:
        return self._calls.get(call_id, {}).get(link)

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
