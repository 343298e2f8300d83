"""Who a socket belongs to: an embed token in `?token=` if there is one, else the session cookie."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from . import embed_tokens


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
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = query.get("token", [""])[0]
        if not token:
            return await self.by_session(scope, receive, send)
        # A refused token is refused: no falling back to a cookie that happens to be there.
        scope = dict(scope, user=await _token_user(token), embed_token=token)
        return await self.by_token(scope, receive, send)
