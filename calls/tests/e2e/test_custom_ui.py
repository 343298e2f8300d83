"""The custom UI example (/examples/custom-ui/), built on the SDK alone, makes and takes real calls
with the default UI and with itself; media proven with getStats(), bills checked against the server."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import STATS_JS, poll, wait_growing

pytestmark = pytest.mark.django_db(transaction=True)


def open_example(page):
    """Move a signed-in page to the example and wait for its own socket."""
    page.goto("/examples/custom-ui/")
    poll(page, "() => window.callkit?.connectionState === 'open'", what="the example's socket to open")
    page.evaluate(STATS_JS)
    return page


def log_of(page):
    return page.get_by_role("complementary", name="Call log")


def bill_text(call: Call) -> str:
    seconds = int(call.duration.total_seconds())
    return f"{'Video' if call.media == 'video' else 'Audio'} call · {seconds // 60:02d}:{seconds % 60:02d}"


def test_example_calls_the_default_ui(open_page):
    alice, bob = open_example(open_page("alice")), open_page("bob")
    # It is a UI of its own: no default call panel, and the default UI's script never loaded.
    expect(alice.locator("#callkit")).to_have_count(0)
    assert not alice.evaluate("() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/callkit/ui.js'))")

    alice.get_by_role("button", name="Video call with Bob Builder").click()
    expect(alice.get_by_text("Ringing…")).to_be_visible()
    expect(alice.get_by_role("toolbar", name="Call controls").get_by_role("button", name="End call")).to_be_visible()
    dialog = bob.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Alice Liddell")
    dialog.get_by_role("button", name="Accept").click()

    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^00:0\d$"))
    expect(bob.get_by_role("button", name="Hang up")).to_be_visible()
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")
    expect(alice.get_by_role("img", name=re.compile(r"^Connection: (excellent|good)$"))).to_be_visible(timeout=8000)

    # Her controls reach Bob's UI; his reach hers.
    mute = alice.get_by_role("button", name="Mute")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()
    mute.click()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_hidden()
    bob.get_by_role("button", name="Turn camera off").click()
    expect(alice.get_by_text("Bob Builder turned video off")).to_be_visible()
    bob.get_by_role("button", name="Turn camera on").click()
    expect(alice.get_by_text("Bob Builder turned video off")).to_be_hidden()

    alice.get_by_role("button", name="End call").click()
    entry = log_of(alice).get_by_role("listitem")
    expect(entry).to_have_count(1)
    call = Call.objects.get()
    assert call.status == "completed" and call.end_reason == "hangup"
    expect(entry).to_contain_text("Bob Builder")
    expect(entry).to_contain_text("Outgoing")
    expect(entry).to_contain_text(bill_text(call))
    expect(alice.get_by_role("status").filter(has_text="Bob Builder: Video call")).to_have_text(f"Bob Builder: {bill_text(call)}")
    expect(bob.get_by_text(bill_text(call))).to_be_visible()
    expect(alice.get_by_role("timer")).to_be_hidden()


def test_example_takes_a_call_from_the_default_ui(open_page):
    alice, bob = open_example(open_page("alice")), open_page("bob")
    bob.get_by_role("button", name="Video call Alice Liddell").click()

    ring = alice.get_by_role("alertdialog", name="Bob Builder is calling")
    expect(ring).to_be_visible()
    expect(ring).to_have_accessible_description("Video call")
    ring.get_by_role("button", name="Answer", exact=True).click()

    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^00:0\d$"))
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")

    bob.get_by_role("button", name="Hang up").click()
    entry = log_of(alice).get_by_role("listitem")
    expect(entry).to_have_count(1)
    call = Call.objects.get()
    assert call.status == "completed" and call.ended_by_id == call.caller_id  # Bob hung up
    expect(entry).to_contain_text("Incoming")
    expect(entry).to_contain_text(bill_text(call))


def test_example_to_example_audio_call_declined(open_page):
    alice, bob = open_example(open_page("alice")), open_example(open_page("bob"))
    alice.get_by_role("button", name="Audio call with Bob Builder").click()

    ring = bob.get_by_role("alertdialog", name="Alice Liddell is calling")
    expect(ring).to_have_accessible_description("Audio call")
    expect(ring.get_by_role("button", name="Answer without video")).to_be_hidden()  # it is audio already
    ring.get_by_role("button", name="Decline").click()

    for page in (alice, bob):
        expect(log_of(page).get_by_role("listitem")).to_contain_text("Declined")
        expect(page.get_by_role("alertdialog")).to_be_hidden()
    assert Call.objects.get().status == "rejected"


def test_example_to_example_audio_call_connects(open_page):
    alice, bob = open_example(open_page("alice")), open_example(open_page("bob"))
    alice.get_by_role("button", name="Audio call with Bob Builder").click()
    bob.get_by_role("alertdialog").get_by_role("button", name="Answer", exact=True).click()
    for page in (alice, bob):
        expect(page.get_by_role("timer")).to_have_text(re.compile(r"^00:0\d$"))
        wait_growing(page, "audio", "totalAudioEnergy")
        # An audio call: no camera controls.
        expect(page.get_by_role("button", name="Stop video")).to_be_hidden()
    bob.get_by_role("button", name="End call").click()
    for page in (alice, bob):
        expect(log_of(page).get_by_role("listitem")).to_contain_text(re.compile(r"Audio call · 00:\d\d"))
    call = Call.objects.get()  # ended: its bill is what both logs show
    for page in (alice, bob):
        expect(log_of(page).get_by_role("listitem")).to_contain_text(bill_text(call))
