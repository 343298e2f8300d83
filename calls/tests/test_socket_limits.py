"""Caps that hold across sockets (and, with Redis, processes): sockets per user and per address,
lookups by username; group membership that outlives the layer's group_expiry; a full peer inbox."""

import asyncio
import copy
import time

import pytest
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from calls import socket_limits

from .conftest import Tab
from .test_socket_flows import connect_call

pytestmark = pytest.mark.django_db(transaction=True)


async def refused(open_tab, user) -> dict:
    """Open a socket that must be turned away: its error, then the close code."""
    tab: Tab = await open_tab(user, expect_hello=False)
    error = await tab.expect("error")
    closed = await tab.comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4429}, closed
    return error


async def test_sockets_per_user_are_capped_and_the_oldest_keep_working(open_tab, alice, settings):
    settings.CALLKIT_MAX_SOCKETS_PER_USER = 3
    tabs = [await open_tab(alice) for _ in range(3)]
    assert (await refused(open_tab, alice))["code"] == "too_many_connections"
    for tab in tabs:
        await tab.send(type="ping", ref="p")
        assert await tab.recv() == {"type": "pong", "ref": "p"}
    await tabs[0].close()
    await open_tab(alice)  # a place came free


async def test_sockets_per_address_are_capped(open_tab, alice, bob, settings):
    settings.CALLKIT_MAX_SOCKETS_PER_ADDRESS = 2
    await open_tab(alice), await open_tab(bob)  # (the test communicator's sockets share an address)
    assert (await refused(open_tab, bob))["code"] == "too_many_connections"


async def test_a_refused_socket_does_not_hold_a_place(open_tab, alice, bob, settings):
    settings.CALLKIT_MAX_SOCKETS_PER_USER = 1
    await open_tab(alice)
    await refused(open_tab, alice)
    # bob's socket from the same address counts once: alice's refused one left nothing behind
    settings.CALLKIT_MAX_SOCKETS_PER_ADDRESS = 2
    await open_tab(bob)


async def test_name_lookups_are_counted_across_reconnects(open_tab, alice):
    seen = []
    for _ in range(3):  # a socket per few lookups, as a reconnecting embed would
        tab = await open_tab(alice)
        for _ in range(4):
            seen.append((await tab.error("call.invite", to_username="nobody", media="audio"))["code"])
        await tab.close()
    assert seen.count("unknown_user") == socket_limits.NAME_LOOKUPS_PER_USER
    assert seen[socket_limits.NAME_LOOKUPS_PER_USER:] == ["rate_limited"] * (12 - socket_limits.NAME_LOOKUPS_PER_USER)


async def test_name_lookups_are_counted_per_address(open_tab, make_user, monkeypatch):
    monkeypatch.setattr(socket_limits, "NAME_LOOKUPS_PER_ADDRESS", 4)
    users = [await asyncio.to_thread(make_user, f"u{i}") for i in range(3)]
    codes = []
    for user in users:  # three accounts behind one address
        tab = await open_tab(user)
        for _ in range(2):
            codes.append((await tab.error("call.invite", to_username="nobody", media="audio"))["code"])
    assert codes == ["unknown_user"] * 4 + ["rate_limited"] * 2


async def test_a_tab_open_longer_than_the_group_expiry_still_rings(open_tab, alice, bob, settings):
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"].setdefault("CONFIG", {})["group_expiry"] = 2
    settings.CHANNEL_LAYERS = layers
    settings.CALLKIT_SWEEP_INTERVAL = 0.2
    a = await open_tab(alice)
    opened = time.monotonic()
    b = await open_tab(bob)
    assert get_channel_layer().group_expiry == 2
    # Let the first membership expire (the in-memory layer sweeps once a second; Redis at once).
    deadline = time.monotonic() + 10
    while time.monotonic() - opened < 3.5:
        assert time.monotonic() < deadline
        await a.send(type="ping"), await a.expect("pong")  # keep the loop (and the timekeeper) going
        await asyncio.sleep(0.1)  # the passing of time is what this test is about
    await b.send(type="call.invite", to=alice.pk, media="audio", ref="r")
    assert (await a.expect("call.incoming"))["call"]["caller"]["id"] == bob.pk


async def test_a_full_peer_inbox_is_an_error_to_the_sender(open_tab, alice, bob, monkeypatch):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    layer = get_channel_layer()
    send = layer.send

    async def full(channel, message):
        if message.get("type") == "rtc.relay":
            raise ChannelFull()
        return await send(channel, message)

    monkeypatch.setattr(layer, "send", full)
    error = await a.error("rtc.offer", call_id=call["id"], sdp="v=0", ref="o1")
    assert error["code"] == "peer_unavailable" and error["ref"] == "o1"
    await a.send(type="ping", ref="alive")
    assert await a.recv() == {"type": "pong", "ref": "alive"}


async def test_an_open_socket_keeps_its_place_past_the_ttl(open_tab, alice, settings, monkeypatch):
    from calls import security_state

    monkeypatch.setattr(socket_limits, "_ttl", lambda: 0.6)
    settings.CALLKIT_SWEEP_INTERVAL = 0.1
    a = await open_tab(alice)
    key = f"sockets:user:{alice.pk}"
    assert len(await asyncio.to_thread(security_state.live_members, key)) == 1
    opened = time.monotonic()
    while time.monotonic() - opened < 2:  # three TTLs: without renewal the place would be gone
        await a.send(type="ping"), await a.expect("pong")
        await asyncio.sleep(0.1)  # the passing of time is what this test is about
    assert len(await asyncio.to_thread(security_state.live_members, key)) == 1
    await a.close()
    assert await asyncio.to_thread(security_state.live_members, key) == []
