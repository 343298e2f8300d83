"""Who a socket belongs to: an embed token if it shows one, else the session cookie."""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from . import embed_tokens

# An embed offers two WebSocket subprotocols: PROTOCOL, which the server answers with, and its
# token as TOKEN_PREFIX + token (":" written as ".", which a subprotocol name may hold). A header,
# not the URL: URLs end up in access logs, and the token is as good as a password while it lives.
PROTOCOL = "callkit.v1"
TOKEN_PREFIX = "callkit.token."


def token_of(scope) -> str:
    """The embed token a socket shows, or ""."""
    for offered in scope.get("subprotocols") or []:
        if offered.startswith(TOKEN_PREFIX):
            return offered[len(TOKEN_PREFIX):].replace(".", ":")
    return ""


@database_sync_to_async
def _token_user(token: str):
    try:
        return embed_tokens.user_for(token)
    except embed_tokens.TokenRefused:
        return AnonymousUser()


class EmbedTokenOrSessionAuth:
    """An embedded iframe has no cookies to send (third-party), so its socket shows a token instead."""

    def __init__(self, inner):
        self.by_token = inner
        self.by_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        token = token_of(scope)
        if not token:
            return await self.by_session(scope, receive, send)
        # A refused token is refused: no falling back to a cookie that happens to be there.
        scope = dict(scope, user=await _token_user(token), embed_token=token)
        return await self.by_token(scope, receive, send)
