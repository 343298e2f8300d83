"""The signaling socket dies mid-call (the media is peer-to-peer and goes on): the tab
reconnects and resumes; if it stays away past the grace period, the call ends and is billed."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

from .conftest import Server, poll, wait_growing
from .proxy import CuttableProxy
from .test_calls import connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_grace_server(server):
    srv = Server(CALLKIT_GRACE="3")
    yield srv
    srv.stop()


@pytest.fixture
def proxy_to(request):
    proxies = []

    def make(srv):
        proxy = CuttableProxy(srv.port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()




def test_blip_reconnects_and_the_call_goes_on(open_page, server, proxy_to):
    proxy = proxy_to(server)
    alice = open_page("alice")
    bob = open_page("bob", base_url=proxy.url)
    connect(alice, bob, "video")
    wait_growing(alice, "video", "framesDecoded")

    proxy.cut()
    poll(bob, "() => window.callkit.connectionState === 'reconnecting'", what="bob to notice the drop")
    poll(bob, "() => window.callkit.connectionState === 'open'", what="bob to reconnect")
    # The media never depended on the socket, and the call is still the same, live one.
    wait_growing(alice, "video", "framesDecoded")
    wait_growing(bob, "audio", "totalAudioEnergy")
    poll(alice, "() => window.callkit.currentCall.info.away.length === 0", what="bob to be back")
    bob.get_by_role("button", name="Mute microphone").click()  # the new socket carries requests
    expect(alice.get_by_text("Bob Builder muted their microphone")).to_be_visible()
    alice.get_by_role("button", name="Hang up").click()
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Video call · "))
    call = Call.objects.get()
    assert (call.status, call.end_reason) == ("completed", "hangup")


def test_gone_past_the_grace_period_ends_the_call_for_both(open_page, short_grace_server, proxy_to):
    proxy = proxy_to(short_grace_server)
    alice = open_page("alice", short_grace_server)
    bob = open_page("bob", short_grace_server, base_url=proxy.url)
    connect(alice, bob, "audio")
    proxy.blocked = True
    proxy.cut()
    expect(alice.get_by_text("Reconnecting…")).to_be_visible()  # alice is told bob is away
    expect(alice.get_by_role("status")).to_have_text(re.compile(r"^Audio call · 00:0\d$"), timeout=15000)
    call = Call.objects.get()
    assert (call.status, call.end_reason, call.ended_by.username) == ("completed", "connection_lost", "bob")
    proxy.blocked = False  # bob's network comes back: he learns the bill too
    expect(bob.get_by_role("status")).to_have_text(re.compile(r"^Audio call · 00:0\d$"), timeout=15000)


# The longest of 200 waits the socket would choose before its next reconnect, after many failures.
LONGEST_RETRY = """(attempt) => {
  const s = window.callkit.signaling, saved = s.attempt;
  s.attempt = attempt;
  const delays = Array.from({ length: 200 }, () => s.retryDelay());
  s.attempt = saved;
  return Math.max(...delays);
}"""


def test_a_tab_in_a_call_retries_within_a_third_of_the_grace(open_page, short_grace_server):
    """A tab holding a call must be back before its grace ends once the server is reachable again
    (after Redis returns, every side away has one grace period): it never waits longer than a third of it."""
    alice = open_page("alice", short_grace_server)
    bob = open_page("bob", short_grace_server)
    assert alice.evaluate(LONGEST_RETRY, 10) > 7000  # no call: backs off up to 10 s (±25 %)
    connect(alice, bob, "audio")
    grace_ms = 1000 * alice.evaluate("window.callkit.config.grace")
    assert alice.evaluate(LONGEST_RETRY, 10) <= grace_ms / 3 * 1.25
