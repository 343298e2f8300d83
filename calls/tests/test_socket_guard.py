"""Who may connect, who may touch a call, and what bad input gets: an error, and nothing else."""

import json
import os
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from calls.models import Call
from calls.protocol import CLIENT_TYPES, MAX_FRAME_BYTES, MAX_SDP_CHARS
from callkit_web.asgi import application

from .conftest import HOST_HEADER, session_cookie
from .test_socket_flows import connect_call, ring

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def snapshot_rows():
    return list(Call.objects.order_by("pk").values())


async def handshake(headers) -> bool:
    comm = WebsocketCommunicator(application, "/ws/calls/", headers=[HOST_HEADER, *headers])
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    return connected


async def test_anonymous_socket_is_refused():
    assert not await handshake([(b"origin", b"http://localhost")])


async def test_wrong_origin_is_refused(alice):
    cookie = (await database_sync_to_async(session_cookie)(alice)).encode()
    assert not await handshake([(b"origin", b"http://evil.example"), (b"cookie", cookie)])
    assert not await handshake([(b"cookie", cookie)])  # no Origin at all
    assert await handshake([(b"origin", b"http://localhost"), (b"cookie", cookie)])


@pytest.mark.parametrize(("host", "origin"), [
    (b"localhost:8000", b"http://localhost:3000"),  # same host, another port
    (b"localhost:8000", b"http://localhost"),
    (b"localhost:8000", b"https://localhost:8000"),  # another scheme
    (b"127.0.0.1:8000", b"https://127.0.0.1:9999"),
    (b"localhost", b"http://localhost.evil.example"),
    (b"evil.example", b"http://evil.example"),  # a Host the site does not serve
    (b"localhost", b"null"),
])
async def test_an_origin_must_match_in_scheme_host_and_port(alice, host, origin):
    cookie = (await database_sync_to_async(session_cookie)(alice)).encode()
    headers = [(b"host", host), (b"origin", origin), (b"cookie", cookie)]
    comm = WebsocketCommunicator(application, "/ws/calls/", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    assert not connected


@pytest.mark.parametrize(("host", "origin", "scheme"), [
    (b"localhost:8000", b"http://localhost:8000", "ws"),
    (b"127.0.0.1:8000", b"http://127.0.0.1:8000", "ws"),
    (b"localhost", b"https://localhost", "wss"),
    (b"localhost:443", b"https://localhost", "wss"),
    (b"[::1]:8000", b"http://[::1]:8000", "ws"),
])
async def test_the_sites_own_origin_is_accepted(alice, host, origin, scheme):
    cookie = (await database_sync_to_async(session_cookie)(alice)).encode()
    headers = [(b"host", host), (b"origin", origin), (b"cookie", cookie)]
    comm = WebsocketCommunicator(application, "/ws/calls/", headers=headers)
    comm.scope["scheme"] = scheme
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    assert connected


@pytest.mark.parametrize(("proto", "origin", "accepted"), [
    (b"https", b"https://callkit.example.org", True),
    (b"https", b"http://callkit.example.org", False),
    (b"http", b"https://callkit.example.org", False),
])
async def test_behind_a_tls_proxy_its_header_says_the_scheme(alice, settings, proto, origin, accepted):
    """daphne puts no scheme in a WebSocket's scope: behind nginx, X-Forwarded-Proto decides."""
    settings.ALLOWED_HOSTS = ["callkit.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    cookie = (await database_sync_to_async(session_cookie)(alice)).encode()
    headers = [(b"host", b"callkit.example.org"), (b"x-forwarded-proto", proto), (b"origin", origin),
               (b"cookie", cookie)]
    comm = WebsocketCommunicator(application, "/ws/calls/", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    assert connected is accepted


@pytest.mark.parametrize(("secure", "origin", "accepted"), [
    (True, b"https://localhost:8443", True), (True, b"http://localhost:8443", False),
    (False, b"http://localhost:8443", True), (False, b"https://localhost:8443", False),
])
async def test_without_a_scheme_the_secure_cookies_say_https(alice, settings, secure, origin, accepted):
    settings.SESSION_COOKIE_SECURE = secure
    cookie = (await database_sync_to_async(session_cookie)(alice)).encode()
    comm = WebsocketCommunicator(application, "/ws/calls/",
                                 headers=[(b"host", b"localhost:8443"), (b"origin", origin), (b"cookie", cookie)])
    assert "scheme" not in comm.scope  # as daphne gives it
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    assert connected is accepted


async def test_forged_session_is_refused():
    assert not await handshake([(b"origin", b"http://localhost"), (b"cookie", b"sessionid=forged")])


BAD_INPUT = [
    # (frame, code)
    ("not json", "bad_json"),
    ("{", "bad_json"),
    ("[]", "bad_message"),
    ("42", "bad_message"),
    ('"call.invite"', "bad_message"),
    ("{}", "bad_message"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "call.explode"}', "unknown_type"),
    ('{"type": "call.invite", "media": "video"}', "bad_message"),
    ('{"type": "call.invite", "to": "2", "media": "video"}', "bad_message"),
    ('{"type": "call.invite", "to": 2, "media": "hologram"}', "bad_message"),
    ('{"type": "call.invite", "to": 2, "media": "video", "timeout": 4}', "bad_message"),
    ('{"type": "call.invite", "to": 2, "media": "video", "timeout": 121}', "bad_message"),
    ('{"type": "call.invite", "to": 2, "media": "video", "extra": 1}', "bad_message"),
    ('{"type": "call.invite", "to": true, "media": "video"}', "bad_message"),
    ('{"type": "call.invite", "to": -1, "media": "video"}', "bad_message"),
    ('{"type": "call.accept"}', "bad_message"),
    ('{"type": "call.accept", "call_id": "nope"}', "bad_message"),
    ('{"type": "call.accept", "call_id": 5}', "bad_message"),
    ('{"type": "call.hangup", "call_id": "%s", "reason": "bored"}' % uuid.uuid4(), "bad_message"),
    ('{"type": "call.media", "call_id": "%s", "mic": "off"}' % uuid.uuid4(), "bad_message"),
    ('{"type": "call.switch_answer", "call_id": "%s", "accept": 1}' % uuid.uuid4(), "bad_message"),
    ('{"type": "rtc.offer", "call_id": "%s", "sdp": ""}' % uuid.uuid4(), "bad_message"),
    ('{"type": "rtc.offer", "call_id": "%s", "sdp": {"x": 1}}' % uuid.uuid4(), "bad_message"),
    ('{"type": "rtc.candidate", "call_id": "%s", "candidate": {"candidate": "c", "evil": 1}}'
     % uuid.uuid4(), "bad_message"),
    ('{"type": "rtc.candidate", "call_id": "%s"}' % uuid.uuid4(), "bad_message"),
    ('{"type": "ping", "ref": ""}', "bad_message"),
    ('{"type": "ping", "ref": "%s"}' % ("r" * 65), "bad_message"),
    (json.dumps({"type": "rtc.offer", "call_id": str(uuid.uuid4()), "sdp": "x" * (MAX_SDP_CHARS + 1)}),
     "bad_message"),
    (json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}), "too_large"),
    (json.dumps({"type": "ping", "pad": "€" * (MAX_FRAME_BYTES // 3 + 1)}), "too_large"),
]


async def test_bad_input_gets_a_coded_error_and_changes_nothing(open_tab, alice, bob, carol):
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    call = await connect_call(a, b, bob)
    before = await snapshot_rows()
    for frame, code in BAD_INPUT:
        await a.send_text(frame)
        reply = await a.expect("error")
        assert reply["code"] == code, (frame[:80], reply)
        assert reply["message"]
    await a.comm.send_to(bytes_data=b"\x00\x01")
    assert (await a.expect("error"))["code"] == "bad_message"
    assert await snapshot_rows() == before
    for tab in (b, c):
        await tab.silent()
    # The connection is still fully usable.
    await a.send(type="ping", ref="still-here")
    assert await a.recv() == {"type": "pong", "ref": "still-here"}
    await a.send(type="rtc.offer", call_id=call["id"], sdp="after the storm")
    assert (await b.recv())["sdp"] == "after the storm"


async def test_errors_echo_the_ref_of_a_bad_request(open_tab, alice):
    a = await open_tab(alice)
    await a.send_text('{"type": "call.invite", "to": "x", "media": "video", "ref": "abc"}')
    reply = await a.expect("error")
    assert (reply["code"], reply["ref"]) == ("bad_message", "abc")


async def test_a_stranger_can_do_nothing_to_a_call(open_tab, alice, bob, carol):
    """Every message type that names a call, sent by a third user, gets an error and no effect."""
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    ringing = await ring(a, [b], bob)
    call_id = ringing["id"]
    attempts = {
        "call.accept": {}, "call.reject": {}, "call.cancel": {}, "call.hangup": {},
        "call.media": {"mic": False}, "call.switch": {"media": "audio"},
        "call.switch_answer": {"accept": True}, "call.resume": {},
        "rtc.offer": {"sdp": "x"}, "rtc.answer": {"sdp": "x"}, "rtc.candidate": {"candidate": None},
    }
    assert set(attempts) | {"call.invite", "ping", "sync", "ice.refresh", "token.refresh"} == set(CLIENT_TYPES)
    before = await snapshot_rows()
    for kind in ("ringing", "active"):
        if kind == "active":
            await b.request("call.accept", call_id=call_id)
            await b.expect("call.accepted"), await a.expect("call.accepted")
            before = await snapshot_rows()
        for message_type, fields in attempts.items():
            reply = await c.error(message_type, call_id=call_id, **fields)
            # Messages only the connection holding a side may send say so, before any lookup.
            held_only = message_type.startswith("rtc.") or message_type == "call.media"
            expected = "not_in_call" if held_only else "not_found"
            assert reply["code"] == expected, (kind, message_type, reply)
        assert await snapshot_rows() == before
        await a.silent(), await b.silent()
    # Carol's sync shows nothing of a call that is not hers.
    await c.send(type="sync")
    assert (await c.expect("sync"))["call"] is None


async def test_a_flood_is_rate_limited_and_the_socket_survives(open_tab, alice):
    a = await open_tab(alice)
    for i in range(260):
        await a.send(type="ping")
    replies = [await a.recv() for _ in range(260)]
    kinds = [r["type"] if r["type"] == "pong" else r["code"] for r in replies]
    assert kinds.count("pong") >= 200 and "rate_limited" in kinds
    assert set(kinds) == {"pong", "rate_limited"}


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="only meaningful on real Redis")
async def test_idle_socket_on_redis_outlives_redis_py_timeouts(open_tab, alice, bob):
    """redis-py 8 timed out idle consumers after 5 s; hold one idle for 7 s and use it."""
    assert "RedisChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    a, b = await open_tab(alice), await open_tab(bob)
    await b.silent(timeout=7)
    await a.request("call.invite", to=bob.pk, media="audio")
    assert (await b.expect("call.incoming"))["call"]["caller"]["username"] == "alice"
