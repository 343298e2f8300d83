"""/healthz: 200 when the database and the channel layer answer, 503 naming the one that does not."""

import socket
import time

import pytest
from django.db import connection, connections
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_healthy(async_client):
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert "sessionid" not in response.cookies  # no session is made for a probe


async def test_only_reads(async_client):
    assert (await async_client.post("/healthz")).status_code == 405


async def test_dead_channel_layer_is_503_within_the_check_timeout(async_client):
    dead = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port()}/0"]}}}
    with override_settings(CHANNEL_LAYERS=dead):
        started = time.monotonic()
        response = await async_client.get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "database": "ok", "channel_layer": "failed"}
    assert elapsed < 4


def _drop_connections() -> None:
    """Close every connection, and the pool too, so the next query connects with the settings as they are now."""
    connections.close_all()
    if hasattr(connection, "close_pool"):
        connection.close_pool()  # a pooled connection would outlive the change of settings


def _break_database() -> dict:
    """Point new connections at a database that cannot be opened; returns what to restore."""
    _drop_connections()
    settings = connection.settings_dict
    saved = {key: settings[key] for key in ("NAME", "HOST", "PORT")}
    if connection.vendor == "sqlite":
        settings["NAME"] = "/nonexistent-directory/callkit.sqlite3"
    else:
        settings["HOST"], settings["PORT"] = "127.0.0.1", str(closed_port())
    return saved


async def test_dead_database_is_503(async_client):
    from channels.db import database_sync_to_async

    saved = await database_sync_to_async(_break_database)()
    try:
        response = await async_client.get("/healthz")
    finally:
        connection.settings_dict.update(saved)
        await database_sync_to_async(_drop_connections)()
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "database": "failed", "channel_layer": "ok"}
