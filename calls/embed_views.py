"""The embeddable call UI (/embed/) and the API a host site's backend mints embed tokens with."""

import json

from django.conf import settings
from django.core.signing import constant_time_compare
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import embed_tokens
from .i18n import supported_language
from .middleware import CSP
from .models import User


def _frameable(response: HttpResponse) -> HttpResponse:
    """Only the sites in CALLKIT_EMBED_ORIGINS may frame this response (none when unset)."""
    ancestors = " ".join(settings.CALLKIT_EMBED_ORIGINS) or "'none'"
    response["Content-Security-Policy"] = CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    response["Referrer-Policy"] = "no-referrer"  # the (used) token is in this page's URL
    return response


def _language_from_query(request: HttpRequest) -> None:
    """`?lang=` picks the embed's language (the host knows its user's); else Accept-Language."""
    code = supported_language(request.GET.get("lang", ""))
    if code:
        translation.activate(code)
        request.LANGUAGE_CODE = code


@require_GET
@never_cache
@xframe_options_exempt
def embed(request: HttpRequest) -> HttpResponse:
    """Minimal call UI for an iframe, for the user a valid, unused `?token=` names; 403 without one."""
    _language_from_query(request)
    try:
        user, page_token = embed_tokens.redeem(request.GET.get("token", ""))
    except embed_tokens.TokenRefused:
        # The page tells its host (an `error` event), so the host sees the refusal too.
        context = {"origins_json": json.dumps(settings.CALLKIT_EMBED_ORIGINS)}
        return _frameable(render(request, "embed/refused.html", context, status=403))
    context = {
        "embed_user": user,
        "token": page_token.token,  # the URL's token is used up; the socket shows this one
        "language": request.LANGUAGE_CODE,
        "origins_json": json.dumps(settings.CALLKIT_EMBED_ORIGINS),
    }
    return _frameable(render(request, "embed/embed.html", context))


def _api_key_ok(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        return False
    # Compare with every key, always: how long this takes says nothing about which key is close.
    return any([constant_time_compare(key, known) for known in settings.CALLKIT_API_KEYS])


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _token_request(request: HttpRequest) -> tuple[User, int] | JsonResponse:
    """The user and ttl an API call asks a token for, or the error to answer it with."""
    if not settings.CALLKIT_API_KEYS or not _api_key_ok(request):
        return _api_error(401, "unauthorized", "A valid API key is needed (Authorization: Bearer …).")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _api_error(400, "bad_json", "The body is not valid JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("username"), str):
        return _api_error(400, "bad_request", "Send {\"username\": \"…\", \"ttl\": seconds}.")
    if "\x00" in body["username"] or len(body["username"]) > 150:  # PostgreSQL refuses NUL in text
        return _api_error(400, "bad_username", "That is not a username.")
    ttl = body.get("ttl", settings.CALLKIT_EMBED_TOKEN_TTL)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= settings.CALLKIT_EMBED_TOKEN_MAX_TTL:
        return _api_error(400, "bad_ttl", f"ttl must be 1–{settings.CALLKIT_EMBED_TOKEN_MAX_TTL} seconds.")
    user = User.objects.filter(username=body["username"], is_active=True).first()
    if user is None:
        return _api_error(404, "unknown_user", "No such user.")
    return user, ttl


def _user_json(user: User) -> dict:
    return {"id": user.pk, "username": user.username, "name": user.name}


@csrf_exempt  # a server-to-server call, authenticated by its API key, never by cookies
@require_POST
def api_embed_tokens(request: HttpRequest) -> JsonResponse:
    """POST {"username", "ttl"?} with `Authorization: Bearer <key>`: a page token for that user."""
    asked = _token_request(request)
    if isinstance(asked, JsonResponse):
        return asked
    user, ttl = asked
    minted = embed_tokens.mint(user, ttl)
    url = request.build_absolute_uri(reverse("embed")) + f"?token={minted.token}"
    return JsonResponse({"token": minted.token, "expires_at": minted.expires_at, "embed_url": url,
                         "user": _user_json(user)}, status=201)


@csrf_exempt  # a server-to-server call, authenticated by its API key, never by cookies
@require_POST
def api_socket_tokens(request: HttpRequest) -> JsonResponse:
    """POST {"username", "ttl"?} with `Authorization: Bearer <key>`: a socket token for a program."""
    asked = _token_request(request)
    if isinstance(asked, JsonResponse):
        return asked
    user, ttl = asked
    # A socket token signs a WebSocket in directly (no page to open): what a bot or the Python
    # client needs. It renews itself on its socket (token.refresh) like an embed's.
    minted = embed_tokens.mint(user, ttl, kind=embed_tokens.SOCKET)
    return JsonResponse({"token": minted.token, "expires_at": minted.expires_at, "user": _user_json(user)},
                        status=201)
