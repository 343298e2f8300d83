"""Short-lived TURN credentials in coturn's REST form (use-auth-secret), and the ICE servers a client gets."""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings


def turn_credential(secret: str, user_id: int, expires: int) -> tuple[str, str]:
    """(username, credential): username "<expiry unix ts>:<user id>", credential base64(HMAC-SHA1(secret, username))."""
    username = f"{expires}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_config(user_id: int, now: float | None = None) -> dict[str, Any]:
    """The RTCIceServer list for this user, and when its TURN credential expires (ISO 8601, or None without TURN)."""
    servers: list[dict[str, Any]] = list(settings.CALLKIT_ICE_SERVERS)
    if not (settings.CALLKIT_TURN_URLS and settings.CALLKIT_TURN_SECRET):
        return {"ice_servers": servers, "expires_at": None}
    expires = int(time.time() if now is None else now) + int(settings.CALLKIT_TURN_TTL)
    username, credential = turn_credential(settings.CALLKIT_TURN_SECRET, user_id, expires)
    servers.append({"urls": list(settings.CALLKIT_TURN_URLS), "username": username, "credential": credential})
    return {"ice_servers": servers, "expires_at": datetime.fromtimestamp(expires, UTC).isoformat()}
