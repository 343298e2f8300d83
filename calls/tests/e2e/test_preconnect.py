"""Connect while it rings: every ringing tab connects with the caller, and nothing is sent before Accept."""

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import Server, poll, wait_growing
from .test_calls import place_call

pytestmark = pytest.mark.django_db(transaction=True)

# Every RTCPeerConnection the page makes, and what all of them have sent (getStats()).
TRACK_CONNECTIONS = """
(() => {
  const Real = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Real {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
  window.__ckSent = async () => {
    const sent = { bytes: 0, packets: 0 };
    for (const pc of window.__pcs) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "outbound-rtp") { sent.bytes += s.bytesSent ?? 0; sent.packets += s.packetsSent ?? 0; }
      });
    }
    return sent;
  };
  window.__ckLive = () => window.__pcs.filter((pc) => pc.connectionState !== "closed").map((pc) => pc.connectionState);
})();
"""


def live(page) -> list[str]:
    return page.evaluate("() => window.__ckLive()")


def sent(page) -> dict:
    return page.evaluate("() => window.__ckSent()")


def connected_while_ringing(pages_and_counts) -> None:
    """Wait until each page has `count` live peer connections, all connected."""
    for page, count in pages_and_counts:
        poll(page, "(n) => { const s = window.__ckLive(); return s.length === n && s.every((c) => c === 'connected'); }",
             count, what=f"{count} connected peer connection(s) while ringing")


def assert_nothing_sent(pages, samples: int = 4) -> None:
    """No audio or video left any page, sampled over about a second."""
    for _ in range(samples):
        for page in pages:
            assert sent(page) == {"bytes": 0, "packets": 0}
        pages[0].wait_for_timeout(250)  # spread the samples over the ringing


def all_closed(page) -> None:
    poll(page, "() => window.__ckLive().length === 0", what="every peer connection closed")


@pytest.mark.parametrize("media", ["video", "audio"])
def test_every_ringing_tab_connects_and_nothing_flows_before_accept(open_page, media):
    alice = open_page("alice", init_script=TRACK_CONNECTIONS)
    bob = open_page("bob", init_script=TRACK_CONNECTIONS)
    bob2 = open_page.another_tab(bob)  # a second ringing tab of Bob's
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", media)
    expect(bob2.get_by_role("alertdialog")).to_be_visible()

    # ICE and DTLS connect while it rings: the caller has one connection per ringing tab.
    connected_while_ringing([(alice, 2), (bob, 1), (bob2, 1)])
    if media == "video":  # the callee sees itself while it rings
        poll(bob, "() => document.querySelector('[data-ck=\"preview\"]').videoWidth > 0", what="a self-preview")
    assert_nothing_sent([alice, bob, bob2])

    dialog.get_by_role("button", name="Accept").click()
    expect(bob.get_by_role("button", name="Hang up")).to_be_visible()
    all_closed(bob2)  # the tab that did not answer closed its connection at once
    poll(alice, "() => window.__ckLive().length === 1", what="the caller to keep one connection")
    for page in (alice, bob):
        if media == "video":
            wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")
        assert sent(page)["packets"] > 0
    assert live(alice) == ["connected"] and live(bob) == ["connected"]


def test_reject_cancel_and_timeout_close_every_prepared_connection(open_page):
    alice = open_page("alice", init_script=TRACK_CONNECTIONS)
    bob = open_page("bob", init_script=TRACK_CONNECTIONS)
    bob2 = open_page.another_tab(bob)

    def rings(place):
        place()
        expect(bob.get_by_role("alertdialog")).to_be_visible()
        connected_while_ringing([(alice, 2), (bob, 1), (bob2, 1)])

    def ended(status):
        for page in (alice, bob, bob2):
            all_closed(page)
        poll(alice, "(s) => window.callkit.currentCall?.info.status === s", status, what=f"the bill: {status}")
        assert_nothing_sent([alice, bob, bob2], samples=1)

    video = lambda: alice.get_by_role("button", name="Video call Bob Builder").click()  # noqa: E731
    rings(video)
    bob.get_by_role("alertdialog").get_by_role("button", name="Reject").click()
    ended("rejected")

    Call.objects.all().delete()  # no cool-down after a decline between these two
    rings(video)
    alice.get_by_role("button", name="Cancel").click()
    ended("canceled")

    rings(lambda: alice.evaluate("() => { window.callkit.call('bob', {media: 'audio', timeout: 5}); }"))
    ended("timeout")
    assert sorted(Call.objects.values_list("status", flat=True)) == ["canceled", "timeout"]


@pytest.fixture
def no_preconnect_server(server):
    srv = Server(CALLKIT_PRECONNECT="0")
    yield srv
    srv.stop()


def test_switched_off_nothing_connects_before_accept(open_page, no_preconnect_server):
    alice = open_page("alice", no_preconnect_server, init_script=TRACK_CONNECTIONS)
    bob = open_page("bob", no_preconnect_server, init_script=TRACK_CONNECTIONS)
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    bob.wait_for_timeout(1000)  # a second of ringing, in which pre-connect would have connected
    assert live(alice) == [] and live(bob) == []
    dialog.get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")


