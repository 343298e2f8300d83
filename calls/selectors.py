"""Read-only queries shared by the socket and the pages."""

from django.db.models import Q, QuerySet

from .models import Call, Line, User


def live_call_for(*, user_id: int) -> Call | None:
    """The user's ringing or active call, if any (their line says which)."""
    line = Line.objects.filter(user_id=user_id).select_related("call__caller", "call__callee").first()
    return line.call if line else None


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
