"""Pages: full documents for a normal request, just the main content for htmx navigation."""

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import selectors
from .models import HistoryEntry, User

FILTER_LABELS = {"all": gettext_lazy("All"), "missed": gettext_lazy("Missed"),
                 "outgoing": gettext_lazy("Outgoing"), "incoming": gettext_lazy("Incoming")}


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
    }, title=_("Home"))


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Find people by name or username; live as you type, and plain ?q= without JavaScript."""
    query = request.GET.get("q", "").strip()[:100]
    results = selectors.search_users(user=request.user, query=query, limit=50) if query else []
    context = {"q": query, "results": results}
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "search-results":
        return render(request, "calls/_search_results.html", context)
    return render_page(request, "calls/_search.html", context, title=_("Search"))


def _history_filters(request: HttpRequest) -> dict:
    """The history filters from the query string, each checked against what is allowed."""
    filter_ = request.GET.get("filter", "all")
    media = request.GET.get("media", "")
    return {
        "filter": filter_ if filter_ in selectors.HISTORY_FILTERS else "all",
        "media": media if media in ("audio", "video") else "",
        "contact_query": request.GET.get("q", "").strip()[:100],
    }


def _history_context(request: HttpRequest, *, contact: User | None = None) -> dict:
    filters = _history_filters(request)
    before = None
    if request.GET.get("cursor"):
        try:
            before = selectors.Cursor.decode(request.GET["cursor"])
        except ValueError:
            raise BadRequest(_("That page cursor is not valid.")) from None
    rows, next_cursor = selectors.history_page(
        user_id=request.user.pk, before=before, contact_id=contact.pk if contact else None, **filters
    )
    query = {k: v for k, v in (("filter", filters["filter"]), ("media", filters["media"]),
                                ("q", filters["contact_query"])) if v and v != "all"}
    return {
        "rows": rows,
        "next_cursor": next_cursor.encode() if next_cursor else "",
        "filters": filters,
        "query": urlencode(query),
        "contact": contact,
        "filter_links": [(f, FILTER_LABELS[f]) for f in selectors.HISTORY_FILTERS],
    }


def _mark_history_seen(user: User) -> None:
    user.history_seen_at = timezone.now()
    user.save(update_fields=["history_seen_at"])


@login_required
def history(request: HttpRequest, contact_id: int | None = None) -> HttpResponse:
    """The signed-in user's calls, newest first, filtered; or only those with one contact."""
    contact = get_object_or_404(User, pk=contact_id) if contact_id is not None else None
    context = _history_context(request, contact=contact)
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target and htmx.target.startswith("load-more"):
        return render(request, "calls/_history_rows.html", context)
    _mark_history_seen(request.user)
    title = _("Calls with %(name)s") % {"name": contact.name} if contact else _("History")
    return render_page(request, "calls/_history.html", context, title=title)


@login_required
def history_new_rows(request: HttpRequest) -> HttpResponse:
    """Rows newer than the newest one shown (the history page adds them live when a call ends)."""
    try:
        newer_than = int(request.GET.get("newer_than", "0"))
    except ValueError:
        raise BadRequest("newer_than must be a number.") from None
    contact_id = request.GET.get("contact")
    filters = _history_filters(request)
    entries = selectors.history_for(
        user_id=request.user.pk, newer_than=newer_than,
        contact_id=int(contact_id) if contact_id and contact_id.isdigit() else None, **filters,
    )
    _mark_history_seen(request.user)
    rows = [selectors.bill_row(e) for e in entries]
    return render(request, "calls/_history_rows.html", {"rows": rows, "next_cursor": "", "live": True})


@login_required
def missed_badge(request: HttpRequest) -> HttpResponse:
    """The navigation's missed-call badge (re-fetched live when a call ends)."""
    return render(request, "calls/_missed_badge.html", {"missed": selectors.missed_count(user=request.user)})


@login_required
def history_export(request: HttpRequest) -> StreamingHttpResponse:
    """The user's whole history as CSV, streamed."""

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    tz = timezone.get_current_timezone()

    def rows():
        yield writer.writerow(["call_id", "started_at", "direction", "contact_username", "contact_name",
                               "media", "status", "outcome", "end_reason", "duration_seconds"])
        entries = HistoryEntry.objects.filter(user_id=request.user.pk).select_related("call", "other")
        for entry in entries.order_by("-created_at", "-id").iterator(chunk_size=2000):
            call = entry.call
            yield writer.writerow([
                call.pk, timezone.localtime(call.created_at, tz).isoformat(),
                "outgoing" if entry.outgoing else "incoming", entry.other.username,
                _csv_safe(entry.other.name), entry.media, call.status,
                selectors.bill_text(call, viewer_id=request.user.pk), call.end_reason,
                int(call.duration.total_seconds()),
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="call-history.csv"'
    return response


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection through display names."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
