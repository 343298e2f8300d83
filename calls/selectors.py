"""Read-only queries shared by the socket and the pages."""

from django.db.models import Q, QuerySet

from .models import Call, Line, User


def live_call_for(*, user_id: int) -> Call | None:
    """The user's ringing or active call, if any (their line says which)."""
    line = Line.objects.filter(user_id=user_id).select_related("call__caller", "call__callee").first()
    return line.call if line else None


def call_of(*, user_id: int, call_id) -> Call | None:
    """One of the user's calls, live or ended; None if there is none or it is someone else's."""
    return (
        Call.objects.filter(Q(caller_id=user_id) | Q(callee_id=user_id), pk=call_id)
        .select_related("caller", "callee")
        .first()
    )


def calls_for(*, user_id: int) -> QuerySet[Call]:
    """All of a user's calls, newest first."""
    return (
        Call.objects.filter(Q(caller_id=user_id) | Q(callee_id=user_id))
        .select_related("caller", "callee")
        .order_by("-created_at", "-id")
    )


def callable_users(*, user: User) -> QuerySet[User]:
    """Everyone the user may call."""
    return User.objects.filter(is_active=True).exclude(pk=user.pk).order_by("display_name", "username")


def search_users(*, user: User, query: str, limit: int = 50) -> QuerySet[User]:
    """People whose username or display name contains `query`."""
    return callable_users(user=user).filter(
        Q(username__icontains=query) | Q(display_name__icontains=query)
    )[:limit]


def recent_contacts(*, user_id: int, limit: int = 8) -> list[User]:
    """The people the user called or was called by, most recent first, each once."""
    seen: dict[int, User] = {}
    for call in calls_for(user_id=user_id)[: limit * 10]:
        other = call.callee if call.caller_id == user_id else call.caller
        if other.pk not in seen and other.is_active:
            seen[other.pk] = other
            if len(seen) == limit:
                break
    return list(seen.values())


_CALLER_TEXT = {"canceled": "Canceled", "rejected": "Declined", "timeout": "No answer",
                "busy": "Busy", "failed": "Call failed"}
_CALLEE_TEXT = {"canceled": "Missed call", "rejected": "Declined", "timeout": "Missed call",
                "busy": "Missed call", "failed": "Call failed"}


def bill_text(call: Call, *, viewer_id: int) -> str:
    """How the bill reads to the viewer (product.md; the JS twin is static/callkit/bill.js)."""
    if call.status == "completed":
        kind = "Video call" if call.media == "video" else "Audio call"
        return f"{kind} · {format_duration(int(call.duration.total_seconds()))}"
    table = _CALLER_TEXT if viewer_id == call.caller_id else _CALLEE_TEXT
    return table.get(call.status, "Call ended")


def format_duration(seconds: int) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bill_row(call: Call, *, viewer_id: int) -> dict:
    """One history row from the viewer's side."""
    outgoing = call.caller_id == viewer_id
    return {
        "call": call,
        "other": call.callee if outgoing else call.caller,
        "direction": "Outgoing" if outgoing else "Incoming",
        "text": bill_text(call, viewer_id=viewer_id),
        "missed": not outgoing and call.status in {"canceled", "timeout", "busy"},
        "duration": format_duration(int(call.duration.total_seconds())),
    }
