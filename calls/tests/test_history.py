"""Bills in history: wording from each side, filters, keyset pages, privacy, export, the badge."""

import csv
import io
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from calls import services
from calls.models import Call, HistoryEntry
from calls.selectors import PAGE_SIZE, bill_text, with_day_headings

pytestmark = pytest.mark.django_db(transaction=True)


def finish(caller, callee, how: str, media: str = "video") -> Call:
    """Make one call end the way `how` says, through the services."""
    assert how != "busy", "use finish_busy"
    call = services.call_invite(caller=caller, callee_id=callee.pk, media=media, channel="c1")
    if how == "completed":
        services.call_accept(call_id=call.pk, user=callee, channel="c2")
        Call.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=135))
        services.call_hangup(call_id=call.pk, user=caller)
    elif how == "failed":
        services.call_accept(call_id=call.pk, user=callee, channel="c2")
        services.call_hangup(call_id=call.pk, user=callee, failed=True)
    elif how == "rejected":
        services.call_reject(call_id=call.pk, user=callee)
    elif how == "canceled":
        services.call_cancel(call_id=call.pk, user=caller)
    elif how == "timeout":
        services.calls_sweep(now=Call.objects.get(pk=call.pk).ring_deadline)
    return Call.objects.get(pk=call.pk)


def finish_busy(caller, callee, third) -> Call:
    """`callee` is ringing with `third` when `caller` calls: busy."""
    blocker = services.call_invite(caller=third, callee_id=callee.pk, media="audio", channel="c3")
    call = services.call_invite(caller=caller, callee_id=callee.pk, media="video", channel="c4")
    services.call_cancel(call_id=blocker.pk, user=third)
    return Call.objects.get(pk=call.pk)


def rows(client, url="/history/"):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


WORDING = {
    # how: (caller reads, callee reads)
    "completed": ("Video call · 02:15", "Video call · 02:15"),
    "canceled": ("Canceled", "Missed call"),
    "rejected": ("Declined", "Declined"),
    "timeout": ("No answer", "Missed call"),
    "busy": ("Busy", "Missed call"),
    "failed": ("Call failed", "Call failed"),
}


def row_text(html: str, call_pk) -> str:
    """What one history row says to a screen reader (its text, not what is aria-hidden), spaces collapsed."""
    row = html.split(f'data-call-id="{call_pk}"')[1].split("</li>")[0].split(">", 1)[1]
    row = re.sub(r'<span [^>]*aria-hidden="true"[^>]*>[^<]*</span>', " ", row)
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


@pytest.mark.parametrize("how", list(WORDING))
def test_every_ending_reads_right_from_both_sides(client, alice, bob, carol, how):
    call = finish_busy(alice, bob, carol) if how == "busy" else finish(alice, bob, how)
    assert call.status == how
    for user, text, direction in [(alice, WORDING[how][0], "Outgoing"), (bob, WORDING[how][1], "Incoming")]:
        assert bill_text(call, viewer_id=user.pk) == text  # the bill, as the call screen shows it
        client.force_login(user)
        html = rows(client)
        row = html.split(f'data-call-id="{call.pk}"')[1].split("</li>")[0]
        said = row_text(html, call.pk)
        name = "Bob Builder" if user == alice else "Alice Liddell"
        assert f'<span class="outcome">{text}</span>' in row  # the bill's own words (product.md)
        if how == "completed":
            # "Video call · 02:15" says the media and the duration: the row says neither again.
            assert said.startswith(f"{name} {direction} Video call · 02:15 ")
        else:
            assert "00:00" not in said  # a call that never connected has no length
            assert said.startswith(f"{name} {direction} Video {text} ")
        # Each thing is said once (today's row read "Video · Video call · 02:15 … 02:15").
        assert said.count("Video") == 1 and said.count(direction) == 1 and said.count(name) == 1
        assert row.count("data-call-user=") == 1  # one call-back control, with the row's media
        assert f'aria-label="Video call {name}"' in row
    assert HistoryEntry.objects.filter(call=call).count() == 2


