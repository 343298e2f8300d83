"""Read-only queries shared by the socket and the pages."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from .models import Call, HistoryEntry, Line, User


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


def contact_of(*, user_id: int, contact_id: int) -> User | None:
    """Someone whose calls with the user may be listed: anyone active, or anyone in their history."""
    contact = User.objects.filter(pk=contact_id).first()
    if contact is None or contact.pk == user_id:
        return None
    if contact.is_active or HistoryEntry.objects.filter(user_id=user_id, other_id=contact_id).exists():
        return contact
    return None


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
    entries = HistoryEntry.objects.filter(user_id=user_id).select_related("other")
    for entry in entries.order_by("-created_at", "-id")[: limit * 10]:
        if entry.other_id not in seen and entry.other.is_active:
            seen[entry.other_id] = entry.other
            if len(seen) == limit:
                break
    return list(seen.values())


_CALLER_TEXT = {"canceled": _("Canceled"), "rejected": _("Declined"), "timeout": _("No answer"),
                "busy": _("Busy"), "failed": _("Call failed")}
_CALLEE_TEXT = {"canceled": _("Missed call"), "rejected": _("Declined"), "timeout": _("Missed call"),
                "busy": _("Missed call"), "failed": _("Call failed")}


def bill_text(call: Call, *, viewer_id: int) -> str:
    """How the bill reads to the viewer (product.md; the JS twin is static/callkit/bill.js)."""
    if call.status == "completed":
        kind = _("Video call") if call.media == "video" else _("Audio call")
        return f"{kind} · {format_duration(int(call.duration.total_seconds()))}"
    table = _CALLER_TEXT if viewer_id == call.caller_id else _CALLEE_TEXT
    return str(table.get(call.status, _("Call ended")))


def format_duration(seconds: int) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bill_row(entry: HistoryEntry) -> dict:
    """One history row, from its owner's side: each fact once."""
    call = entry.call
    connected = call.status == "completed"
    return {
        "entry": entry,
        "call": call,
        "other": entry.other,
        "direction": str(_("Outgoing") if entry.outgoing else _("Incoming")),
        # The bill's own words (product.md): a completed call's "Video call · 02:15" says its media
        # and duration, so the row adds neither again; other outcomes get the media icon's words.
        "text": bill_text(call, viewer_id=entry.user_id),
        "missed": entry.missed,
        "connected": connected,
        "duration": format_duration(int(call.duration.total_seconds())),
    }


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The calendar day of `moment` in the time zone `tz`."""
    return timezone.localtime(moment, tz).date()


def day_label(day: date, *, today: date) -> str:
    """"Today", "Yesterday", a weekday within the last week, else the date (in the active language)."""
    if day == today:
        return str(_("Today"))
    if day == today - timedelta(days=1):
        return str(_("Yesterday"))
    if today - timedelta(days=6) <= day < today:
        return date_format(day, "l")
    return date_format(day, "MONTH_DAY_FORMAT" if day.year == today.year else "DATE_FORMAT")


def with_day_headings(rows: list[dict], *, now: datetime, tz: tzinfo, after: datetime | None = None) -> list[dict]:
    """Mark each row that opens a new day with that day's heading; `after` is the start of the
    row shown just above these (a "Load more" page goes on under its day's heading)."""
    today = local_day(now, tz)
    previous = local_day(after, tz) if after is not None else None
    for row in rows:
        day = local_day(row["entry"].created_at, tz)
        row["day"] = day
        row["day_heading"] = day_label(day, today=today) if day != previous else ""
        previous = day
    return rows


HISTORY_FILTERS = ("all", "missed", "outgoing", "incoming")
PAGE_SIZE = 25


@dataclass(frozen=True)
class Cursor:
    """Where a history page ends: the last row's start time and id (keyset pagination)."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{int(self.created_at.timestamp() * 1_000_000)}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """Parse a cursor; ValueError if it is not one."""
        micros, _, entry_id = text.partition(".")
        moment = datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt_timezone.utc)
        return cls(created_at=moment, id=int(entry_id))


def history_for(
    *,
    user_id: int,
    filter: str = "all",
    media: str = "",
    contact_id: int | None = None,
    contact_query: str = "",
    before: Cursor | None = None,
    newer_than: int | None = None,
    limit: int = PAGE_SIZE,
) -> QuerySet[HistoryEntry]:
    """A page of the user's history, newest first; each filter is one index range scan."""
    qs = HistoryEntry.objects.filter(user_id=user_id)
    if filter == "missed":
        qs = qs.filter(missed=True)
    elif filter == "outgoing":
        qs = qs.filter(outgoing=True)
    elif filter == "incoming":
        qs = qs.filter(outgoing=False)
    if media:
        qs = qs.filter(media=media)
    if contact_id is not None:
        qs = qs.filter(other_id=contact_id)
    if contact_query:
        # Resolve names to a few user ids first, so the history scan stays on its index.
        ids = list(
            User.objects.filter(Q(username__icontains=contact_query) | Q(display_name__icontains=contact_query))
            .values_list("pk", flat=True)[:200]
        )
        qs = qs.filter(other_id__in=ids)
    if before is not None:
        # The redundant `<=` bound lets the database start its index scan at the cursor.
        qs = qs.filter(created_at__lte=before.created_at).filter(
            Q(created_at__lt=before.created_at) | Q(id__lt=before.id)
        )
    if newer_than is not None:
        qs = qs.filter(id__gt=newer_than)
    return qs.select_related("call", "other").order_by("-created_at", "-id")[:limit]


def history_page(*, limit: int = PAGE_SIZE, **filters) -> tuple[list[dict], Cursor | None]:
    """Rows of one page and the cursor of the next (None on the last page)."""
    entries = list(history_for(limit=limit + 1, **filters))
    more = len(entries) > limit
    entries = entries[:limit]
    cursor = Cursor(entries[-1].created_at, entries[-1].pk) if more else None
    return [bill_row(e) for e in entries], cursor


def entry_start(*, user_id: int, entry_id: int) -> datetime | None:
    """When one of the user's history entries started (None if it is not theirs)."""
    return HistoryEntry.objects.filter(user_id=user_id, pk=entry_id).values_list("created_at", flat=True).first()


def missed_count(*, user: User) -> int:
    """Missed calls since the user last opened their history."""
    qs = HistoryEntry.objects.filter(user_id=user.pk, missed=True)
    if user.history_seen_at is not None:
        qs = qs.filter(created_at__gt=user.history_seen_at)
    return qs.count()


def user_id_by_username(username: str) -> int | None:
    """The id of the active user with this username, if any."""
    return User.objects.filter(username=username, is_active=True).values_list("pk", flat=True).first()
