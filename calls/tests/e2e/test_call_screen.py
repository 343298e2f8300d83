"""The call screen (issue 12): a full-window stage, the self view dragged and swapped, minimise
across pages, full screen, picture-in-picture, the bill card, attention, reconnecting, the
keyboard, phones and the embed frame. Media proven with getStats() where it matters."""

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from .conftest import SILENCE, growth, poll, wait_growing, wait_still
from .proxy import CuttableProxy
from .test_calls import connect, navigate, place_call
from .test_embed import contexts, embed_server, host_event, host_site, open_host  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

AREA = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  const w = Math.min(r.right, innerWidth) - Math.max(r.left, 0), h = Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
  return Math.max(0, w) * Math.max(0, h) / (innerWidth * innerHeight); }"""
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= innerWidth"
REMOTE = "#callkit [data-ck=remote-video]"


def area(page, selector: str) -> float:
    return page.evaluate(AREA, selector)


def state(page) -> str:
    return page.evaluate("() => document.getElementById('callkit').dataset.state")


def test_the_stage_fills_the_window_while_ringing_and_in_a_video_call(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    for page in (alice, bob):
        # The whole window but the site's header (its links stay usable in a call).
        assert area(page, "#callkit") > 0.9, "the ringing call owns the window"
        assert page.evaluate("() => document.getElementById('callkit').getBoundingClientRect().bottom") == page.viewport_size["height"]
    expect(alice.locator("#callkit [data-ck=avatar]").first).to_have_text("BB")  # initials, big, over the camera
    expect(alice.get_by_text(re.compile(r"Waiting for an answer… \d+ s"))).to_be_visible()
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        assert area(page, REMOTE) >= 0.8, "their video fills the stage"
        # Uncropped: the whole picture is inside the element, letterboxed over the dark stage.
        assert page.evaluate(f"() => getComputedStyle(document.querySelector('{REMOTE}')).objectFit") == "contain"
        assert area(page, "#callkit [data-ck=self]") < 0.1, "your own picture is small"
    alice.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Video call · "))


def test_the_self_view_drags_to_a_corner_and_a_click_swaps_big_and_small(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    wait_growing(alice, "video", "framesDecoded")
    self_view = alice.locator("#callkit [data-ck=self]")
    assert self_view.get_attribute("data-corner") == "br"
    box = self_view.bounding_box()
    alice.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    alice.mouse.down()
    alice.mouse.move(200, 200, steps=8)
    alice.mouse.move(120, 150, steps=4)
    alice.mouse.up()
    expect(self_view).to_have_attribute("data-corner", "tl")
    poll(alice, "() => { const r = document.querySelector('#callkit [data-ck=self]').getBoundingClientRect();"
                "return r.right < innerWidth / 2 && r.bottom < innerHeight / 2; }", what="the preview in the top left")
    assert area(alice, REMOTE) >= 0.8  # a drag is not a swap

    self_view.click()
    expect(alice.locator("#callkit")).to_have_attribute("data-swapped", "true")
    assert area(alice, "#callkit [data-ck=local-video]") >= 0.8, "you are big now"
    assert area(alice, REMOTE) < 0.1, "they are small now"
    wait_growing(alice, "video", "framesDecoded")
    alice.locator(REMOTE).click()
    expect(alice.locator("#callkit")).to_have_attribute("data-swapped", "false")
    assert area(alice, REMOTE) >= 0.8


def test_minimised_the_call_follows_home_search_history_with_media_flowing(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    root = alice.locator("#callkit")
    # The header's links stay usable over the stage (the contract); following one minimises the call.
    navigate(alice, "Search")
    expect(root).to_have_attribute("data-layout", "floating")
    expect(alice.get_by_label("Search users")).to_be_visible()
    alice.get_by_role("button", name="Restore").click()
    expect(root).to_have_attribute("data-layout", "stage")
    alice.get_by_role("button", name="Minimise").click()
    expect(root).to_have_attribute("data-layout", "floating")
    assert 0 < area(alice, "#callkit") < 0.15, "a small floating window"
    assert area(alice, REMOTE) > 0, "their video shows in it"
    expect(alice.get_by_role("button", name="Restore")).to_be_focused()
    for link in ("Search", "History", "Home"):
        navigate(alice, link)  # the page underneath is usable: its links are not covered
        expect(root).to_have_attribute("data-layout", "floating")
        wait_growing(alice, "video", "framesDecoded")
        wait_growing(bob, "audio", "totalAudioEnergy")
    expect(alice.get_by_role("heading", name="Hello, Alice Liddell")).to_be_visible()
    alice.get_by_role("button", name="Restore").click()
    expect(root).to_have_attribute("data-layout", "stage")
    assert area(alice, REMOTE) >= 0.8
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^00:\d\d$"))
    alice.get_by_role("button", name="Hang up").click()
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Video call · "))


def test_full_screen_is_entered_and_left(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "video")
    button = alice.get_by_role("button", name="Full screen")
    button.click()
    poll(alice, "() => document.fullscreenElement?.id === 'callkit'", what="full screen")
    expect(button).to_have_attribute("aria-pressed", "true")
    wait_growing(alice, "video", "framesDecoded")
    button.click()
    poll(alice, "() => document.fullscreenElement === null", what="full screen to end")
    expect(button).to_have_attribute("aria-pressed", "false")

    # Still for a few seconds: the controls rest; any movement brings them back.
    root = alice.locator("#callkit")
    expect(root).to_have_attribute("data-chrome", "hidden", timeout=10000)
    alice.mouse.move(300, 300)
    alice.mouse.move(320, 310)
    expect(root).not_to_have_attribute("data-chrome", "hidden")
    expect(alice.get_by_role("button", name="Hang up")).to_be_visible()


NO_DOCUMENT_PIP = "delete window.documentPictureInPicture;"


def test_picture_in_picture_of_their_video(open_page):
    alice = open_page("alice", init_script=NO_DOCUMENT_PIP)  # the video element's own PiP
    bob = open_page("bob")
    connect(alice, bob, "video")
    wait_growing(alice, "video", "framesDecoded")
    alice.get_by_role("button", name="Picture in picture").click()
    poll(alice, f"() => document.pictureInPictureElement === document.querySelector('{REMOTE}')", what="PiP")
    expect(alice.get_by_role("button", name="Picture in picture")).to_have_attribute("aria-pressed", "true")
    wait_growing(alice, "video", "framesDecoded")
    bob.get_by_role("button", name="Hang up").click()
    poll(alice, "() => document.pictureInPictureElement === null", what="PiP to close with the call")


def test_document_picture_in_picture_carries_mute_and_hang_up(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    if not alice.evaluate("() => 'documentPictureInPicture' in window"):
        pytest.skip("this Chromium has no Document Picture-in-Picture")
    connect(alice, bob, "video")
    with alice.context.expect_page() as opened:
        alice.get_by_role("button", name="Picture in picture").click()
    pip = opened.value
    poll(alice, "() => !!window.documentPictureInPicture.window", what="the PiP window")
    poll(pip, "() => { const v = document.querySelector('video'); return v && v.srcObject && v.currentTime > 0; }",
         what="their video playing in the PiP window")
    pip.get_by_role("button", name="Mute microphone").click()
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()
    expect(alice.get_by_role("button", name="Unmute microphone")).to_be_visible()
    expect(pip.get_by_role("button", name="Unmute microphone")).to_be_visible()
    wait_still(bob, "audio", "totalAudioEnergy")
    pip.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Video call · "))


def test_the_bill_card_calls_back(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    connect(alice, bob, "audio")
    bob.get_by_role("button", name="Hang up").click()
    card = alice.locator('#callkit [data-view="ended"]')
    expect(card.get_by_role("status")).to_have_text(re.compile(r"^Audio call · \d\d:\d\d$"))
    expect(card).to_contain_text("Bob Builder")
    expect(card.locator("time")).to_have_text(re.compile(r"\d\d?:\d\d"))
    expect(card.get_by_role("button", name="Close")).to_be_visible()
    card.get_by_role("button", name="Call back with audio").click()
    dialog = bob.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Incoming audio call")
    dialog.get_by_role("button", name="Accept").click()
    wait_growing(bob, "audio", "totalAudioEnergy")
    wait_growing(alice, "audio", "totalAudioEnergy")
    alice.get_by_role("button", name="Hang up").click()
    bob.get_by_role("button", name="Close").click()
    expect(bob.locator("#callkit")).to_be_hidden()


def test_a_call_that_tried_you_during_a_call_shows_as_missed_after_it(open_page):
    alice, bob, carol = open_page("alice"), open_page("bob"), open_page("carol")
    connect(alice, bob, "audio")
    carol.get_by_role("button", name="Video call Bob Builder").click()
    expect(carol.get_by_role("status")).to_have_text("Busy")
    expect(bob.get_by_role("list", name="Missed calls")).to_be_hidden()  # not over the call
    wait_growing(bob, "audio", "totalAudioEnergy")  # the call went on
    alice.get_by_role("button", name="Hang up").click()
    missed = bob.get_by_role("list", name="Missed calls")
    expect(missed).to_contain_text("Missed video call from Carol Danvers")
    missed.get_by_role("button", name="Call back Carol Danvers").click()
    expect(carol.get_by_role("alertdialog")).to_contain_text("Bob Builder is calling")
    expect(carol.get_by_role("alertdialog")).to_contain_text("Incoming video call")


# Records every Notification the page makes, and lets the test say the tab is in the background.
RECORD_NOTIFICATIONS = """
window.__notes = [];
const Real = window.Notification;
function Recording(title, options) { window.__notes.push({ title, body: options?.body }); return new Real(title, options); }
Object.defineProperty(Recording, "permission", { get: () => Real.permission });
Recording.requestPermission = (...args) => Real.requestPermission(...args);
window.Notification = Recording;
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => !!window.__ckHidden });
"""


def test_the_first_visit_banner_turns_on_notifications_for_a_hidden_tab(open_page):
    bob = open_page("bob", init_script=RECORD_NOTIFICATIONS)
    alice = open_page("alice")
    banner = bob.locator("[data-ck-attention]").first
    expect(banner).to_be_visible()
    assert bob.evaluate("() => Notification.permission") == "default"
    bob.context.grant_permissions(["notifications"])
    banner.get_by_role("button", name="Turn on").click()
    expect(banner).to_be_hidden()
    poll(bob, "() => Notification.permission === 'granted'", what="permission")
    bob.reload()
    poll(bob, "() => window.callkit?.connectionState === 'open'", what="the socket")
    expect(bob.locator("[data-ck-attention]").first).to_be_hidden()  # remembered

    bob.evaluate("() => (window.__ckHidden = true)")  # the tab goes to the background
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    note = poll(bob, "() => window.__notes[0]", what="a notification")
    assert note == {"title": "Alice Liddell is calling", "body": "Incoming audio call"}
    alice.get_by_role("button", name="Cancel").click()


def test_a_dismissed_banner_stays_dismissed(open_page):
    bob = open_page("bob")
    banner = bob.locator("[data-ck-attention]").first
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Not now").click()
    expect(banner).to_be_hidden()
    bob.reload()
    poll(bob, "() => window.callkit?.connectionState === 'open'", what="the socket")
    expect(bob.locator("[data-ck-attention]").first).to_be_hidden()
    assert bob.evaluate("() => Notification.permission") == "default"


def test_the_stage_says_reconnecting_while_the_socket_is_down(open_page, server):
    proxy = CuttableProxy(server.port)
    try:
        alice = open_page("alice")
        bob = open_page("bob", base_url=proxy.url)
        connect(alice, bob, "video")
        wait_growing(bob, "video", "framesDecoded")
        expect(bob.locator("#callkit [data-ck=connection]")).to_be_empty()
        proxy.blocked = True
        proxy.cut()
        expect(bob.locator("#callkit [data-ck=connection]")).to_have_text("Reconnecting…")
        expect(bob.get_by_text("Reconnecting…")).to_be_visible()
        wait_growing(bob, "video", "framesDecoded")  # the media does not need the socket
        proxy.blocked = False
        poll(bob, "() => window.callkit.connectionState === 'open'", what="bob to reconnect")
        expect(bob.locator("#callkit [data-ck=connection]")).to_be_empty()
        bob.get_by_role("button", name="Hang up").click()
        expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Video call · "))
    finally:
        proxy.close()


def test_connecting_shows_between_accept_and_the_first_frame(open_page):
    # Hold back the remote description: the media cannot connect, the stage must say so.
    hold = """window.__ckHold = true; const orig = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = async function (...a) {
        while (window.__ckHold) await new Promise((r) => setTimeout(r, 50)); return orig.apply(this, a); };"""
    alice, bob = open_page("alice"), open_page("bob", init_script=hold)
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio").get_by_role("button", name="Accept").click()
    expect(bob.locator("#callkit [data-ck=connection]")).to_have_text("Connecting…")
    bob.evaluate("() => (window.__ckHold = false)")
    expect(bob.locator("#callkit [data-ck=connection]")).to_be_empty()
    wait_growing(bob, "audio", "totalAudioEnergy")
    bob.get_by_role("button", name="Hang up").click()


def focus_on(page, name: str, limit: int = 30) -> None:
    """Press Tab until the focused element is named `name` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => { const el = document.activeElement;"
                         "return el?.querySelector('[data-name]')?.textContent ?? el?.getAttribute('aria-label'); }") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_keyboard_only_answer_mute_and_hang_up(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "audio")
    expect(bob.get_by_role("alertdialog").get_by_role("button", name="Accept")).to_be_focused()
    assert bob.evaluate("() => document.querySelector('main').inert"), "Tab stays in the call, not the page under it"
    bob.keyboard.press("Escape")  # does not reject (a reject cannot be undone)
    expect(bob.get_by_role("alertdialog")).to_be_visible()
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("timer")).to_be_visible()
    wait_growing(alice, "audio", "totalAudioEnergy")
    focus_on(bob, "Mute microphone")
    bob.keyboard.press("Enter")
    expect(bob.get_by_role("button", name="Unmute microphone")).to_be_focused()  # same button, new name
    assert bob.get_by_role("button", name="Unmute microphone").get_attribute("aria-pressed") is None
    wait_still(alice, "audio", "totalAudioEnergy")
    assert growth(alice, "audio", "totalAudioEnergy", 1200) <= SILENCE["totalAudioEnergy"]
    focus_on(bob, "Hang up")
    bob.keyboard.press("Enter")
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Audio call · "))
    assert not bob.evaluate("() => document.querySelector('main').inert")
    focus_on(bob, "Close")
    bob.keyboard.press("Escape")  # the bill card closes with Escape too
    expect(bob.locator("#callkit")).to_be_hidden()


