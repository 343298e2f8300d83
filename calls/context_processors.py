"""Template context for every page."""

from django.http import HttpRequest

from . import selectors


def missed_calls(request: HttpRequest) -> dict:
    """The missed-call badge of the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"missed": selectors.missed_count(user=user)}