def test_filters(client, alice, bob, carol):
    finish(alice, bob, "completed", media="audio")  # alice: outgoing audio
    finish(bob, alice, "timeout", media="video")  # alice: incoming missed video
    finish(carol, alice, "rejected", media="video")  # alice: incoming video, not missed
    client.force_login(alice)

    def outcomes(query):
        html = rows(client, f"/history/?{query}")
        return [part.split("</span>")[0] for part in html.split('<span class="outcome">')[1:]]

    assert outcomes("filter=all") == ["Declined", "Missed call", "Audio call · 02:15"]
    assert outcomes("filter=missed") == ["Missed call"]
    assert outcomes("filter=outgoing") == ["Audio call · 02:15"]
    assert outcomes("filter=incoming") == ["Declined", "Missed call"]
    assert outcomes("media=video") == ["Declined", "Missed call"]
    assert outcomes("filter=incoming&media=audio") == []
    assert outcomes("q=carol") == ["Declined"]
    assert outcomes("q=Builder") == ["Missed call", "Audio call · 02:15"]
    assert outcomes("filter=nonsense") == outcomes("filter=all")  # unknown filter: all
    html = rows(client, f"/history/with/{carol.pk}/")
    assert "Calls with Carol Danvers" in html and html.count('class="outcome"') == 1


