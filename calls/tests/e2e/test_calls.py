"""Real calls between two Chromium pages through the real server, media proven with getStats()."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import SILENCE, Server, growth, poll, wait_growing, wait_still

pytestmark = pytest.mark.django_db(transaction=True)


def navigate(page, link: str):
    """Follow a navigation link and wait until htmx has swapped and wired up the new content."""
    page.evaluate("""() => {
        window.__ckSettled = false;
        document.body.addEventListener("htmx:afterSettle", () => (window.__ckSettled = true), {once: true});
    }""")
    page.get_by_role("link", name=link).click()
    poll(page, "() => window.__ckSettled", what="htmx to settle")


def place_call(caller, callee, callee_name: str, caller_name: str, media: str):
    button = "Video call" if media == "video" else "Audio call"
    caller.get_by_role("button", name=f"{button} {callee_name}").click()
    expect(caller.get_by_role("button", name="Cancel")).to_be_visible()
    dialog = callee.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(caller_name)
    expect(dialog).to_contain_text(f"Incoming {media} call")
    return dialog


def connect(alice, bob, media: str):
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", media)
    dialog.get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Hang up")).to_be_visible()
        expect(page.get_by_role("timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))


def test_video_call(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "video", "bytesReceived")
        wait_growing(page, "audio", "totalAudioEnergy")
    # Network quality from getStats, for both sides, on a loopback link: good.
    for page in (alice, bob):
        expect(page.get_by_text(re.compile(r"^Your network: (Excellent|Good)$"))).to_be_visible(timeout=8000)
        expect(page.get_by_text(re.compile(r"^Their network: (Excellent|Good)$"))).to_be_visible(timeout=8000)

    # Mute on Alice's side: Bob sees it, and her audio energy stops reaching him.
    alice.get_by_role("button", name="Mute microphone").click()
    expect(alice.get_by_role("button", name="Unmute microphone")).to_be_visible()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()
    wait_still(bob, "audio", "totalAudioEnergy")
    assert growth(bob, "audio", "totalAudioEnergy", 1200) <= SILENCE["totalAudioEnergy"]
    wait_growing(alice, "audio", "totalAudioEnergy")  # Bob's audio still reaches Alice
    alice.get_by_role("button", name="Unmute microphone").click()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_hidden()
    wait_growing(bob, "audio", "totalAudioEnergy")

    # Camera off on Bob's side: Alice sees it.
    bob.get_by_role("button", name="Turn camera off").click()
    expect(bob.get_by_role("button", name="Turn camera on")).to_be_visible()
    expect(alice.get_by_text("Bob Builder turned their camera off")).to_be_visible()
    bob.get_by_role("button", name="Turn camera on").click()
    expect(alice.get_by_text("Bob Builder turned their camera off")).to_be_hidden()

    # Video -> audio: at once for both; no more video frames, audio goes on.
    alice.get_by_role("button", name="Switch to audio").click()
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Switch to video")).to_be_visible()
    wait_still(bob, "video", "framesDecoded")
    wait_growing(bob, "audio", "totalAudioEnergy")

    bob.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Audio call · \d\d:\d\d$"))


def test_audio_call_mute_and_caller_hangs_up(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "audio")
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Switch to video")).to_be_visible()
        expect(page.get_by_role("button", name="Turn camera off")).to_be_hidden()
        wait_growing(page, "audio", "totalAudioEnergy")
    assert alice.evaluate("async () => (await window.__ckInbound('video'))") is None  # audio only

    bob.get_by_role("button", name="Mute microphone").click()
    expect(alice.get_by_text("Bob Builder muted their microphone")).to_be_visible()
    wait_still(alice, "audio", "totalAudioEnergy")
    wait_growing(bob, "audio", "totalAudioEnergy")

    # The timer runs, by the server's answer time.
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^00:(0[2-9]|[1-5]\d)$"), timeout=5000)
    alice.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Audio call · 00:0[2-9]$"))
    call = Call.objects.get()
    assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "hangup", "alice")


def test_audio_to_video_needs_the_other_side(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "audio")
    alice.get_by_role("button", name="Switch to video").click()
    ask = bob.get_by_role("dialog", name="Alice Liddell asks to switch to video")
    expect(ask).to_be_visible()
    ask.get_by_role("button", name="Decline").click()
    expect(alice.get_by_role("status")).to_have_text("Video was declined")
    expect(alice.get_by_role("button", name="Switch to video")).to_be_visible()

    alice.get_by_role("button", name="Switch to video").click()
    bob.get_by_role("dialog", name="Alice Liddell asks to switch to video").get_by_role("button", name="Agree").click()
    for page in (alice, bob):
        expect(page.get_by_role("button", name="Switch to audio")).to_be_visible()
        wait_growing(page, "video", "framesDecoded")  # video now flows both ways
    assert Call.objects.get().media == "video"


def test_switch_camera_keeps_video_flowing(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    wait_growing(bob, "video", "framesDecoded")
    before = alice.evaluate("() => document.querySelector('[data-ck=local-video]').srcObject.getVideoTracks()[0].id")
    alice.get_by_role("button", name="Switch camera").click()
    # Chromium's fake capture offers one camera: switching must say so, and the call goes on.
    has_two = alice.evaluate(
        "async () => (await navigator.mediaDevices.enumerateDevices()).filter(d => d.kind === 'videoinput').length > 1")
    if has_two:
        poll(alice, "(id) => document.querySelector('[data-ck=local-video]').srcObject.getVideoTracks()[0].id !== id",
             before, what="a new camera track")
    else:
        expect(alice.get_by_role("alert")).to_have_text("There is no other camera.")
    wait_growing(bob, "video", "framesDecoded")


def test_devices_can_be_listed_and_chosen(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    alice.get_by_role("button", name="Devices").click()
    expect(alice.get_by_role("button", name="Devices")).to_have_attribute("aria-expanded", "true")
    microphones = alice.get_by_label("Microphone")
    expect(microphones.locator("option")).not_to_have_count(0)
    options = microphones.locator("option").all_text_contents()
    microphones.select_option(label=options[-1])
    expect(alice.locator("[data-ck=error]")).to_be_empty()
    poll(alice, "() => window.callkit.devices.microphoneId !== null", what="the microphone choice")
    alice.get_by_label("Camera").select_option(index=0)
    poll(alice, "() => window.callkit.devices.cameraId !== null", what="the camera choice")
    wait_growing(bob, "audio", "totalAudioEnergy")  # the new microphone reaches Bob
    wait_growing(bob, "video", "framesDecoded")  # and so does the camera


def test_incoming_call_flashes_the_title(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    poll(bob, "() => document.title.startsWith('📞 Alice Liddell is calling')", what="the title to flash")
    bob.get_by_role("button", name="Reject").click()
    poll(bob, "() => !document.title.startsWith('📞')", what="the title to settle")


def test_reject(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    dialog.get_by_role("button", name="Reject").click()
    expect(alice.get_by_role("status")).to_have_text("Declined")
    expect(bob.get_by_role("status")).to_have_text("Declined")
    expect(bob.get_by_role("alertdialog")).to_be_hidden()
    assert Call.objects.get().status == "rejected"


def test_cancel(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    alice.get_by_role("button", name="Cancel").click()
    expect(alice.get_by_role("status")).to_have_text("Canceled")
    expect(bob.get_by_role("status")).to_have_text("Missed call")
    expect(bob.get_by_role("alertdialog")).to_be_hidden()
    assert Call.objects.get().status == "canceled"


def test_busy_with_a_third_user(open_page):
    alice, bob, carol = open_page("alice"), open_page("bob"), open_page("carol")
    connect(alice, bob, "video")
    carol.get_by_role("button", name="Video call Bob Builder").click()
    expect(carol.get_by_role("status")).to_have_text("Busy")
    expect(bob.get_by_role("alertdialog")).to_be_hidden()
    expect(bob.get_by_role("button", name="Hang up")).to_be_visible()  # bob's call goes on
    wait_growing(bob, "video", "framesDecoded")
    assert Call.objects.get(caller__username="carol").status == "busy"


def test_call_survives_navigation(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    navigate(alice, "Search")
    expect(alice.get_by_label("Search users")).to_be_visible()
    navigate(alice, "History")
    expect(alice.get_by_role("heading", name="History")).to_be_visible()
    navigate(alice, "Home")
    expect(alice.get_by_role("heading", name="Hello, Alice Liddell")).to_be_visible()
    alice.go_back()
    expect(alice.get_by_role("heading", name="History")).to_be_visible()
    # The very same call, with media still flowing, after moving around the app.
    expect(alice.get_by_role("button", name="Hang up")).to_be_visible()
    wait_growing(alice, "video", "framesDecoded")
    wait_growing(bob, "video", "framesDecoded")
    assert Call.objects.get().state == "active"


def test_search_live_and_without_javascript(open_page, browser, server):
    alice = open_page("alice")
    navigate(alice, "Search")
    alice.get_by_label("Search users").press_sequentially("car")
    expect(alice.get_by_role("button", name="Audio call Carol Danvers")).to_be_visible()
    expect(alice.get_by_role("button", name="Audio call Bob Builder")).to_be_hidden()
    assert alice.url.endswith("/search/?q=car")

    context = browser.new_context(base_url=server.url, java_script_enabled=False, locale="en-US")
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill("pw")
        page.get_by_role("button", name="Log in").click()
        page.goto("/search/?q=ali")
        expect(page.get_by_role("button", name="Video call Alice Liddell")).to_be_attached()
        expect(page.get_by_role("button", name="Video call Carol Danvers")).not_to_be_attached()
    finally:
        context.close()


@pytest.fixture
def quick_timeout_server(server):
    srv = Server(CALLKIT_RING_TIMEOUT="3")
    yield srv
    srv.stop()


def test_ring_timeout(open_page, quick_timeout_server):
    alice, bob = open_page("alice", quick_timeout_server), open_page("bob", quick_timeout_server)
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    expect(alice.get_by_role("status")).to_have_text("No answer", timeout=8000)
    expect(bob.get_by_role("status")).to_have_text("Missed call")
    expect(bob.get_by_role("alertdialog")).to_be_hidden()
    call = Call.objects.get()
    assert (call.status, call.ended_by) == ("timeout", None)
