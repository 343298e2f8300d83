"""Security state: counters and markers that no flood of other keys can evict, on either backend."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from calls import security_state
from calls.models import SecurityCounter

pytestmark = pytest.mark.django_db


def test_a_counter_counts_within_its_window_and_starts_again_after_it():
    assert [security_state.hit("k", window=60) for _ in range(3)] == [1, 2, 3]
    assert security_state.count("k") == 3
    security_state.forget("k")
    assert security_state.count("k") == 0
    assert security_state.hit("k", window=60) == 1


def test_a_marker_is_claimed_once():
    assert security_state.claim("used:abc", ttl=60) is True
    assert security_state.claim("used:abc", ttl=60) is False
    assert security_state.claim("used:other", ttl=60) is True


def test_a_thousand_other_keys_evict_nothing():
    """Django's local-memory cache keeps 300 entries: 320 page loads evicted a used-token marker."""
    security_state.claim("used:first", ttl=600)
    for _ in range(5):
        security_state.hit("locked", window=600)
    for n in range(1000):
        security_state.hit(f"flood:{n}", window=600)
    assert security_state.claim("used:first", ttl=600) is False
    assert security_state.count("locked") == 5


@pytest.mark.skipif("__import__('django.conf').conf.settings.REDIS_URL")  # clear() flushes Redis
def test_the_cache_is_not_where_it_lives():
    security_state.claim("used:x", ttl=600)
    cache.clear()
    assert security_state.claim("used:x", ttl=600) is False


@pytest.mark.skipif("not __import__('django.conf').conf.settings.REDIS_URL")
def test_with_redis_nothing_goes_to_the_database():
    security_state.hit("k", window=60)
    assert not SecurityCounter.objects.exists()


@pytest.mark.skipif("__import__('django.conf').conf.settings.REDIS_URL")
def test_without_redis_an_expired_window_starts_again_and_is_swept():
    security_state.hit("old", window=60)
    later = timezone.now() + timedelta(seconds=61)
    with mock.patch("calls.security_state.timezone.now", return_value=later):
        assert security_state.count("old") == 0
        assert security_state.hit("new", window=60) == 1
    assert not SecurityCounter.objects.filter(key="old").exists()


def test_a_live_set_admits_up_to_its_limit_and_frees_a_place_on_leave():
    assert all(security_state.live_join("sockets:1", f"c{n}", limit=3, ttl=60) for n in range(3))
    assert security_state.live_join("sockets:1", "c3", limit=3, ttl=60) is False
    assert security_state.live_join("sockets:1", "c1", limit=3, ttl=60) is True  # already in
    security_state.live_leave("sockets:1", "c0")
    assert security_state.live_join("sockets:1", "c3", limit=3, ttl=60) is True
    assert sorted(security_state.live_members("sockets:1")) == ["c1", "c2", "c3"]


@pytest.mark.skipif("__import__('django.conf').conf.settings.REDIS_URL")  # Redis keeps its own time
def test_live_members_fade_out_unless_refreshed():
    security_state.live_join("s", "a", limit=2, ttl=60)
    security_state.live_join("s", "b", limit=2, ttl=60)
    later = __import__("time").time() + 61
    security_state.live_refresh("s", "b", ttl=120)
    with mock.patch("calls.security_state.time.time", return_value=later):
        assert security_state.live_members("s") == ["b"]
        assert security_state.live_join("s", "c", limit=2, ttl=60) is True


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("unknown", "unknown"),
])
def test_an_ipv6_subscriber_is_one_address_to_the_limits(address, key):
    """One /64 is one subscriber: 2^64 addresses must not mean 2^64 allowances."""
    from calls.client_address import client_key

    assert client_key(address) == key


@pytest.mark.skipif("not __import__('django.conf').conf.settings.REDIS_URL")
def test_in_redis_members_fade_on_redis_time_and_a_process_clock_ahead_expires_nobody():
    security_state.live_join("s", "a", limit=3, ttl=30)
    later = __import__("time").time() + 100  # this process's clock is 100 s ahead of the others'
    with mock.patch("calls.security_state.time.time", return_value=later):
        assert security_state.live_join("s", "b", limit=3, ttl=30) is True
    assert sorted(security_state.live_members("s")) == ["a", "b"]
    security_state.live_join("s", "short", limit=3, ttl=0.2)
    security_state.live_refresh("s", "a", ttl=60)
    deadline = __import__("time").monotonic() + 5
    while "short" in security_state.live_members("s"):  # fades 0.2 s later, by Redis's clock
        assert __import__("time").monotonic() < deadline, "a member outlived its ttl"
        __import__("time").sleep(0.02)  # between polls
    assert sorted(security_state.live_members("s")) == ["a", "b"]


def test_renewing_many_places_keeps_each_alive_and_costs_redis_one_round_trip(monkeypatch):
    """A process renews all its sockets' places each tick: not one round trip per place."""
    import redis.connection

    places = [(f"sockets:user:{n % 40}", f"chan{n}") for n in range(200)]
    for key, member in places:
        security_state.live_join(key, member, limit=10, ttl=0.5)
    security_state.live_refresh_many(places[:1], ttl=60)  # the first call may load the script
    sends = []
    real = redis.connection.AbstractConnection.send_packed_command
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command",
                        lambda self, *a, **k: (sends.append(1), real(self, *a, **k))[1])
    later = __import__("time").time() + 30
    security_state.live_refresh_many(places, ttl=60)
    if security_state.settings.REDIS_URL:
        assert len(sends) <= 2  # SCRIPT EXISTS, then every EVALSHA in one pipeline
        __import__("time").sleep(0.6)  # past the ttl they joined with, on Redis's own clock
        assert all(member in security_state.live_members(key) for key, member in places)
    else:
        with mock.patch("calls.security_state.time.time", return_value=later):
            assert all(member in security_state.live_members(key) for key, member in places)
