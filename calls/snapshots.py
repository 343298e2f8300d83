"""The one JSON shape of a call that every message carries (documented in docs/protocol.md)."""

from datetime import datetime
from typing import Any

from .models import Call, User


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def person(user: User) -> dict[str, Any]:
    """A user as other people may see them."""
    return {"id": user.pk, "username": user.username, "name": user.name}


def call_snapshot(call: Call) -> dict[str, Any]:
    """Everything a client may know about a call; never channel names."""
    away = [
        role
        for role, deadline in (("caller", call.caller_gone_deadline), ("callee", call.callee_gone_deadline))
        if deadline is not None
    ]
    return {
        "id": str(call.pk),
        "caller": person(call.caller),
        "callee": person(call.callee),
        "media": call.media,
        "initial_media": call.initial_media,
        "state": call.state,
        "status": call.status or None,
        "end_reason": call.end_reason or None,
        "ended_by": call.ended_by_id,
        "created_at": _when(call.created_at),
        "answered_at": _when(call.answered_at),
        "ended_at": _when(call.ended_at),
        "ring_deadline": _when(call.ring_deadline),
        "duration": int(call.duration.total_seconds()),
        "media_state": {
            "caller": {"mic": call.caller_mic, "camera": call.caller_camera},
            "callee": {"mic": call.callee_mic, "camera": call.callee_camera},
        },
        "switch": (
            {"to": call.switch_to, "asked_by": call.switch_asked_by_id} if call.switch_to else None
        ),
        "away": away,
    }
