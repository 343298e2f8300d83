"""Choosing a language where LocaleMiddleware does not reach: sockets, and embeds that name theirs."""

from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.i18n import JavaScriptCatalog


def supported_language(code: str) -> str | None:
    """The language this site speaks for `code` ("zh-CN" → "zh-hans"), or None."""
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None


def language_of(scope: dict) -> str:
    """`?lang=` (embeds), else the switcher's cookie, else Accept-Language, else the default."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    for code in (query.get("lang", [""])[0], cookie):
        if code and (found := supported_language(code)):
            return found
    headers = dict(scope.get("headers", []))
    header = headers.get(b"accept-language", b"").decode("latin-1")
    for code, _quality in parse_accept_lang_header(header):
        if code != "*" and (found := supported_language(code)):
            return found
    return settings.LANGUAGE_CODE


class JavaScriptCatalogView(JavaScriptCatalog):
    """Django's JavaScript catalog, in the language `?lang=` names (an embed's), else the request's."""

    def get(self, request, *args, **kwargs):
        code = supported_language(request.GET.get("lang", ""))
        if not code:
            return super().get(request, *args, **kwargs)
        with translation.override(code):
            return super().get(request, *args, **kwargs)
