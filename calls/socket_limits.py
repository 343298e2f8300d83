"""What one user or address may hold and do across all sockets and processes: open sockets,
lookups by username; and the per-process renewal of what each open socket holds."""

import time

from asgiref.sync import sync_to_async
from django.conf import settings

from . import security_state
from .client_address import client_key
from .groups import user_group

# Calls by username (each one answers "is there such a user?"): per user and per address, in a
# fixed window, across sockets and processes, so reconnecting does not start a fresh allowance.
NAME_LOOKUPS_PER_USER = 10
NAME_LOOKUPS_PER_ADDRESS = 30
NAME_LOOKUP_WINDOW = 60.0


def _ttl() -> float:
    # A place in a cap outlives a missed heartbeat or two, and fades within ~30 s of a dead process.
    return max(30.0, 6 * settings.CALLKIT_SWEEP_INTERVAL)


def address_of(scope: dict) -> str:
    """The client's address as daphne gives it (the real one behind a proxy with --proxy-headers),
    as per-address limits count it (an IPv6 /64 is one address)."""
    client = scope.get("client") or ["unknown"]
    return client_key(str(client[0]))


class OpenSockets:
    """This process's open sockets: their places in the caps, renewed by the timekeeper."""

    def __init__(self) -> None:
        # channel name -> (live-set keys it holds, user group, when the group was last joined)
        self.held: dict[str, tuple[tuple[str, ...], str, float]] = {}
        self.renewed_at = float("-inf")

    async def admit(self, channel: str, user_id: int, address: str) -> bool:
        """Take a place for `channel` under its user's and its address's cap; False if either is full."""
        keys = (f"sockets:user:{user_id}", f"sockets:addr:{address}")
        limits = (settings.CALLKIT_MAX_SOCKETS_PER_USER, settings.CALLKIT_MAX_SOCKETS_PER_ADDRESS)
        taken = []
        for key, limit in zip(keys, limits):
            if not await _in_thread(security_state.live_join)(key, channel, limit=limit, ttl=_ttl()):
                for held in taken:
                    await _in_thread(security_state.live_leave)(held, channel)
                return False
            taken.append(key)
        self.held[channel] = (keys, user_group(user_id), time.monotonic())
        return True

    async def release(self, channel: str) -> None:
        """Give back `channel`'s places."""
        keys, _, _ = self.held.pop(channel, ((), "", 0.0))
        for key in keys:
            await _in_thread(security_state.live_leave)(key, channel)

    async def renew(self, layer) -> None:
        """Keep every open socket's places alive, and its user-group membership well before the
        channel layer's group_expiry drops it (a tab open for days must still ring)."""
        now = time.monotonic()
        if now - self.renewed_at >= settings.CALLKIT_SWEEP_INTERVAL / 2:  # not on every wake-up
            self.renewed_at = now
            places = [(key, channel) for channel, (keys, _, _) in self.held.items() for key in keys]
            await _in_thread(security_state.live_refresh_many)(places, ttl=_ttl())
        regroup_after = getattr(layer, "group_expiry", 86_400) / 3
        for channel, (keys, group, joined) in list(self.held.items()):
            if now - joined >= regroup_after and channel in self.held:
                await layer.group_add(group, channel)
                self.held[channel] = (keys, group, now)


def _in_thread(func):
    # Redis or memory, never the database: off the database thread so it queues behind no query.
    return sync_to_async(func, thread_sensitive=False)


def name_lookup_allowed(user_id: int, address: str) -> bool:
    """Count one lookup by username; False once the user or the address is over its limit."""
    by_user = security_state.hit(f"lookup:user:{user_id}", window=NAME_LOOKUP_WINDOW)
    by_address = security_state.hit(f"lookup:addr:{address}", window=NAME_LOOKUP_WINDOW)
    return by_user <= NAME_LOOKUPS_PER_USER and by_address <= NAME_LOOKUPS_PER_ADDRESS


open_sockets = OpenSockets()