@pytest.mark.parametrize("count", [0, 1, PAGE_SIZE, PAGE_SIZE + 1, 2 * PAGE_SIZE + 3])
def test_keyset_pages_cover_everything_once(client, alice, bob, count):
    made = []
    for _ in range(count):
        made.append(finish(alice, bob, "canceled").pk)
    client.force_login(bob)
    seen, url, pages = [], "/history/", 0
    while url:
        html = rows(client, url)
        pages += 1
        seen += [part.split('"')[0] for part in html.split('data-call-id="')[1:]]
        url = None
        if 'id="load-more"' in html:
            url = html.split('id="load-more"')[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    assert seen == [str(pk) for pk in reversed(made)]  # newest first, each exactly once
    assert pages == max(1, -(-count // PAGE_SIZE))
    assert ("No calls here yet." in rows(client)) == (count == 0)


def test_load_more_with_htmx_returns_only_rows(client, alice, bob):
    for _ in range(PAGE_SIZE + 2):
        finish(alice, bob, "canceled")
    client.force_login(alice)
    first = rows(client)
    more = first.split('id="load-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    response = client.get(more, headers={"HX-Request": "true", "HX-Target": "load-more"})
    html = response.content.decode()
    assert "<h1>" not in html and html.count('class="outcome"') == 2 and 'id="load-more"' not in html


def test_bad_cursor_is_a_clear_400(client, alice):
    client.force_login(alice)
    assert client.get("/history/?cursor=garbage").status_code == 400


def test_nobody_sees_or_exports_anothers_calls(client, alice, bob, carol):
    call = finish(alice, bob, "completed")
    client.force_login(carol)
    assert str(call.pk) not in rows(client)
    assert str(call.pk) not in rows(client, f"/history/with/{alice.pk}/")
    assert str(call.pk) not in b"".join(client.get("/history/export.csv").streaming_content).decode()
    assert str(call.pk) not in rows(client, f"/history/new/?newer_than=0")
    client.logout()
    assert client.get("/history/").status_code == 302
    assert client.get("/history/export.csv").status_code == 302


def test_html_in_display_names_is_text(client, alice, make_user):
    mallory = make_user("mallory", '=1+1<img src=x onerror="alert(1)">')
    finish(mallory, alice, "canceled")
    client.force_login(alice)
    for url in ("/history/", "/", f"/search/?q=mall"):
        html = rows(client, url)
        assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    exported = b"".join(client.get("/history/export.csv").streaming_content).decode()
    assert "'=1+1<img" in exported  # a spreadsheet will not run it as a formula


def test_export_csv(client, alice, bob):
    finish(alice, bob, "completed", media="audio")
    finish(bob, alice, "timeout")
    client.force_login(alice)
    response = client.get("/history/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["direction"], r["outcome"], r["duration_seconds"]) for r in table] == [
        ("incoming", "Missed call", "0"), ("outgoing", "Audio call · 02:15", "135")]


def test_missed_badge_counts_since_history_was_opened(client, alice, bob):
    client.force_login(bob)
    finish(alice, bob, "canceled")
    finish(alice, bob, "timeout")
    finish(alice, bob, "rejected")  # declined by bob: not missed
    assert 'data-count="2"' in rows(client, "/history/badge/")
    assert 'data-count="2"' in rows(client, "/")
    rows(client, "/history/")  # the page, once shown, posts that it was seen: that clears it
    assert 'data-count="2"' in rows(client, "/history/badge/")
    assert client.post("/history/seen/").status_code == 200
    assert 'data-count="0"' in rows(client, "/history/badge/")
    finish(alice, bob, "canceled")
    assert 'data-count="1"' in rows(client, "/history/badge/")


def test_times_show_in_the_browsers_time_zone(client, alice, bob):
    call = finish(alice, bob, "canceled")
    client.force_login(alice)
    client.cookies["tz"] = "Asia/Shanghai"
    local = timezone.localtime(call.created_at, timezone=ZoneInfo("Asia/Shanghai"))
    page = rows(client)
    assert f'datetime="{local.isoformat()}"' in page
    with translation.override("en"):
        assert f">{date_format(local, 'TIME_FORMAT')}</time>" in page  # the local hour, under its day
    client.cookies["tz"] = "Not/AZone"
    utc = timezone.localtime(call.created_at, timezone=ZoneInfo("UTC"))
    assert f'datetime="{utc.isoformat()}"' in rows(client)


def _rows_at(rows_: list[datetime]) -> list[dict]:
    return [{"entry": SimpleNamespace(created_at=moment)} for moment in rows_]


@pytest.mark.parametrize(("zone", "language", "expected"), [
    # 17:30 UTC on 1 Dec 2026 is already 01:30 on 2 Dec in Shanghai: the same calls fall on other days.
    ("Asia/Shanghai", "en", ["Today", "Yesterday", "Monday", "October 1", "Dec. 25, 2025"]),
    ("UTC", "en", ["Today", "", "Yesterday", "October 1", "Dec. 25, 2025"]),
    ("Asia/Shanghai", "zh-hans", ["今天", "昨天", "星期一", "10月1日", "2025年12月25日"]),
])
def test_day_headings_in_the_viewers_time_zone(zone, language, expected):
    now = datetime(2026, 12, 1, 17, 30, tzinfo=dt_timezone.utc)
    moments = [datetime(2026, 12, 1, 16, 45, tzinfo=dt_timezone.utc),  # Shanghai: 2 Dec 00:45
               datetime(2026, 12, 1, 15, 30, tzinfo=dt_timezone.utc),  # Shanghai: 1 Dec 23:30
               datetime(2026, 11, 30, 10, 0, tzinfo=dt_timezone.utc),  # a Monday
               datetime(2026, 10, 1, 10, 0, tzinfo=dt_timezone.utc),
               datetime(2025, 12, 25, 10, 0, tzinfo=dt_timezone.utc)]
    with translation.override(language):
        marked = with_day_headings(_rows_at(moments), now=now, tz=ZoneInfo(zone))
    assert [row["day_heading"] for row in marked] == expected


def test_a_next_page_goes_on_under_its_days_heading():
    now = datetime(2026, 12, 1, 17, 30, tzinfo=dt_timezone.utc)
    earlier = datetime(2026, 12, 1, 9, 0, tzinfo=dt_timezone.utc)
    with translation.override("en"):
        same_day = with_day_headings(_rows_at([earlier]), now=now, tz=ZoneInfo("UTC"), after=now)
        next_day = with_day_headings(_rows_at([earlier - timedelta(days=1)]), now=now, tz=ZoneInfo("UTC"), after=now)
    assert same_day[0]["day_heading"] == "" and next_day[0]["day_heading"] == "Yesterday"


def _set_start(call: Call, moment: datetime) -> None:
    Call.objects.filter(pk=call.pk).update(created_at=moment)
    HistoryEntry.objects.filter(call=call).update(created_at=moment)


def outline(html: str) -> list[str]:
    """The history list in order: "# <day heading>" and the call id of each row."""
    items = re.findall(r'<h2 class="day-title">([^<]*)</h2>|data-call-id="([^"]+)"', html)
    return [f"# {heading}" if heading else call_id for heading, call_id in items]


def test_history_rows_are_grouped_by_day(client, alice, bob):
    now = timezone.now()
    today, yesterday, older = (finish(alice, bob, "canceled") for _ in range(3))
    _set_start(yesterday, now - timedelta(days=1))
    _set_start(older, now - timedelta(days=3))
    client.force_login(alice)
    client.cookies["tz"] = "Asia/Shanghai"  # no daylight saving: a day ago is always yesterday
    weekday = date_format(timezone.localtime(now - timedelta(days=3), ZoneInfo("Asia/Shanghai")), "l")
    assert outline(rows(client)) == ["# Today", str(today.pk), "# Yesterday", str(yesterday.pk),
                                     f"# {weekday}", str(older.pk)]
    assert outline(rows(client, f"/history/with/{bob.pk}/")) == outline(rows(client))


def test_load_more_and_live_rows_keep_one_heading_per_day(client, alice, bob):
    now = timezone.now()
    made = [finish(alice, bob, "canceled") for _ in range(PAGE_SIZE + 2)]
    _set_start(made[0], now - timedelta(days=1))  # the oldest: yesterday
    client.force_login(alice)
    client.cookies["tz"] = "Asia/Shanghai"
    first = rows(client)
    assert outline(first).count("# Today") == 1 and "# Yesterday" not in outline(first)
    more = first.split('id="load-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(more, headers={"HX-Request": "true", "HX-Target": "load-more"}).content.decode()
    assert outline(second) == [str(made[1].pk), "# Yesterday", str(made[0].pk)]  # under page one's "Today"

    # A call ends while the page is open: its row goes on top with "Today", and the old "Today"
    # heading (now under it) is deleted out of band, so the day still has one heading.
    newest = HistoryEntry.objects.get(user=alice, call=made[-1]).pk
    call = finish(alice, bob, "canceled")
    day = timezone.localtime(now, ZoneInfo("Asia/Shanghai")).date().isoformat()
    live = rows(client, f"/history/new/?newer_than={newest}")
    assert outline(live) == ["# Today", str(call.pk)]
    assert live.index(f'<li id="day-{day}" hx-swap-oob="delete">') < live.index('class="day"')
    # Rows of a new day above yesterday's: no heading to delete.
    oldest = HistoryEntry.objects.get(user=alice, call=made[0]).pk
    HistoryEntry.objects.filter(user=alice, pk__gt=oldest).exclude(call=call).delete()
    assert "hx-swap-oob" not in rows(client, f"/history/new/?newer_than={oldest}")


def test_home_lists_recent_contacts_first(client, alice, bob, carol):
    finish(alice, carol, "canceled")
    finish(bob, alice, "canceled")
    client.force_login(alice)
    html = rows(client, "/")
    recent = html.split('id="recent-title"')[1].split("</section>")[0]
    assert recent.index("Bob Builder") < recent.index("Carol Danvers")


def test_home_lists_nobody_twice(client, alice, bob, carol):
    finish(bob, alice, "canceled")
    client.force_login(alice)
    html = rows(client, "/")
    recent, others = html.split('id="recent-title"')[1].split('id="people-title"')
    assert "Bob Builder" in recent and "Carol Danvers" not in recent
    assert "Carol Danvers" in others and "Bob Builder" not in others
    assert html.count('aria-label="Audio call Bob Builder"') == 1
