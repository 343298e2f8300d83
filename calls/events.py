"""Pushes to sockets, sent only after the change they describe is committed."""

import logging
from contextvars import ContextVar
from typing import Any, Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import user_group
from .models import Call
from .snapshots import call_snapshot

log = logging.getLogger(__name__)

# Set by `call_service` while a service runs for a socket: the pushes its commits make wait
# here and go out from the event loop once it returns, instead of the database thread blocking
# on the loop (async_to_sync) for each of them.
_deferred: ContextVar[list[tuple[tuple[str, ...], dict[str, Any]]] | None] = ContextVar(
    "callkit_deferred_pushes", default=None
)


def call_event_payload(call: Call, event: str, **extra: Any) -> dict[str, Any]:
    """The channel-layer message for `event`; consumers tailor it to each tab."""
    return {
        "type": "call.event",
        "event": event,
        "extra": extra,
        "call": call_snapshot(call),
        # For the consumers only (who holds each side); never sent to a browser.
        "channels": {"caller": call.caller_channel, "callee": call.callee_channel},
        "tabs": {"caller": call.caller_tab, "callee": call.callee_tab},
    }


def announce(call: Call, event: str, **extra: Any) -> None:
    """Tell every tab of both parties about `call` once the current transaction commits."""
    payload = call_event_payload(call, event, **extra)
    groups = (user_group(call.caller_id), user_group(call.callee_id))
    # robust: the change is committed either way; a push that fails (the channel layer is down)
    # is logged, and clients catch up when they reconnect (hello/sync) instead of the request failing.
    transaction.on_commit(lambda: _send(groups, payload), robust=True)


def _send(groups: tuple[str, ...], payload: dict[str, Any]) -> None:
    pending = _deferred.get()
    if pending is not None:
        pending.append((groups, payload))
        return
    layer = get_channel_layer()
    failures = []
    for group in groups:  # one party's failure must not cost the other party its event
        try:
            async_to_sync(layer.group_send)(group, payload)
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]  # logged by the robust on_commit


def call_service(service: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`service` as a coroutine on the database thread that then sends the pushes it committed."""
    # In commit order, before returning: a socket's ack still follows the events of its request.

    async def run(**kwargs: Any) -> Any:
        pending: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        token = _deferred.set(pending)
        try:
            return await database_sync_to_async(service)(**kwargs)
        finally:
            _deferred.reset(token)
            if pending:
                await _push(pending)

    return run


async def _push(pending: list[tuple[tuple[str, ...], dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for groups, payload in pending:
        for group in groups:  # one party's failure must not cost the other party its event
            try:
                await layer.group_send(group, payload)
            except Exception:
                # Committed either way, as with a robust on_commit: clients catch up on reconnect.
                log.exception("pushing %s to %s failed", payload["event"], group)
