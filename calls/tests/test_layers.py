"""The in-memory channel layer: the sweep runs once a second, and what it sweeps still goes."""

import time

from channels.layers import get_channel_layer

from calls.layers import InMemoryChannelLayer


def test_settings_use_it_without_redis(settings):
    if not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
        assert isinstance(get_channel_layer(), InMemoryChannelLayer)


async def test_sweeps_at_most_once_a_second(monkeypatch):
    layer = InMemoryChannelLayer()
    sweeps = []
    monkeypatch.setattr("channels.layers.InMemoryChannelLayer._clean_expired", lambda self: sweeps.append(1))
    for _ in range(50):
        await layer.group_send("user.1", {"type": "x"})
    assert len(sweeps) == 1
    clock = time.monotonic()
    monkeypatch.setattr("calls.layers.time.monotonic", lambda: clock + 1.01)
    await layer.group_send("user.1", {"type": "x"})
    assert len(sweeps) == 2


async def test_expired_messages_and_memberships_still_go(monkeypatch):
    layer = InMemoryChannelLayer(expiry=60, group_expiry=86_400)
    await layer.group_add("user.1", "specific.a!x")
    await layer.send("specific.a!x", {"type": "old"})
    await layer.group_send("user.2", {"type": "nothing"})  # the first sweep: nothing has expired
    assert "specific.a!x" in layer.channels and "specific.a!x" in layer.groups["user.1"]
    later_wall, later_mono = time.time() + 90_000, time.monotonic() + 2
    monkeypatch.setattr("channels.layers.time.time", lambda: later_wall)
    monkeypatch.setattr("calls.layers.time.monotonic", lambda: later_mono)
    await layer.group_send("user.2", {"type": "nothing"})
    assert "specific.a!x" not in layer.channels
    assert "specific.a!x" not in layer.groups.get("user.1", {})


async def test_each_receiver_gets_its_own_copy_of_a_message():
    layer = InMemoryChannelLayer()
    for name in ("specific.a!x", "specific.a!y"):
        await layer.group_add("user.1", name)
    message = {"type": "call.event", "call": {"id": "c", "away": ["caller"]}, "pair": (1, [2])}
    await layer.group_send("user.1", message)
    first, second = await layer.receive("specific.a!x"), await layer.receive("specific.a!y")
    assert first == second == message
    first["call"]["away"].append("callee")
    first["pair"][1].append(3)
    assert second == message == {"type": "call.event", "call": {"id": "c", "away": ["caller"]}, "pair": (1, [2])}


async def test_a_full_member_of_a_group_misses_the_message_and_the_others_get_it():
    layer = InMemoryChannelLayer(capacity=1)
    for name in ("specific.a!x", "specific.a!y"):
        await layer.group_add("user.1", name)
    await layer.send("specific.a!x", {"type": "first"})
    await layer.group_send("user.1", {"type": "second"})
    assert (await layer.receive("specific.a!x"))["type"] == "first"
    assert (await layer.receive("specific.a!y"))["type"] == "second"