def test_a_ringing_tab_whose_socket_blips_prepares_again_and_connects(open_page, server):
    from .proxy import CuttableProxy

    proxy = CuttableProxy(server.port)
    try:
        alice = open_page("alice", init_script=TRACK_CONNECTIONS)
        bob = open_page("bob", base_url=proxy.url, init_script=TRACK_CONNECTIONS)
        dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
        connected_while_ringing([(alice, 1), (bob, 1)])
        proxy.cut()  # Bob's new socket has a new link: what he prepared is known by the old one
        poll(bob, "() => window.callkit.connectionState === 'reconnecting'", what="bob to notice the drop")
        poll(bob, "() => window.callkit.connectionState === 'open'", what="bob to reconnect")
        connected_while_ringing([(bob, 1)])
        poll(alice, "() => window.__ckLive().filter((s) => s === 'connected').length === 2",
             what="the caller to connect with the new link too")
        dialog.get_by_role("button", name="Accept").click()
        for page in (alice, bob):
            wait_growing(page, "video", "framesDecoded")
            wait_growing(page, "audio", "totalAudioEnergy")
        poll(alice, "() => window.__ckLive().length === 1", what="the stale link closed")
    finally:
        proxy.close()


# The camera takes its time: getUserMedia waits until the test lets it finish.
SLOW_CAMERA = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  window.__openCamera = () => open();
  window.__asked = 0;
  navigator.mediaDevices.getUserMedia = async (constraints) => { window.__asked += 1; await gate; return real(constraints); };
})();
"""


def test_accept_before_the_camera_opened_sends_once_it_has(open_page):
    alice = open_page("alice", init_script=TRACK_CONNECTIONS)
    bob = open_page("bob", init_script=TRACK_CONNECTIONS + SLOW_CAMERA)
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    dialog.get_by_role("button", name="Accept").click()  # the preview's camera is still opening
    bob.evaluate("() => window.__openCamera()")
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")


def test_a_caller_allowed_its_devices_rings_before_they_open(open_page):
    alice = open_page("alice", init_script=TRACK_CONNECTIONS + SLOW_CAMERA)
    alice.context.grant_permissions(["camera", "microphone"])
    bob = open_page("bob", init_script=TRACK_CONNECTIONS)
    # Bob's phone rings while Alice's camera is still opening: the invite did not wait for it.
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    assert alice.evaluate("() => window.callkit.currentCall.localStream") is None
    alice.evaluate("() => window.__openCamera()")
    poll(alice, "() => window.callkit.currentCall.localStream !== null", what="the caller's camera")
    assert_nothing_sent([alice, bob], samples=1)
    dialog.get_by_role("button", name="Accept").click()
    for page in (alice, bob):
        wait_growing(page, "video", "framesDecoded")
        wait_growing(page, "audio", "totalAudioEnergy")


def test_a_caller_not_yet_allowed_asks_before_it_rings(open_page):
    # The browser would ask: no permission yet (Chromium's fake media UI says "granted" to everything).
    not_yet = "navigator.permissions.query = async (d) => ({ name: d.name, state: 'prompt' });"
    alice = open_page("alice", init_script=SLOW_CAMERA + not_yet)
    bob = open_page("bob")
    alice.get_by_role("button", name="Video call Bob Builder").click()
    poll(alice, "() => window.__asked > 0", what="the caller's devices to be asked for")
    # An invite sent meanwhile would be handled before this ping (one socket, in order).
    alice.evaluate("() => window.callkit.signaling.request({type: 'ping'})")
    assert Call.objects.count() == 0  # nobody is rung while the caller's devices are not open
    alice.evaluate("() => window.__openCamera()")
    expect(bob.get_by_role("alertdialog")).to_be_visible()


def test_after_the_callees_socket_blips_mid_call_its_renegotiation_is_answered(open_page, server):
    from .proxy import CuttableProxy

    proxy = CuttableProxy(server.port)
    try:
        alice = open_page("alice")
        bob = open_page("bob", base_url=proxy.url)
        place_call(alice, bob, "Bob Builder", "Alice Liddell", "video").get_by_role("button", name="Accept").click()
        wait_growing(alice, "video", "framesDecoded")
        proxy.cut()  # Bob's new socket is a new connection, with a new link
        poll(bob, "() => window.callkit.connectionState === 'reconnecting'", what="bob to notice the drop")
        poll(bob, "() => window.callkit.connectionState === 'open'", what="bob to reconnect")
        poll(alice, "() => window.callkit.currentCall.info.away.length === 0", what="bob to be back")
        ufrag = "() => window.callkit._peer.pc.remoteDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
        before = bob.evaluate(ufrag)
        bob.evaluate("() => window.callkit.restartIce()")  # a new offer, from the new connection
        poll(bob, f"(old) => ({ufrag})() !== old", before, what="Alice's answer to Bob's ICE restart")
        wait_growing(alice, "video", "framesDecoded")
    finally:
        proxy.close()


def test_the_ringing_preview_is_not_drawn_once_the_call_is_answered(open_page):
    alice = open_page("alice")
    bob = open_page("bob")
    dialog = place_call(alice, bob, "Bob Builder", "Alice Liddell", "video")
    preview = bob.locator('[data-ck="preview"]')
    poll(bob, "() => document.querySelector('[data-ck=\"preview\"]').videoWidth > 0", what="a self-preview")
    expect(preview).to_be_visible()
    dialog.get_by_role("button", name="Accept").click()
    expect(bob.get_by_role("button", name="Hang up")).to_be_visible()
    # Under the other side's picture a full-window copy of your camera would cost a redraw per frame.
    for page in (alice, bob):
        expect(page.locator('[data-ck="preview"]')).to_be_hidden()
