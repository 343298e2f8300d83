"""The bill live: the missed-call badge and new history rows appear without a reload."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .test_calls import navigate, place_call

pytestmark = pytest.mark.django_db(transaction=True)


def test_missed_badge_and_live_history_rows(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    history_link = bob.get_by_role("link", name=re.compile(r"^History"))
    expect(history_link).to_have_accessible_name("History")

    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    alice.get_by_role("button", name="Cancel").click()
    expect(bob.get_by_role("status")).to_have_text("Missed call")
    expect(history_link).to_have_accessible_name("History (1 missed)")

    navigate(bob, "History")
    expect(history_link).to_have_accessible_name("History")  # opening the history clears it
    rows = bob.get_by_role("listitem").filter(has_text="Alice Liddell")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Missed call")
    expect(rows.first).to_contain_text("Incoming")

    # A second call ends while the history page is open: its row appears on top, live.
    bob.get_by_role("button", name="Close").click()
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    dialog.get_by_role("button", name="Reject").click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Declined")
    expect(rows.first).to_contain_text("Video")
    expect(history_link).to_have_accessible_name("History")
    assert Call.objects.filter(status="rejected").count() == 1
    # The live row joined today's group: still one "Today" heading, right above it.
    today = bob.get_by_role("heading", name="Today", exact=True)
    expect(today).to_have_count(1)
    assert bob.evaluate("() => document.querySelector('#history-list > li').matches('.day')")

    # Call back from a history row: one control per row, with the row's media.
    expect(rows.first.get_by_role("button")).to_have_count(1)
    rows.first.get_by_role("button", name="Video call Alice Liddell").click()
    expect(alice.get_by_role("alertdialog")).to_contain_text("Bob Builder")
    alice.get_by_role("button", name="Reject").click()
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Outgoing")
    expect(today).to_have_count(1)
