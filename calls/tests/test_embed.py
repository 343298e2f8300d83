"""Embedding: tokens (mint, expiry, forgery, revocation), the token API, the framing rules, the socket."""

import json
import re
import time
from io import StringIO

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.management import CommandError, call_command

from callkit_web.asgi import application
from calls import embed_tokens
from calls.models import User
from calls.tests.conftest import HOST_HEADER, ORIGIN, session_cookie
from calls.ws_auth import PROTOCOL, TOKEN_PREFIX

pytestmark = pytest.mark.django_db(transaction=True)
API_KEY = "k" * 32
HOST = "http://localhost:9999"


@pytest.fixture(autouse=True)
def embed_settings(settings):
    settings.CALLKIT_API_KEYS = [API_KEY]
    settings.CALLKIT_EMBED_ORIGINS = [HOST]


def forge(payload: dict) -> str:
    """A token signed with someone else's key."""
    return signing.dumps(payload, key="not-our-secret-key", salt=embed_tokens.SALT)


# --- tokens --------------------------------------------------------------------------------

def test_a_token_names_its_user(alice):
    assert embed_tokens.user_for(embed_tokens.mint(alice, 60).token, embed_tokens.PAGE) == alice
    assert embed_tokens.user_for(embed_tokens.mint(alice, 60, kind=embed_tokens.SOCKET).token) == alice


def test_a_page_token_is_no_socket_token_and_back(alice):
    with pytest.raises(embed_tokens.TokenRefused, match="not a socket token"):
        embed_tokens.user_for(embed_tokens.mint(alice, 60).token)
    with pytest.raises(embed_tokens.TokenRefused, match="not a page token"):
        embed_tokens.redeem(embed_tokens.mint(alice, 60, kind=embed_tokens.SOCKET).token)


def test_tokens_expire(alice, monkeypatch):
    minted = embed_tokens.mint(alice, 10)
    monkeypatch.setattr(embed_tokens.time, "time", lambda: minted.expires_at + 0.001)
    with pytest.raises(embed_tokens.TokenRefused, match="expired"):
        embed_tokens.user_for(minted.token, embed_tokens.PAGE)


def test_a_tampered_or_foreign_token_is_refused(alice, bob):
    token = embed_tokens.mint(alice, 60).token
    with pytest.raises(embed_tokens.TokenRefused, match="signature"):
        embed_tokens.user_for(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), embed_tokens.PAGE)
    with pytest.raises(embed_tokens.TokenRefused, match="signature"):
        embed_tokens.user_for(forge({"u": bob.pk, "f": "x", "e": int(time.time()) + 60, "t": 60, "s": 1, "k": "socket"}))


def test_a_password_change_or_deactivation_revokes_tokens(alice, bob):
    token = embed_tokens.mint(alice, 60).token
    alice.set_password("another-password")
    alice.save()
    with pytest.raises(embed_tokens.TokenRefused, match="revoked"):
        embed_tokens.user_for(token, embed_tokens.PAGE)
    token = embed_tokens.mint(bob, 60).token
    bob.is_active = False
    bob.save()
    with pytest.raises(embed_tokens.TokenRefused, match="revoked"):
        embed_tokens.user_for(token, embed_tokens.PAGE)


@pytest.mark.parametrize("ttl", [0, -5, 10**6])
def test_ttl_is_bounded(alice, ttl):
    with pytest.raises(ValueError):
        embed_tokens.mint(alice, ttl)


