"""Embed tokens: signed, short-lived proof of who the embedded call UI acts for (no cookies needed)."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from .models import User

SALT = "callkit.embed-token"
# A token names its user and a fingerprint of the user's password hash: a password change or a
# deactivation revokes every token already handed out.
_FINGERPRINT_CHARS = 16


@dataclass(frozen=True)
class EmbedToken:
    """A minted token and when it stops working (Unix seconds)."""

    token: str
    expires_at: int


class TokenRefused(Exception):
    """The token is forged, expired, revoked or malformed."""


def _fingerprint(user: User) -> str:
    return user.get_session_auth_hash()[:_FINGERPRINT_CHARS]


def mint(user: User, ttl: int | None = None) -> EmbedToken:
    """A token for `user`, valid `ttl` seconds (CALLKIT_EMBED_TOKEN_TTL by default)."""
    ttl = settings.CALLKIT_EMBED_TOKEN_TTL if ttl is None else ttl
    if not 1 <= ttl <= settings.CALLKIT_EMBED_TOKEN_MAX_TTL:
        raise ValueError(f"ttl must be between 1 and {settings.CALLKIT_EMBED_TOKEN_MAX_TTL} seconds")
    expires_at = int(time.time()) + ttl
    payload = {"u": user.pk, "f": _fingerprint(user), "e": expires_at, "t": ttl}
    return EmbedToken(signing.dumps(payload, salt=SALT), expires_at)


def user_for(token: str) -> User:
    """The active user a genuine, unexpired token was minted for; else TokenRefused."""
    if not isinstance(token, str) or not 20 <= len(token) <= 512:
        raise TokenRefused("malformed")
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise TokenRefused("bad signature") from None
    try:
        user_id, fingerprint, expires_at = int(payload["u"]), str(payload["f"]), int(payload["e"])
    except (KeyError, TypeError, ValueError):
        raise TokenRefused("malformed") from None
    if expires_at <= time.time():
        raise TokenRefused("expired")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not signing.constant_time_compare(fingerprint, _fingerprint(user)):
        raise TokenRefused("revoked")
    return user


def renew(user: User, token: str) -> EmbedToken:
    """A fresh token, with the first one's lifetime, for a connection that proved itself with `token`."""
    ttl = signing.loads(token, salt=SALT).get("t", settings.CALLKIT_EMBED_TOKEN_TTL)
    return mint(user, max(1, min(int(ttl), settings.CALLKIT_EMBED_TOKEN_MAX_TTL)))
