"""GET /healthz: whether this process reaches its database and its channel layer (for load balancers)."""

import asyncio
import logging
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0  # seconds each check may take; a probe must answer well within its own timeout


@database_sync_to_async
def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer() -> None:
    """A message sent to a fresh channel of this process must come back (through Redis when configured)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    nonce = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "nonce": nonce})
    message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise RuntimeError("the channel layer gave back another message")


async def channel_layer_up() -> bool:
    """Whether a message through this process's channel layer comes back within CHECK_TIMEOUT."""
    try:
        await asyncio.wait_for(_channel_layer(), CHECK_TIMEOUT)
    except Exception:  # the caller says what it does about it; an outage would flood the log
        return False
    return True


async def _check(name: str, check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except Exception:  # any failure, a timeout included, means unhealthy; the log says why
        log.warning("healthz: the %s check failed", name, exc_info=True)
        return "failed"
    return "ok"


@never_cache
@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every check "ok", else 503 naming the check that failed; no session, no login."""
    database, layer = await asyncio.gather(_check("database", _database), _check("channel layer", _channel_layer))
    healthy = database == layer == "ok"
    return JsonResponse({"status": "ok" if healthy else "failed", "database": database, "channel_layer": layer},
                        status=200 if healthy else 503)
