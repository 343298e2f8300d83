"""The WebSocket handshake's Origin must be this site's own origin: scheme, host and port."""

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from .ws_auth import token_of


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _scheme(scope: dict) -> str:
    """http or https, as the browser saw the page: a trusted TLS proxy's header says so; else the
    server's scope; else (daphne puts no scheme in a WebSocket's scope) what the cookies say the
    site is served over (Secure cookies: HTTPS)."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        return "https" if _header(scope, name) == proxy[1] else "http"
    if "scheme" in scope:
        return "https" if scope["scheme"] in ("wss", "https") else "http"
    return "https" if settings.SESSION_COOKIE_SECURE else "http"


def expected_origin(scope: dict) -> str | None:
    """`scheme://host[:port]` of the page that may open this socket, or None for a bad Host."""
    host = _header(scope, b"host").strip().lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = _scheme(scope)
    default = ":443" if scheme == "https" else ":80"
    return f"{scheme}://{host.removesuffix(default)}"


def origin_allowed(scope: dict) -> bool:
    """This site's own origin; or no Origin at all from a program that signs in with a token."""
    origin = _header(scope, b"origin").strip().lower().rstrip("/")
    expected = expected_origin(scope)
    if expected is None:
        return False
    # Browsers always send Origin on a WebSocket handshake, so a missing one is a program (a bot,
    # the Python client). The check exists against cross-site pages riding a browser's cookies; a
    # token is never ambient, so a token socket without Origin is no such page. With cookies
    # only, Origin stays required.
    if not origin:
        return bool(token_of(scope))
    return origin == expected


class SameOriginValidator:
    """Refuse a socket unless its Origin is exactly this site's (Channels' own validator compares
    only the host name, so another port or scheme on the same host passed)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