def test_no_horizontal_overflow_on_a_phone_in_any_call_state(open_page):
    alice, bob = open_page("alice"), open_page("bob")
    for page in (alice, bob):
        page.set_viewport_size({"width": 390, "height": 844})

    def fits(page, what):
        assert page.evaluate(NO_OVERFLOW), f"horizontal overflow: {what}"
        for button in page.locator("#callkit button:visible").all():
            box = button.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, f"{what}: a button sticks out"
            assert box["y"] + box["height"] <= 844 + 0.5, f"{what}: a button below the screen"

    fits(alice, "home")
    place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    fits(alice, "outgoing")
    fits(bob, "incoming")
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    wait_growing(alice, "video", "framesDecoded")
    fits(alice, "video call")
    hang_up = alice.get_by_role("button", name="Hang up").bounding_box()
    assert hang_up["y"] > 844 * 0.75, "the controls sit within the thumb's reach"
    alice.get_by_role("button", name="Devices").click()
    fits(alice, "devices open")
    alice.get_by_role("button", name="Devices").click()
    alice.get_by_role("button", name="Minimise").click()
    fits(alice, "minimised")
    alice.get_by_role("button", name="Restore").click()
    alice.get_by_role("button", name="Switch to audio").click()
    expect(bob.get_by_role("button", name="Switch to video")).to_be_visible()
    fits(bob, "audio call")
    bob.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("status")).to_be_visible()
    fits(alice, "bill card")
    fits(bob, "bill card")


