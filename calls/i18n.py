"""The language of a WebSocket connection, chosen the way LocaleMiddleware chooses a page's."""

from urllib.parse import parse_qs

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def _supported(code: str) -> str | None:
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None


def language_of(scope: dict) -> str:
    """`?lang=` (embeds), else the switcher's cookie, else Accept-Language, else the default."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    for code in (query.get("lang", [""])[0], cookie):
        if code and (found := _supported(code)):
            return found
    headers = dict(scope.get("headers", []))
    header = headers.get(b"accept-language", b"").decode("latin-1")
    for code, _quality in parse_accept_lang_header(header):
        if code != "*" and (found := _supported(code)):
            return found
    return settings.LANGUAGE_CODE
