"""Signing out closes sockets: logout that session's, a new password or deactivation every one of the user's."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from callkit_web.asgi import application
from calls import embed_tokens
from calls.tests.conftest import HOST_HEADER, ORIGIN, session_cookie
from calls.ws_auth import PROTOCOL, TOKEN_PREFIX

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(cookie: str = "", token: str = "") -> WebsocketCommunicator:
    headers = [HOST_HEADER, (b"origin", ORIGIN.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    protocols = [PROTOCOL, TOKEN_PREFIX + token.replace(":", ".")] if token else None
    comm = WebsocketCommunicator(application, "/ws/calls/", headers=headers, subprotocols=protocols)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    assert (await comm.receive_json_from(timeout=3))["type"] == "hello"
    return comm


async def session_socket(user) -> tuple[WebsocketCommunicator, str]:
    cookie = await database_sync_to_async(session_cookie)(user)
    return await open_socket(cookie), cookie


async def assert_signed_out(comm: WebsocketCommunicator) -> None:
    """The socket is told why, then closed with 4401."""
    message = await comm.receive_json_from(timeout=3)
    assert message["type"] == "error" and message["code"] == "signed_out", message
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}


async def assert_open(comm: WebsocketCommunicator) -> None:
    """Still open and answering."""
    await comm.send_json_to({"type": "ping", "ref": "p"})
    assert (await comm.receive_json_from(timeout=3))["type"] == "pong"


def log_out(cookie: str) -> int:
    client = Client()
    name, value = cookie.split("=", 1)
    client.cookies[name] = value
    assert name == settings.SESSION_COOKIE_NAME
    return client.post("/accounts/logout/").status_code


async def test_logging_out_closes_that_sessions_sockets_only(alice):
    first, cookie = await session_socket(alice)
    same_session = await open_socket(cookie)
    other_session, _ = await session_socket(alice)
    assert await database_sync_to_async(log_out)(cookie) == 302
    await assert_signed_out(first)
    await assert_signed_out(same_session)
    await assert_open(other_session)
    await other_session.disconnect()


async def test_a_new_password_closes_every_socket_of_the_user(alice, bob):
    sockets = [(await session_socket(alice))[0] for _ in range(2)]
    token = (await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)).token
    sockets.append(await open_socket(token=token))
    bobs, _ = await session_socket(bob)

    def change_password():
        alice.set_password("a new one")
        alice.save()

    await database_sync_to_async(change_password)()
    for comm in sockets:
        await assert_signed_out(comm)
    await assert_open(bobs)
    await bobs.disconnect()


async def test_deactivation_closes_every_socket_of_the_user(alice):
    sockets = [(await session_socket(alice))[0] for _ in range(2)]
    token = (await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)).token
    sockets.append(await open_socket(token=token))
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    for comm in sockets:
        await assert_signed_out(comm)


async def test_deleting_the_account_closes_its_sockets(alice):
    comm, _ = await session_socket(alice)
    await database_sync_to_async(alice.delete)()
    await assert_signed_out(comm)


async def test_other_saves_of_the_user_close_nothing(alice, bob):
    comm, cookie = await session_socket(alice)

    def unrelated_saves():
        Client().force_login(alice)  # another login: last_login changes
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie.split("=", 1)[1]
        assert client.get("/history/").status_code == 200  # saves history_seen_at
        alice.display_name = "Alice L."
        alice.save()

    await database_sync_to_async(unrelated_saves)()
    assert await comm.receive_nothing(timeout=0.3)
    await assert_open(comm)
    await comm.disconnect()


def test_a_tab_told_it_is_signed_out_finds_its_session_gone(alice, monkeypatch):
    """The message goes at once (no transaction): the session must already be gone, or the tab
    that reloads on "signed out" is still signed in (it happened under load)."""
    from django.contrib.sessions.backends.db import SessionStore

    from calls import session_sockets

    seen = []
    monkeypatch.setattr(session_sockets, "sign_out",
                        lambda user_id, key=None: seen.append(SessionStore().exists(key)))
    cookie = session_cookie(alice)
    assert log_out(cookie) == 302
    assert seen == [False]