def test_the_embed_frame_shows_errors_where_the_user_looks(browser, open_page, embed_server, host_site, users,
                                                          contexts):  # noqa: F811
    host = open_host(browser, host_site, embed_server, users["alice"], contexts)
    host_event(host, "ready")
    frame = host.frame_locator("#callkit")
    frame.get_by_label("Call someone").fill("nobody-here")
    frame.get_by_role("button", name="Video call").click()
    error = frame.get_by_role("alert")
    expect(error).to_have_text("No such user.")
    expect(error).to_be_visible()  # not set on a hidden panel
    box, frame_box = error.bounding_box(), host.locator("#callkit").bounding_box()
    assert frame_box["y"] <= box["y"] and box["y"] + box["height"] <= frame_box["y"] + frame_box["height"] + 1
    dial = frame.get_by_role("button", name="Video call").bounding_box()
    assert 0 <= box["y"] - (dial["y"] + dial["height"]) < 60, "right under the dialer, where the user looks"
    assert host_event(host, "error")["code"]

    bob = open_page("bob", srv=embed_server)
    frame.get_by_label("Call someone").fill("bob")
    frame.get_by_role("button", name="Audio call").click()
    expect(frame.get_by_role("button", name="Cancel")).to_be_visible()
    expect(frame.get_by_role("alert")).to_be_hidden()  # the old error does not follow into the call
    assert area(host, "#callkit") > 0  # (the frame itself)
    inner = next(f for f in host.frames if f.url.startswith(embed_server.url))
    assert inner.evaluate(AREA, "#callkit") > 0.99, "the same stage fills the frame"
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    wait_growing(bob, "audio", "totalAudioEnergy")
    frame.get_by_role("button", name="Hang up").click()
    expect(frame.get_by_role("status")).to_have_text(re.compile(r"^Audio call · "))


