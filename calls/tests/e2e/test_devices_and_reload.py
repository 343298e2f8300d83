"""Several tabs of one user, and a tab reloaded mid-call."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import STATS_JS, poll, wait_growing
from .test_calls import connect, place_call

pytestmark = pytest.mark.django_db(transaction=True)


def test_rings_on_every_tab_first_accept_wins_others_stop(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    alice2, bob2 = open_page.another_tab(alice), open_page.another_tab(bob)
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    expect(bob2.get_by_role("alertdialog")).to_contain_text("Alice Liddell is calling")
    # The caller's other tab shows the call and does not ring.
    expect(alice2.get_by_text("Calling Bob Builder on another device.")).to_be_visible()
    expect(alice2.get_by_role("alertdialog")).to_be_hidden()

    bob2.get_by_role("button", name="Accept").click()
    expect(bob.get_by_role("alertdialog")).to_be_hidden()
    expect(bob.get_by_role("status")).to_have_text("Answered on another device")
    wait_growing(bob2, "video", "framesDecoded")
    wait_growing(alice, "video", "framesDecoded")
    expect(alice2.get_by_text("In a call with Bob Builder on another device.")).to_be_visible()
    assert bob.evaluate("async () => await window.callkit.getStats()") is None  # no media in the other tab


def test_reject_on_one_tab_stops_all(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    bob2 = open_page.another_tab(bob)
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    expect(bob2.get_by_role("alertdialog")).to_be_visible()
    bob.get_by_role("button", name="Reject").click()
    expect(bob2.get_by_role("alertdialog")).to_be_hidden()
    expect(bob2.get_by_role("status")).to_have_text("Declined")
    expect(alice.get_by_role("status")).to_have_text("Declined")


def seconds(text: str) -> int:
    minutes, secs = text.split(":")
    return int(minutes) * 60 + int(secs)


def test_reload_mid_call_rejoins_and_the_timer_goes_on(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    wait_growing(bob, "video", "framesDecoded")
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^00:0[2-9]$"), timeout=6000)
    before = seconds(alice.get_by_role("timer").text_content())

    alice.reload()
    poll(alice, "() => window.callkit?.connectionState === 'open'", what="the socket to reopen")
    alice.evaluate(STATS_JS)
    expect(alice.get_by_role("button", name="Hang up")).to_be_visible(timeout=8000)
    assert seconds(alice.get_by_role("timer").text_content()) >= before  # the same call's clock
    wait_growing(alice, "video", "framesDecoded")  # media renegotiated with Bob
    wait_growing(bob, "video", "framesDecoded")
    wait_growing(bob, "audio", "totalAudioEnergy")

    bob.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Video call · 00:\d\d$"))
    assert Call.objects.count() == 1 and Call.objects.get().status == "completed"


def test_glare_both_calling_at_once_is_one_call(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    alice.get_by_role("button", name="Video call Bob Builder").click()
    # Bob clicks at the same moment: before Alice's ring reaches him. (Once it has, the incoming
    # call's stage covers his page, so a real click could not land; dispatch it as it happened.)
    bob.get_by_role("button", name="Video call Alice Liddell").dispatch_event("click")
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Hang up")).to_be_visible(timeout=10000)
    wait_growing(alice, "video", "framesDecoded")
    wait_growing(bob, "video", "framesDecoded")
    assert Call.objects.count() == 1 and Call.objects.get().state == "active"
