"""Random JSON thrown at the socket: every frame gets a coded error or a harmless answer, the
connection survives, nothing is stored and nothing reaches anyone else."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from calls.models import Call, HistoryEntry, Line
from calls.protocol import CLIENT_TYPES

from .conftest import close_channel_layer, delete_all_calls

pytestmark = pytest.mark.django_db(transaction=True)

# Strings often hold NUL (PostgreSQL refuses it in text: it must be refused before the database).
texts = st.text(max_size=30) | st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=10), st.text(max_size=10))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["call_id", "to", "to_username", "media", "timeout", "sdp", "candidate", "mic", "camera", "accept", "reason",
          "fresh", "ref"]
# Messages shaped almost right: a real type with random values in real (and bogus) fields.
near_messages = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(CLIENT_TYPES + ("call.explode", "")),
    st.dictionaries(st.sampled_from(FIELDS + ["bogus"]), json_values, max_size=4),
)
def nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


frames = st.one_of(
    json_values.map(json.dumps),
    # Nesting deeper than any parser's recursion limit, at the top and inside a real message.
    st.integers(100, 20_000).map(lambda d: nested(d, "1")),
    st.integers(100, 20_000).map(lambda d: json.dumps({"type": "ping", "ref": "x"})[:-1] + ', "x": ' + nested(d, "") + "}"),
    near_messages.map(json.dumps),
    st.text(min_size=1, max_size=200),  # (the test communicator cannot send an empty frame)
)


def db_state():
    return (list(Call.objects.order_by("pk").values()), list(Line.objects.values_list("user_id", "call_id")),
            HistoryEntry.objects.count())


@given(batch=st.lists(frames, min_size=1, max_size=15))
@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_random_frames_from_a_stranger(open_tab_sync, alice, bob, carol, batch):
    async_to_sync(_fuzz)(open_tab_sync, alice, bob, carol, batch)


async def _fuzz(open_tab, alice, bob, carol, batch):
    from .test_socket_flows import connect_call

    channel_layers.backends.clear()  # a fresh layer for this example's event loop
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    try:
        await connect_call(a, b, bob)
        before = await database_sync_to_async(db_state)()
        for frame in batch:
            await c.send_text(frame)
            reply = await c.recv()
            if reply["type"] == "error":
                assert reply["code"] in {"bad_json", "bad_message", "unknown_type", "too_large", "not_found",
                                         "not_in_call", "invalid_state", "self_call", "unknown_user",
                                         "rate_limited", "already_in_call", "too_large"}, reply
            else:
                # The only things a stranger may get: pong, sync, their own ICE servers, or an ack for a call of their own.
                assert reply["type"] in {"pong", "sync", "ice.servers", "ack"}, reply
                if reply["type"] == "ack":
                    await c.recv()  # the event of carol's own call (a new call or a busy bill)
                    before = await database_sync_to_async(db_state)()
        assert await database_sync_to_async(db_state)() == before
        await a.silent(0.1), await b.silent(0.1)  # nothing leaked to the call's parties
        await c.send(type="ping", ref="alive")
        assert await c.recv() == {"type": "pong", "ref": "alive"}
    finally:
        for tab in (a, b, c):
            await tab.close()
        await database_sync_to_async(delete_all_calls)()
        await close_channel_layer()


async def test_nul_in_a_username_is_refused_with_a_code(open_tab, alice, bob):
    a = await open_tab(alice)
    reply = await a.error("call.invite", to_username="bo\x00b", media="audio", ref="r1")
    assert reply["code"] == "bad_message" and reply["ref"] == "r1", reply
    await a.send(type="ping", ref="alive")
    assert await a.recv() == {"type": "pong", "ref": "alive"}
    assert not await database_sync_to_async(Call.objects.exists)()


async def test_deeply_nested_json_is_refused_with_a_code(open_tab, alice):
    a = await open_tab(alice)
    for frame in (nested(30_000, "1"), '{"type": "ping", "ref": "r1", "x": ' + nested(5_000, "") + "}"):
        await a.send_text(frame)
        assert (await a.expect("error"))["code"] == "bad_json"
    await a.send(type="ping", ref="alive")
    assert await a.recv() == {"type": "pong", "ref": "alive"}


async def test_a_huge_field_name_is_not_echoed(open_tab, alice):
    a = await open_tab(alice)
    await a.send_text(json.dumps({"type": "ping", "x" * 60_000: 1}))
    reply = await a.expect("error")
    assert reply["code"] == "bad_message" and len(json.dumps(reply)) < 400, len(json.dumps(reply))
