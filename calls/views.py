"""Pages: full documents for a normal request, just the main content for htmx navigation."""

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import selectors
from .forms import HistoryQuery, SearchQuery
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
    """Recent contacts first, then everyone else the user can call (nobody listed twice)."""
    recent = selectors.recent_contacts(user_id=request.user.pk, limit=8)
    people = selectors.callable_users(user=request.user).exclude(pk__in=[p.pk for p in recent])[:50]
    return render_page(request, "calls/_home.html", {"recent": recent, "people": people}, title=_("Home"))


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Find people by name or username; live as you type, and plain ?q= without JavaScript."""
    query = SearchQuery(request.GET).cleaned_data["q"].strip()
    results = selectors.search_users(user=request.user, query=query, limit=50) if query else []
    context = {"q": query, "results": results}
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "search-results":
        return render(request, "calls/_search_results.html", context)
    return render_page(request, "calls/_search.html", context, title=_("Search"))


def _history_filters(query: HistoryQuery) -> dict:
    """The history filters from the checked query string."""
    data = query.cleaned_data
    return {"filter": data["filter"], "media": data["media"], "contact_query": data["q"].strip()}


def _history_context(request: HttpRequest, *, contact: User | None = None) -> dict:
    query_form = HistoryQuery(request.GET)
    filters = _history_filters(query_form)
    before = query_form.cleaned_data["cursor"]
    rows, next_cursor = selectors.history_page(
        user_id=request.user.pk, before=before, contact_id=contact.pk if contact else None, **filters
    )
    selectors.with_day_headings(rows, now=timezone.now(), tz=timezone.get_current_timezone(),
                                after=before.created_at if before else None)
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


@login_required
@require_POST
def history_seen(request: HttpRequest) -> HttpResponse:
    """The history page was shown: its missed calls are seen (a POST: a GET changes nothing)."""
    request.user.history_seen_at = timezone.now()
    request.user.save(update_fields=["history_seen_at"])
    return render(request, "calls/_missed_badge.html", {"missed": 0})


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400: the page says what was wrong with the request (handler400)."""
    message = str(exception) if isinstance(exception, BadRequest) else _("The request is not valid.")
    return render(request, "400.html", {"message": message}, status=400)


@login_required
def history(request: HttpRequest, contact_id: int | None = None) -> HttpResponse:
    """The signed-in user's calls, newest first, filtered; or only those with one contact."""
    contact = None
    if contact_id is not None:
        contact = selectors.contact_of(user_id=request.user.pk, contact_id=contact_id)
        if contact is None:
            raise Http404(_("No such contact."))
    context = _history_context(request, contact=contact)
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target and htmx.target.startswith("load-more"):
        return render(request, "calls/_history_rows.html", context)
    title = _("Calls with %(name)s") % {"name": contact.name} if contact else _("History")
    return render_page(request, "calls/_history.html", context, title=title)


@login_required
def history_new_rows(request: HttpRequest) -> HttpResponse:
    """Rows newer than the newest one shown (the history page adds them live when a call ends)."""
    query = HistoryQuery(request.GET)
    entries = selectors.history_for(
        user_id=request.user.pk, newer_than=query.cleaned_data["newer_than"] or 0,
        contact_id=query.cleaned_data["contact"], **_history_filters(query),
    )
    rows = [selectors.bill_row(e) for e in entries]
    tz = timezone.get_current_timezone()
    selectors.with_day_headings(rows, now=timezone.now(), tz=tz)
    # The rows go on top of the list, above the heading of the newest row shown: if they belong
    # to that day, the response deletes that heading (out of band) and brings its own.
    newest = selectors.entry_start(user_id=request.user.pk, entry_id=query.cleaned_data["newer_than"] or 0)
    stale_day = None
    if rows and newest is not None and rows[-1]["day"] == selectors.local_day(newest, tz):
        stale_day = rows[-1]["day"]
    return render(request, "calls/_history_rows.html",
                  {"rows": rows, "next_cursor": "", "live": True, "stale_day": stale_day})


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
                "outgoing" if entry.outgoing else "incoming", _csv_safe(entry.other.username),
                _csv_safe(entry.other.name), entry.media, call.status,
                selectors.bill_text(call, viewer_id=request.user.pk), call.end_reason,
                int(call.duration.total_seconds()),
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="call-history.csv"'
    return response


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection through names (a username may start with '+', '-' or '@')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