def test_the_management_command_prints_a_working_token(alice):
    out = StringIO()
    call_command("callkit_token", "alice", "--ttl", "120", stdout=out)
    assert embed_tokens.user_for(out.getvalue().strip(), embed_tokens.PAGE) == alice
    with pytest.raises(CommandError):
        call_command("callkit_token", "nobody", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("callkit_token", "alice", "--ttl", "0", stdout=StringIO())


# --- the API -------------------------------------------------------------------------------

def post_api(client, body, key=API_KEY, path="/api/embed-tokens/"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.post(path, data=json.dumps(body) if not isinstance(body, str) else body,
                       content_type="application/json", **headers)


def test_the_api_mints_tokens_for_a_host_backend(client, alice):
    response = post_api(client, {"username": "alice", "ttl": 90})
    assert response.status_code == 201
    body = response.json()
    assert embed_tokens.user_for(body["token"], embed_tokens.PAGE) == alice
    assert 85 <= body["expires_at"] - time.time() <= 90
    assert body["embed_url"] == f"http://testserver/embed/?token={body['token']}"
    assert body["user"] == {"id": alice.pk, "username": "alice", "name": alice.name}


@pytest.mark.parametrize(("key", "body", "status", "code"), [
    (None, {"username": "alice"}, 401, "unauthorized"),
    ("wrong-key-wrong-key-wrong-key", {"username": "alice"}, 401, "unauthorized"),
    (API_KEY, "{not json", 400, "bad_json"),
    (API_KEY, ["alice"], 400, "bad_request"),
    (API_KEY, {"username": 7}, 400, "bad_request"),
    (API_KEY, {"username": "alice", "ttl": "60"}, 400, "bad_ttl"),
    (API_KEY, {"username": "alice", "ttl": True}, 400, "bad_ttl"),
    (API_KEY, {"username": "alice", "ttl": 10**6}, 400, "bad_ttl"),
    (API_KEY, {"username": "nobody"}, 404, "unknown_user"),
])
@pytest.mark.parametrize("path", ["/api/embed-tokens/", "/api/socket-tokens/"])
def test_the_api_refuses_bad_requests_clearly(client, alice, key, body, status, code, path):
    response = post_api(client, body, key, path)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_the_api_mints_socket_tokens_for_programs(client, alice):
    response = post_api(client, {"username": "alice", "ttl": 120}, path="/api/socket-tokens/")
    assert response.status_code == 201
    body = response.json()
    assert embed_tokens.user_for(body["token"], embed_tokens.SOCKET) == alice
    with pytest.raises(embed_tokens.TokenRefused):  # it opens no embed page
        embed_tokens.user_for(body["token"], embed_tokens.PAGE)
    assert 115 <= body["expires_at"] - time.time() <= 120
    assert body["user"] == {"id": alice.pk, "username": "alice", "name": alice.name}
    assert client.get("/api/socket-tokens/").status_code == 405


def test_the_api_is_off_without_keys(client, alice, settings):
    settings.CALLKIT_API_KEYS = []
    assert post_api(client, {"username": "alice"}).status_code == 401


def test_the_api_takes_no_cookie_auth_and_no_get(client, alice):
    client.force_login(alice)
    assert post_api(client, {"username": "alice"}, key=None).status_code == 401
    assert client.get("/api/embed-tokens/").status_code == 405


# --- the embed page ------------------------------------------------------------------------

def test_the_embed_page_may_be_framed_only_by_the_listed_sites(client, alice):
    token = embed_tokens.mint(alice, 60).token
    response = client.get(f"/embed/?token={token}")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert f"frame-ancestors {HOST}" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer" and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    page_token = re.search(r'data-token="([^"]+)"', html).group(1)
    assert alice.name in html and page_token != token  # the URL's token is used up; the socket gets its own
    assert embed_tokens.user_for(page_token) == alice
    assert "&quot;http://localhost:9999&quot;" in html  # the allowed origins, escaped in an attribute
    # every other page stays unframeable
    client.force_login(alice)
    assert client.get("/")["X-Frame-Options"] == "DENY"


def test_no_listed_sites_means_nobody_may_frame_it(client, alice, settings):
    settings.CALLKIT_EMBED_ORIGINS = []
    response = client.get(f"/embed/?token={embed_tokens.mint(alice, 60).token}")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("token", ["", "garbage", "x" * 600, "forged"])
def test_the_embed_page_refuses_bad_tokens(client, alice, token):
    if token == "forged":
        token = forge({"u": alice.pk, "f": alice.get_session_auth_hash()[:16], "e": int(time.time()) + 60, "t": 60,
                       "s": 1, "k": "page"})
    response = client.get("/embed/", {"token": token})
    assert response.status_code == 403
    assert alice.name not in response.content.decode()
    assert "role=\"alert\"" in response.content.decode()


def test_the_embed_page_speaks_the_language_it_is_asked_for(client, alice):
    token = embed_tokens.mint(alice, 60).token
    zh = client.get(f"/embed/?token={token}&lang=zh-hans", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans"' in zh and "语音通话" in zh and "jsi18n/?lang=zh-hans" in zh
    catalog = client.get("/jsi18n/?lang=zh-hans", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "未接来电" in catalog or "\\u672a\\u63a5\\u6765\\u7535" in catalog
    token = embed_tokens.mint(alice, 60).token
    en = client.get(f"/embed/?token={token}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in en and "Audio call" in en


def test_a_page_token_opens_the_page_once(client, alice):
    token = embed_tokens.mint(alice, 60).token
    assert client.get("/embed/", {"token": token}).status_code == 200
    again = client.get("/embed/", {"token": token})  # e.g. someone who read it in an access log
    assert again.status_code == 403 and alice.name not in again.content.decode()


def test_a_used_page_token_stays_used_after_many_other_page_loads(client, alice):
    """Without Redis, a cache of 300 entries forgot the "used" mark after 320 other page loads."""
    token = embed_tokens.mint(alice, 60).token
    assert client.get("/embed/", {"token": token}).status_code == 200
    for _ in range(320):
        embed_tokens.redeem(embed_tokens.mint(alice, 60).token)
    assert client.get("/embed/", {"token": token}).status_code == 403


# --- the socket ----------------------------------------------------------------------------

async def open_socket(token: str = "", cookie_user=None, query: str = "", origin: str | None = ORIGIN):
    headers = [HOST_HEADER] + ([(b"origin", origin.encode())] if origin is not None else [])
    if cookie_user is not None:
        headers.append((b"cookie", (await database_sync_to_async(session_cookie)(cookie_user)).encode()))
    protocols = [PROTOCOL, TOKEN_PREFIX + token.replace(":", ".")] if token else None
    comm = WebsocketCommunicator(application, f"/ws/calls/{query}", headers=headers, subprotocols=protocols)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def test_a_socket_with_a_token_is_that_tokens_user_even_beside_another_session(alice, bob):
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, connected, protocol = await open_socket(minted.token, cookie_user=bob)
    assert connected and protocol == PROTOCOL  # the browser needs the chosen subprotocol back
    hello = await comm.receive_json_from(timeout=3)
    assert hello["user"]["id"] == alice.pk
    fresh = hello["config"]["token"]
    assert hello["config"]["token_expires_at"] >= minted.expires_at  # renewed: a reconnect later still works
    assert await database_sync_to_async(embed_tokens.user_for)(fresh) == alice
    await comm.send_json_to({"type": "token.refresh", "ref": "t1"})
    reply = await comm.receive_json_from(timeout=3)
    assert reply["type"] == "token" and reply["ref"] == "t1"
    assert await database_sync_to_async(embed_tokens.user_for)(reply["token"]) == alice
    await comm.disconnect()


async def test_a_program_with_a_token_needs_no_origin_but_cookies_still_do(alice, bob):
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, connected, _ = await open_socket(minted.token, origin=None)
    assert connected  # a program (no browser sends a handshake without Origin)
    assert (await comm.receive_json_from(timeout=3))["user"]["id"] == alice.pk
    await comm.disconnect()
    # Cookies are what a cross-site page could ride on: without a token, Origin stays required.
    _comm, connected, _ = await open_socket(cookie_user=bob, origin=None)
    assert not connected
    # And a token does not excuse a foreign Origin.
    _comm, connected, _ = await open_socket(minted.token, origin="http://evil.example")
    assert not connected


@pytest.mark.parametrize("kind", ["expired", "forged", "garbage"])
async def test_a_socket_with_a_bad_token_is_refused_without_falling_back_to_cookies(alice, bob, kind, monkeypatch):
    if kind == "expired":
        token = (await database_sync_to_async(embed_tokens.mint)(alice, 10, kind=embed_tokens.SOCKET)).token
        real = time.time
        monkeypatch.setattr(embed_tokens.time, "time", lambda: real() + 11)
    elif kind == "forged":
        token = forge({"u": alice.pk, "f": "x", "e": int(time.time()) + 60, "t": 60, "s": 1, "k": "socket"})
    else:
        token = "garbage-garbage-garbage"
    comm, connected, code = await open_socket(token, cookie_user=bob)
    assert not connected and code == 4401


async def test_a_session_socket_cannot_refresh_a_token(alice):
    comm, connected, _ = await open_socket(cookie_user=alice)
    await comm.receive_json_from(timeout=3)
    await comm.send_json_to({"type": "token.refresh", "ref": "t1"})
    reply = await comm.receive_json_from(timeout=3)
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    await comm.disconnect()


async def test_a_call_by_username(alice, bob):
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, _, _ = await open_socket(minted.token)
    await comm.receive_json_from(timeout=3)
    await comm.send_json_to({"type": "call.invite", "to_username": "nobody", "media": "audio", "ref": "a"})
    assert (await comm.receive_json_from(timeout=3))["code"] == "unknown_user"
    await comm.send_json_to({"type": "call.invite", "to_username": "bob", "to": bob.pk, "media": "audio", "ref": "b"})
    assert (await comm.receive_json_from(timeout=3))["code"] == "bad_message"
    await comm.send_json_to({"type": "call.invite", "to_username": "bob", "media": "audio", "ref": "c"})
    replies = [await comm.receive_json_from(timeout=3) for _ in range(2)]
    assert {r["type"] for r in replies} == {"ack", "call.ringing"}
    await comm.send_json_to({"type": "call.cancel", "call_id": next(r for r in replies if r["type"] == "ack")["call_id"]})
    await comm.disconnect()


async def test_a_token_in_the_url_is_not_a_credential(alice, bob):
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, connected, _ = await open_socket(cookie_user=bob, query=f"?token={minted.token}")
    hello = await comm.receive_json_from(timeout=3)
    assert hello["user"]["id"] == bob.pk and "token" not in hello["config"]
    await comm.disconnect()


async def test_renewal_stops_at_the_session_limit(alice, settings, monkeypatch):
    settings.CALLKIT_EMBED_SESSION_MAX = 100
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, _, _ = await open_socket(minted.token)
    await comm.receive_json_from(timeout=3)
    real = time.time
    monkeypatch.setattr(embed_tokens.time, "time", lambda: real() + 50)  # the first token has expired
    await comm.send_json_to({"type": "token.refresh", "ref": "t1"})
    renewed = await comm.receive_json_from(timeout=3)
    assert renewed["type"] == "token"  # a live socket renews past its first token's life
    monkeypatch.setattr(embed_tokens.time, "time", lambda: real() + 101)
    await comm.send_json_to({"type": "token.refresh", "ref": "t2"})
    refused = await comm.receive_json_from(timeout=3)
    assert refused["type"] == "error" and refused["code"] == "token_refused"
    assert (await comm.receive_output(timeout=3))["type"] == "websocket.close"
    with pytest.raises(embed_tokens.TokenRefused, match="session over"):
        await database_sync_to_async(embed_tokens.renew)(renewed["token"])


async def test_a_password_change_ends_a_live_embed_at_its_next_refresh_even_unannounced(alice):
    # A save closes the socket at once (test_session_sockets.py); a change that announced nothing
    # (a raw UPDATE, a lost push) still ends the embed's session at its next refresh.
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, _, _ = await open_socket(minted.token)
    await comm.receive_json_from(timeout=3)

    def change_password():
        User.objects.filter(pk=alice.pk).update(password=make_password("a-new-password"))
    await database_sync_to_async(change_password)()
    await comm.send_json_to({"type": "token.refresh", "ref": "t1"})
    assert (await comm.receive_json_from(timeout=3))["code"] == "token_refused"
    assert (await comm.receive_output(timeout=3))["type"] == "websocket.close"


async def test_username_lookups_are_rate_limited(alice):
    minted = await database_sync_to_async(embed_tokens.mint)(alice, 60, kind=embed_tokens.SOCKET)
    comm, _, _ = await open_socket(minted.token)
    await comm.receive_json_from(timeout=3)
    codes = []
    for i in range(12):
        await comm.send_json_to({"type": "call.invite", "to_username": f"probe{i}", "media": "audio", "ref": f"p{i}"})
        codes.append((await comm.receive_json_from(timeout=3))["code"])
    assert codes[:10] == ["unknown_user"] * 10 and codes[10:] == ["rate_limited"] * 2
    await comm.disconnect()