def test_a_refused_token_posts_an_error_to_the_host(browser, embed_server, host_site, contexts):  # noqa: F811
    context = browser.new_context(locale="en-US")
    contexts.append(context)
    page = context.new_page()
    page.goto(f"{host_site.origin}/host.html?{urlencode({'server': embed_server.url, 'token': 'forged-token-xyz-123'})}")
    expect(page.frame_locator("#callkit").get_by_role("alert")).to_contain_text("expired or its link is not valid")
    event = host_event(page, "error")
    assert event["code"] == "token_refused" and "expired" in event["message"]


ONE_LINE = """() => [...document.querySelectorAll('#callkit .ck-label')].filter((el) => el.offsetParent)
  .filter((el) => el.getBoundingClientRect().height > parseFloat(getComputedStyle(el).lineHeight) * 1.5)
  .map((el) => el.textContent)"""


def test_chinese_labels_never_break_inside_a_word_on_a_phone(open_page):
    alice, bob = open_page("alice", locale="zh-CN"), open_page("bob", locale="zh-CN")
    for page in (alice, bob):
        page.set_viewport_size({"width": 360, "height": 740})
    alice.get_by_role("button", name="视频呼叫 Bob Builder").click()
    dialog = bob.get_by_role("alertdialog")
    expect(dialog).to_contain_text("视频来电")
    assert bob.evaluate(ONE_LINE) == []
    dialog.get_by_role("button", name="接听", exact=True).click()
    wait_growing(alice, "video", "framesDecoded")
    assert alice.evaluate(ONE_LINE) == [], "a label wraps on a 360 px phone"
    assert alice.evaluate(NO_OVERFLOW)
    alice.get_by_role("button", name="关闭摄像头").click()
    expect(alice.get_by_role("button", name="打开摄像头")).to_be_visible()
    assert alice.evaluate(ONE_LINE) == []
    alice.get_by_role("button", name="挂断").click()
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^视频通话 · "))
