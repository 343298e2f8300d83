"""Security state that is never evicted before it expires: counters, single-use markers, live sets.

With REDIS_URL it lives in Redis (shared by every process). Every key here has a TTL, so Redis must
run with its default `maxmemory-policy noeviction`: a `volatile-*` or `allkeys-*` policy would
evict exactly these keys under memory pressure (with noeviction a full Redis refuses writes instead). Without Redis there is
one process: counters and markers go to the database (they outlive a restart), live sets (open
sockets, which die with the process anyway) stay in this process's memory.

A cache is the wrong home for any of it: Django's local-memory cache keeps 300 entries, so an
attacker who makes 300 new ones evicts a lockout or a "token used" marker (issue 11, finding 4).
"""

import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

_PREFIX = "callkit:sec:"


def _redis():
    """This process's Redis client (thread-safe, pooled), made on first use."""
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


_client = None

# Live sets in Redis: KEYS[1] a sorted set of members scored by their expiry, on Redis's own
# clock (TIME), so processes whose clocks disagree cannot expire each other's members. Atomic, so
# two processes admitting the last free place at once cannot both get it.
_NOW_LUA = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
# ARGV: member, limit, ttl.
_JOIN_LUA = _NOW_LUA + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
return 1
"""
# ARGV: member, ttl.
_REFRESH_LUA = _NOW_LUA + """
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
"""
_MEMBERS_LUA = _NOW_LUA + "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')"


def hit(key: str, *, window: float) -> int:
    """Count one more event under `key` in a fixed window of `window` seconds; the new count."""
    if settings.REDIS_URL:
        # SET … NX EX starts a window with its expiry; INCR keeps it (EXPIRE NX would need Redis 7).
        pipe = _redis().pipeline()
        pipe.set(_PREFIX + key, 0, ex=max(1, int(window)), nx=True)
        pipe.incr(_PREFIX + key)
        return int(pipe.execute()[1])
    return _db_hit(key, window)


def count(key: str) -> int:
    """Events counted under `key` in its current window (0 once it has expired)."""
    if settings.REDIS_URL:
        return int(_redis().get(_PREFIX + key) or 0)
    from .models import SecurityCounter

    row = SecurityCounter.objects.filter(key=key, expires_at__gt=timezone.now()).values_list("count", flat=True)
    return row.first() or 0


def forget(key: str) -> None:
    """Drop `key`'s counter or marker."""
    if settings.REDIS_URL:
        _redis().delete(_PREFIX + key)
        return
    from .models import SecurityCounter

    SecurityCounter.objects.filter(key=key).delete()


def claim(key: str, *, ttl: float) -> bool:
    """True the first time `key` is claimed within `ttl` seconds, False every later time."""
    if settings.REDIS_URL:
        return bool(_redis().set(_PREFIX + key, 1, nx=True, ex=max(1, int(ttl))))
    return _db_hit(key, ttl) == 1


def _db_hit(key: str, window: float) -> int:
    from .models import SecurityCounter

    now = timezone.now()
    rows = SecurityCounter.objects.filter(key=key, expires_at__gt=now)
    with transaction.atomic():
        if rows.update(count=F("count") + 1) == 0:
            # Absent or expired: start a new window. Expired rows are swept here, on the index.
            SecurityCounter.objects.filter(expires_at__lte=now).delete()
            try:
                with transaction.atomic():
                    SecurityCounter.objects.create(key=key, count=1, expires_at=now + timedelta(seconds=window))
                return 1
            except IntegrityError:  # another request started it meanwhile
                rows.update(count=F("count") + 1)
        return rows.values_list("count", flat=True).first() or 0


_local_sets: dict[str, dict[str, float]] = {}
_local_lock = threading.Lock()


def live_join(key: str, member: str, *, limit: int, ttl: float) -> bool:
    """Add `member` to the live set `key` unless it already holds `limit` others; True if in.

    Members expire `ttl` seconds after they last joined or were refreshed (a dead process's
    members fade out on their own)."""
    if settings.REDIS_URL:
        return bool(_redis().eval(_JOIN_LUA, 1, _PREFIX + key, member, limit, ttl))
    now = time.time()
    with _local_lock:
        members = _local_sets.setdefault(key, {})
        for name in [m for m, expiry in members.items() if expiry <= now]:
            del members[name]
        if member not in members and len(members) >= limit:
            return False
        members[member] = now + ttl
        return True


def live_refresh(key: str, member: str, *, ttl: float) -> None:
    """Keep `member` of the live set `key` alive for another `ttl` seconds."""
    live_refresh_many([(key, member)], ttl=ttl)


def live_refresh_many(places: list[tuple[str, str]], *, ttl: float) -> None:
    """Keep each (key, member) alive for another `ttl` seconds, in one round trip to Redis."""
    if settings.REDIS_URL:
        # A process renews every socket it holds each tick: one EVAL round trip per place was
        # 2,000 a tick for 1,000 sockets (13% of a busy process's CPU). Not a transaction: each
        # script is atomic on its own, and a place that left meanwhile is not re-added ('XX').
        pipe = _redis().pipeline(transaction=False)
        script = _refresh_script()
        for key, member in places:
            script(keys=[_PREFIX + key], args=[member, ttl], client=pipe)
        pipe.execute()
        return
    now = time.time()
    with _local_lock:
        for key, member in places:
            members = _local_sets.get(key)
            if members is not None and member in members:
                members[member] = now + ttl


def _refresh_script():
    """_REFRESH_LUA registered once (sent by its SHA after the first time)."""
    global _refresh
    if _refresh is None:
        _refresh = _redis().register_script(_REFRESH_LUA)
    return _refresh


_refresh = None


def live_leave(key: str, member: str) -> None:
    """Remove `member` from the live set `key`."""
    if settings.REDIS_URL:
        _redis().zrem(_PREFIX + key, member)
        return
    with _local_lock:
        members = _local_sets.get(key)
        if members is not None:
            members.pop(member, None)
            if not members:
                del _local_sets[key]


def live_members(key: str) -> list[str]:
    """The live members of `key`, oldest first."""
    if settings.REDIS_URL:
        return [m.decode() for m in _redis().eval(_MEMBERS_LUA, 1, _PREFIX + key)]
    now = time.time()
    with _local_lock:
        members = _local_sets.get(key, {})
        return [m for m, expiry in sorted(members.items(), key=lambda item: item[1]) if expiry > now]


def reset_outside_database() -> None:
    """Forget every counter, marker and live set kept in Redis or memory (tests only)."""
    with _local_lock:
        _local_sets.clear()
    if settings.REDIS_URL:
        client = _redis()
        for name in client.scan_iter(match=_PREFIX + "*", count=500):
            client.delete(name)
