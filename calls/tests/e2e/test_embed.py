"""The embed iframe on a host page from another site: commands in, events out, real media; framing
refused to sites not on the list; the full app on the other end."""

import functools
import http.server
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from calls import embed_tokens
from calls.models import Call

from .conftest import ROOT, STATS_JS, Server, free_port, poll, wait_growing

pytestmark = pytest.mark.django_db(transaction=True)


class StaticSite:
    """Another web site: serves static/examples/ on its own port, as http://localhost:<port>."""

    def __init__(self):
        handler = functools.partial(_QuietHandler, directory=str(ROOT / "static" / "examples"))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        # "localhost" and "127.0.0.1" are different sites: the iframe is cross-site, as in production.
        self.origin = f"http://localhost:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def host_site():
    site = StaticSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def stranger_site():
    site = StaticSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def embed_server(django_db_setup, django_db_blocker, host_site):
    with django_db_blocker.unblock():
        srv = Server(CALLKIT_EMBED_ORIGINS=host_site.origin)
    yield srv
    srv.stop()


def open_host(browser, site, srv, user, contexts):
    """The host site's page, with an embed token its backend minted for `user`."""
    context = browser.new_context(locale="en-US")
    contexts.append(context)
    page = context.new_page()
    messages = []
    page.on("console", lambda msg: messages.append(msg.text))
    page.console_messages = messages
    token = embed_tokens.mint(user, 120).token
    page.goto(f"{site.origin}/host.html?{urlencode({'server': srv.url, 'token': token})}")
    return page


@pytest.fixture
def contexts():
    made = []
    yield made
    for context in made:
        context.close()


def host_event(page, kind, timeout=15):
    return poll(page, "(k) => window.hostEvents.find((e) => e.type === k)", kind, timeout, f"host event {kind}")


def test_host_page_places_a_call_from_the_iframe_and_gets_its_events(browser, open_page, embed_server, host_site,
                                                                    users, contexts):
    bob = open_page("bob", srv=embed_server)
    host = open_host(browser, host_site, embed_server, users["alice"], contexts)
    ready = host_event(host, "ready")
    assert ready["user"]["username"] == "alice"
    frame = host.frame_locator("#callkit")
    expect(frame.get_by_text("Signed in as Alice Liddell")).to_be_visible()

    # A message from anyone but the host page (here: the frame itself) is not a command.
    embedded = next(f for f in host.frames if f.url.startswith(embed_server.url))
    embedded.evaluate("() => window.postMessage({ target: 'callkit', command: 'call', user: 'bob' }, '*')")

    host.evaluate("() => window.callkitHost.send('call', { user: 'bob', media: 'video', id: 'c1' })")
    assert host_event(host, "ringing")["call"]["peer"]["username"] == "bob"
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    connected = host_event(host, "connected")
    assert connected["call"]["media"] == "video" and connected["call"]["role"] == "caller"

    embedded.evaluate(STATS_JS)
    bob.evaluate(STATS_JS)
    wait_growing(embedded, "video", "framesDecoded")
    wait_growing(bob, "video", "framesDecoded")
    wait_growing(bob, "audio", "totalAudioEnergy")

    host.evaluate("() => window.callkitHost.send('mute', { id: 'm1' })")
    poll(host, "() => window.hostEvents.some((e) => e.type === 'result' && e.id === 'm1' && e.ok)", what="mute result")
    expect(bob.get_by_text("Alice Liddell muted their microphone")).to_be_visible()

    host.evaluate("() => window.callkitHost.send('hangup')")
    ended = host_event(host, "ended")
    assert ended["bill"]["status"] == "completed" and ended["text"].startswith("Video call · ")
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Video call · \d\d:\d\d$"))
    expect(frame.get_by_role("status")).to_have_text(re.compile(r"^Video call · \d\d:\d\d$"))

    calls = list(Call.objects.all())
    assert len(calls) == 1, "the frame's own message must not have placed a call"
    assert calls[0].status == "completed" and calls[0].caller == users["alice"]


def test_the_frame_takes_and_rejects_calls_by_host_command(browser, open_page, embed_server, host_site, users,
                                                          contexts):
    host = open_host(browser, host_site, embed_server, users["bob"], contexts)
    host_event(host, "ready")
    alice = open_page("alice", srv=embed_server)
    alice.get_by_role("button", name="Audio call Bob Builder").click()
    incoming = host_event(host, "incoming")
    assert incoming["call"]["peer"]["username"] == "alice" and incoming["call"]["media"] == "audio"
    host.evaluate("() => window.callkitHost.send('reject')")
    assert host_event(host, "ended")["bill"]["status"] == "rejected"
    expect(alice.get_by_role("status")).to_have_text("Declined")


def test_the_frame_is_a_whole_call_ui_at_phone_size(browser, open_page, embed_server, host_site, users, contexts):
    host = open_host(browser, host_site, embed_server, users["carol"], contexts)
    host.set_viewport_size({"width": 420, "height": 700})
    host.evaluate("() => { const f = document.getElementById('callkit'); f.width = 360; f.height = 640; }")
    host_event(host, "ready")
    frame = host.frame_locator("#callkit")
    frame.get_by_label("Call someone").fill("bob")
    bob = open_page("bob", srv=embed_server)
    frame.get_by_role("button", name="Audio call").click()
    bob.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
    hang_up = frame.get_by_role("button", name="Hang up")
    expect(hang_up).to_be_visible()
    box = hang_up.bounding_box()
    frame_box = host.locator("#callkit").bounding_box()
    assert box["x"] + box["width"] <= frame_box["x"] + frame_box["width"] + 1  # inside the 360 px frame
    assert box["y"] + box["height"] <= frame_box["y"] + frame_box["height"] + 1
    hang_up.click()
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Audio call · "))


def test_a_site_not_on_the_list_cannot_frame_it(browser, embed_server, stranger_site, users, contexts):
    page = open_host(browser, stranger_site, embed_server, users["alice"], contexts)
    refusals = lambda: [m for m in page.console_messages if "frame-ancestors" in m]  # noqa: E731
    deadline = time.monotonic() + 15
    while not refusals():
        assert time.monotonic() < deadline, "Chromium never reported refusing the frame"
        page.wait_for_timeout(50)  # until Chromium reports the refusal
    assert "has been blocked" in refusals()[0] and embed_server.url in refusals()[0]
    assert not any(f.url.startswith(embed_server.url) and f.evaluate("() => !!window.callkit") for f in page.frames
                   if f != page.main_frame and not f.url.startswith("chrome-error"))
    assert page.evaluate("() => window.hostEvents.length") == 0


def test_a_bad_token_gets_a_clear_refusal_inside_the_frame(browser, embed_server, host_site, contexts):
    context = browser.new_context(locale="en-US")
    contexts.append(context)
    page = context.new_page()
    page.goto(f"{host_site.origin}/host.html?{urlencode({'server': embed_server.url, 'token': 'forged-token-xyz-123'})}")
    expect(page.frame_locator("#callkit").get_by_role("alert")).to_contain_text("expired or its link is not valid")
