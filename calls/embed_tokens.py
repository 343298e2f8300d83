"""Embed tokens: signed, short-lived proof of who the embedded call UI acts for (no cookies needed)."""

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from . import security_state
from .models import User

SALT = "callkit.embed-token"
# A token names its user and a fingerprint of the user's password hash: a password change or a
# deactivation revokes every token already handed out. It is of one of two kinds: a PAGE token
# (what the host's backend gets, for the iframe's URL) opens /embed/ once; a SOCKET token (what the
# page gets, never in a URL) signs its WebSocket in. A page token copied from a log opens nothing.
PAGE, SOCKET = "page", "socket"
_FINGERPRINT_CHARS = 16


@dataclass(frozen=True)
class EmbedToken:
    """A minted token and when it stops working (Unix seconds)."""

    token: str
    expires_at: int


class TokenRefused(Exception):
    """The token is forged, expired, revoked, used up or malformed."""


def _fingerprint(user: User) -> str:
    return user.get_session_auth_hash()[:_FINGERPRINT_CHARS]


def mint(user: User, ttl: int | None = None, *, kind: str = PAGE, since: int | None = None) -> EmbedToken:
    """A token for `user`, valid `ttl` seconds; `since` carries a renewed chain's start forward."""
    ttl = settings.CALLKIT_EMBED_TOKEN_TTL if ttl is None else ttl
    if not 1 <= ttl <= settings.CALLKIT_EMBED_TOKEN_MAX_TTL:
        raise ValueError(f"ttl must be between 1 and {settings.CALLKIT_EMBED_TOKEN_MAX_TTL} seconds")
    now = int(time.time())
    # The nonce makes two tokens minted in the same second differ (each page token opens one page).
    payload = {"u": user.pk, "f": _fingerprint(user), "e": now + ttl, "t": ttl, "s": since or now, "k": kind,
               "n": secrets.token_urlsafe(6)}
    return EmbedToken(signing.dumps(payload, salt=SALT), now + ttl)


def _payload(token: str) -> dict:
    if not isinstance(token, str) or not 20 <= len(token) <= 512:
        raise TokenRefused("malformed")
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise TokenRefused("bad signature") from None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), (int, str)) for k in "ufetsk"):
        raise TokenRefused("malformed")
    return payload


def _of_kind(payload: dict, kind: str) -> dict:
    if payload["k"] != kind:
        raise TokenRefused(f"not a {kind} token")
    return payload


def _active_user(payload: dict) -> User:
    user = User.objects.filter(pk=int(payload["u"]), is_active=True).first()
    if user is None or not signing.constant_time_compare(str(payload["f"]), _fingerprint(user)):
        raise TokenRefused("revoked")
    return user


def user_for(token: str, kind: str = SOCKET) -> User:
    """The active user a genuine, unexpired token of `kind` was minted for; else TokenRefused."""
    payload = _of_kind(_payload(token), kind)
    if int(payload["e"]) <= time.time():
        raise TokenRefused("expired")
    return _active_user(payload)


def redeem(token: str) -> tuple[User, EmbedToken]:
    """Open an embed page with a token from its URL: once only, so a copy in a log opens nothing.

    Returns the user and the page's own token (never in a URL) for its socket."""
    user = user_for(token, PAGE)
    payload = _payload(token)
    signature = token.rsplit(":", 1)[-1]
    # Kept until the token has expired anyway, where no amount of other page loads can evict it.
    if not security_state.claim(f"embed-token-used:{signature}", ttl=int(payload["t"]) + 60):
        raise TokenRefused("used")
    return user, mint(user, int(payload["t"]), kind=SOCKET, since=int(payload["s"]))


def renew(token: str) -> EmbedToken:
    """A fresh token for a live connection that proved itself with `token`, even if that one has
    expired since; refused once the user is revoked or the chain is older than the session limit."""
    payload = _of_kind(_payload(token), SOCKET)
    since = int(payload["s"])
    if time.time() - since > settings.CALLKIT_EMBED_SESSION_MAX:
        raise TokenRefused("session over")
    user = _active_user(payload)
    ttl = max(1, min(int(payload["t"]), settings.CALLKIT_EMBED_TOKEN_MAX_TTL))
    return mint(user, ttl, kind=SOCKET, since=since)
