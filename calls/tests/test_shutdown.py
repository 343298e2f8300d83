"""SIGTERM to a real daphne holding a live call: its sockets close with 4012 (server restart),
it exits within seconds, and the call is left live with its grace started, for another process
to resume."""

import asyncio
import json
import signal
import time

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from calls.models import Call

from .conftest import session_cookie
from .e2e.conftest import Server

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = 30  # long enough that only a clock bug could end the call within this test


async def open_socket(srv: Server, user, tab: str, hello=lambda message: True):
    """A signed-in socket whose hello is checked by `hello`."""
    cookie = await database_sync_to_async(session_cookie)(user)
    ws = await connect(f"ws://127.0.0.1:{srv.port}/ws/calls/?tab={tab}", origin=srv.url,
                       additional_headers={"Cookie": cookie}, ping_interval=None)
    message = await next_of(ws, "hello")
    assert message["user"]["id"] == user.pk and hello(message), message
    return ws


async def next_of(ws, kind: str, timeout: float = 5) -> dict:
    """The next message of type `kind`, skipping any other."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def close_code(ws, timeout: float) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed:
        pass
    return ws.close_code


async def test_sigterm_closes_sockets_for_a_restart_and_exits_leaving_the_call_to_its_grace(alice, bob):
    srv, other = Server(CALLKIT_GRACE=str(GRACE)), Server(CALLKIT_GRACE=str(GRACE))
    try:
        a = await open_socket(srv, alice, "alice-tab-1")
        b = await open_socket(srv, bob, "bob-tab-1")
        await a.send(json.dumps({"type": "call.invite", "to": bob.pk, "media": "audio"}))
        call_id = (await next_of(b, "call.incoming"))["call"]["id"]
        await b.send(json.dumps({"type": "call.accept", "call_id": call_id}))
        for ws in (a, b):
            assert (await next_of(ws, "call.accepted"))["call"]["state"] == "active"

        signalled = timezone.now()
        srv.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        # The documented "server restart" close, so browsers reconnect (to another process).
        assert [await close_code(ws, timeout=5) for ws in (a, b)] == [4012, 4012]
        exit_code = await asyncio.to_thread(srv.proc.wait, 10)
        took = time.monotonic() - started
        assert exit_code == 0, srv.output()
        assert took < 5, f"daphne took {took:.1f} s to exit"

        call = await database_sync_to_async(Call.objects.get)(pk=call_id)
        # Still live: each side's grace started when its socket closed; nobody has come back yet.
        assert (call.state, call.status, call.ended_at) == ("active", "", None)
        for deadline in (call.caller_gone_deadline, call.callee_gone_deadline):
            assert deadline is not None
            assert abs((deadline - signalled).total_seconds() - GRACE) < 5

        # The tabs come back through another process and take their sides back.
        for user, tab in ((alice, "alice-tab-1"), (bob, "bob-tab-1")):
            ws = await open_socket(other, user, tab, hello=lambda h: h["call"]["away"] and h["this_tab"])
            await ws.send(json.dumps({"type": "call.resume", "call_id": call_id, "ref": "r"}))
            assert (await next_of(ws, "ack"))["call_id"] == call_id
        call = await database_sync_to_async(Call.objects.get)(pk=call_id)
        assert (call.state, call.caller_gone_deadline, call.callee_gone_deadline) == ("active", None, None)
    finally:
        if srv.proc.poll() is None:
            srv.kill()
        srv.log.close()
        other.stop()
