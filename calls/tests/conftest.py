"""Fixtures: users, signed-in sockets on the real ASGI app, and checks that real services are used."""

import asyncio
import json
import os

import pytest
from channels.db import database_sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from calls.models import User
from calls.timekeeper import _by_loop
from callkit_web.asgi import application

ORIGIN = "http://localhost"
# What a browser sends beside that Origin: the socket must come from the same scheme, host and port.
HOST_HEADER = (b"host", b"localhost")


def pytest_report_header(config):
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"callkit: database={db} channel_layer={layer}"


def pytest_sessionstart(session):
    """Under CI, a run asked to use PostgreSQL or Redis must really reach them, never skip."""
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        import psycopg

        db = settings.DATABASES["default"]
        psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
                        dbname=db["NAME"], connect_timeout=3).close()


@pytest.fixture
def make_user(db):
    def make(username: str, display_name: str = "", **extra) -> User:
        user = User.objects.create_user(username=username, password="pw", display_name=display_name, **extra)
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", "Alice Liddell")


@pytest.fixture
def bob(make_user):
    return make_user("bob", "Bob Builder")


@pytest.fixture
def carol(make_user):
    return make_user("carol", "Carol Danvers")


def session_cookie(user: User) -> str:
    """A real session for `user`, as the login view would make it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


class Tab:
    """One browser tab's socket, with helpers that fail loudly on the unexpected."""

    def __init__(self, communicator: WebsocketCommunicator, user: User | None):
        self.comm = communicator
        self.user = user
        self.hello: dict | None = None

    async def send(self, **message) -> None:
        await self.comm.send_json_to(message)

    async def send_text(self, text: str) -> None:
        await self.comm.send_to(text_data=text)

    async def recv(self, timeout: float = 3) -> dict:
        return await self.comm.receive_json_from(timeout=timeout)

    async def expect(self, kind: str, timeout: float = 3) -> dict:
        message = await self.recv(timeout)
        assert message["type"] == kind, f"expected {kind}, got {json.dumps(message)[:400]}"
        return message

    async def request(self, kind: str, **fields) -> dict:
        """Send a request with a ref; return its ack (or fail with the error)."""
        ref = f"r{id(fields)}"
        await self.send(type=kind, ref=ref, **fields)
        reply = await self.recv()
        assert reply.get("ref") == ref and reply["type"] == "ack", reply
        return reply

    async def error(self, kind: str, **fields) -> dict:
        """Send a request that must be refused; return the error."""
        await self.send(type=kind, **fields)
        reply = await self.expect("error")
        return reply

    async def silent(self, timeout: float = 0.2) -> None:
        assert await self.comm.receive_nothing(timeout=timeout), "unexpected message"

    async def close(self) -> None:
        await self.comm.disconnect()


async def _open(tabs: list, user: User | None, origin: str = ORIGIN, expect_hello: bool = True,
                tab_id: str = "") -> "Tab":
    headers = [HOST_HEADER, (b"origin", origin.encode())] if origin else [HOST_HEADER]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    path = f"/ws/calls/?tab={tab_id}" if tab_id else "/ws/calls/"
    comm = WebsocketCommunicator(application, path, headers=headers)
    tab = Tab(comm, user)
    tabs.append(tab)
    connected, _ = await comm.connect(timeout=5)
    assert connected, "socket refused"
    if expect_hello:
        tab.hello = await tab.expect("hello")
    return tab


@pytest.fixture
def open_tab_sync(db):
    """open_tab for tests that run their own event loop per example (hypothesis)."""
    return lambda user: _open([], user)


@pytest.fixture
async def open_tab():
    """open_tab(user) -> a connected Tab that has read its hello; all closed at the end."""
    tabs: list[Tab] = []

    async def open_(user: User | None, origin: str = ORIGIN, expect_hello: bool = True,
                    tab_id: str = "") -> Tab:
        return await _open(tabs, user, origin, expect_hello, tab_id)

    yield open_
    for tab in tabs:
        try:
            await tab.close()
        except Exception:  # already closed by the test
            pass
    keeper = _by_loop.get(asyncio.get_running_loop())
    if keeper is not None:
        await keeper.stop()


async def close_channel_layer() -> None:
    """Empty and close this event loop's channel layer; the next use makes a fresh one."""
    layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if layer is not None:
        await layer.flush()
        if hasattr(layer, "close_pools"):
            await layer.close_pools()


def delete_all_calls() -> None:
    """Between generated examples that share one test database."""
    from calls.models import Call, HistoryEntry, Line

    Line.objects.all().delete()
    HistoryEntry.objects.all().delete()
    Call.objects.all().delete()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in Chinese (LocaleMiddleware) leaves
    its language active in the thread, and the next test's texts came out in Chinese."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_security_state():
    """Throttles and live sets kept in Redis or memory start empty for each test (the database's
    are rolled back with it)."""
    from calls import security_state

    security_state.reset_outside_database()
    yield
    security_state.reset_outside_database()


@pytest.fixture(autouse=True)
async def fresh_channel_layer():
    """Each test (and its event loop) gets its own channel layer, emptied and closed after it."""
    channel_layers.backends.clear()
    yield
    await close_channel_layer()
