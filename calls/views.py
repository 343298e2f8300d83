"""Pages: full documents for a normal request, just the main content for htmx navigation."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


def render_page(request: HttpRequest, fragment: str, context: dict, *, title: str) -> HttpResponse:
    """The fragment alone when htmx swaps #main, else the whole page around it."""
    context = {**context, "title": title}
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return render(request, fragment, context)
    return render(request, "page.html", {**context, "fragment": fragment})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Recent contacts first, then everyone the user can call."""
    return render_page(request, "calls/_home.html", {
        "recent": selectors.recent_contacts(user_id=request.user.pk, limit=8),
        "people": selectors.callable_users(user=request.user)[:50],
    }, title="Home")


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Find people by name or username; live as you type, and plain ?q= without JavaScript."""
    query = request.GET.get("q", "").strip()[:100]
    results = selectors.search_users(user=request.user, query=query, limit=50) if query else []
    context = {"q": query, "results": results}
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "search-results":
        return render(request, "calls/_search_results.html", context)
    return render_page(request, "calls/_search.html", context, title="Search")


@login_required
def history(request: HttpRequest) -> HttpResponse:
    """The signed-in user's calls, newest first."""
    calls = [
        selectors.bill_row(call, viewer_id=request.user.pk)
        for call in selectors.calls_for(user_id=request.user.pk).filter(state="ended")[:100]
    ]
    return render_page(request, "calls/_history.html", {"calls": calls}, title="History")
