"""ASGI entry point: HTTP (pages and static files) and the /ws/calls/ socket."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkit_web.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls import shutdown  # noqa: E402
from calls.origin import SameOriginValidator  # noqa: E402
from calls.routing import websocket_urlpatterns  # noqa: E402
from calls.ws_auth import EmbedTokenOrSessionAuth  # noqa: E402
from callkit_web import socket_flow  # noqa: E402

# Under daphne: what one socket may make the process hold is bounded both ways (socket_flow.py).
socket_flow.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            EmbedTokenOrSessionAuth(URLRouter(websocket_urlpatterns))
        ),
    }
)

# A full garbage collection walks every live object: with 1,000 sockets open it stalled every call
# for 100-200 ms, and under load it ran every few seconds and found nothing to free
# (docs/performance.md). What startup built lives as long as the process: leave it out of the walk,
# and collect the oldest generation ten times less often.
gc.freeze()
gc.set_threshold(700, 10, 100)

# SIGTERM closes every socket for a restart and lets its calls start their grace (calls/shutdown.py).
shutdown.install()
