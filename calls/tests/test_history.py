"""Bills in history: wording from each side, filters, keyset pages, privacy, export, the badge."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from calls import services
from calls.models import Call, HistoryEntry
from calls.selectors import PAGE_SIZE

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


@pytest.mark.parametrize("how", list(WORDING))
def test_every_ending_reads_right_from_both_sides(client, alice, bob, carol, how):
    call = finish_busy(alice, bob, carol) if how == "busy" else finish(alice, bob, how)
    assert call.status == how
    for user, text, direction in [(alice, WORDING[how][0], "Outgoing"), (bob, WORDING[how][1], "Incoming")]:
        client.force_login(user)
        html = rows(client)
        row = html.split(f'data-call-id="{call.pk}"')[1].split("</li>")[0]
        assert f'<span class="outcome">{text}</span>' in row
        assert direction in row
        assert ("Bob Builder" if user == alice else "Alice Liddell") in row
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
    local = timezone.localtime(call.created_at, timezone=__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    page = rows(client)
    assert f'datetime="{local.replace(microsecond=0).isoformat()}' in page or f'datetime="{local.isoformat()}' in page
    assert local.strftime("%m/%d/%Y") in page  # English short date; the hour is the local one below
    assert local.strftime(" %-I:") in page or local.strftime(" %-I ") in page
    client.cookies["tz"] = "Not/AZone"
    utc = timezone.localtime(call.created_at, timezone=__import__("zoneinfo").ZoneInfo("UTC"))
    assert f'datetime="{utc.isoformat()}' in rows(client)


def test_home_lists_recent_contacts_first(client, alice, bob, carol):
    finish(alice, carol, "canceled")
    finish(bob, alice, "canceled")
    client.force_login(alice)
    html = rows(client, "/")
    recent = html.split('id="recent-title"')[1].split("</section>")[0]
    assert recent.index("Bob Builder") < recent.index("Carol Danvers")
