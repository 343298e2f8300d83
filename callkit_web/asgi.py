"""ASGI entry point: HTTP (pages and static files) and the /ws/calls/ socket."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkit_web.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from calls.routing import websocket_urlpatterns  # noqa: E402
from calls.ws_auth import EmbedTokenOrSessionAuth  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            EmbedTokenOrSessionAuth(URLRouter(websocket_urlpatterns))
        ),
    }
)
