"""Pushes to sockets, sent only after the change they describe is committed."""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import user_group
from .models import Call
from .snapshots import call_snapshot


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
    layer = get_channel_layer()
    failures = []
    for group in groups:  # one party's failure must not cost the other party its event
        try:
            async_to_sync(layer.group_send)(group, payload)
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]  # logged by the robust on_commit
