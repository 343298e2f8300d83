"""The channel layer (Redis, in production) fails for longer than the grace period: every socket
drops and no tab can reconnect, yet no call ends for a lost connection; when the layer is back,
every side still away gets its grace afresh. A call that did end meanwhile (a ring timeout) is
the tab's to learn when it reconnects."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from calls.layers import InMemoryChannelLayer
from calls.models import Call, HistoryEntry

from .test_socket_flows import connect_call, row

pytestmark = pytest.mark.django_db(transaction=True)


class FlakyLayer(InMemoryChannelLayer):
    """The in-memory layer, made to fail like a Redis that went away: every operation raises,
    and every consumer's pending receive raises at once (which ends the consumer)."""

    extensions = ["groups", "flush"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.down = False
        self._outage: asyncio.Event | None = None

    def fail(self) -> None:
        self.down = True
        self._event().set()

    def recover(self) -> None:
        self.down = False
        self._outage = None

    def _event(self) -> asyncio.Event:
        if self._outage is None:
            self._outage = asyncio.Event()
        return self._outage

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("the channel layer is down")

    async def send(self, channel, message):
        self._check()
        return await super().send(channel, message)

    async def new_channel(self, prefix="specific."):
        self._check()
        return await super().new_channel(prefix)

    async def group_add(self, group, channel):
        self._check()
        return await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        self._check()
        return await super().group_discard(group, channel)

    async def group_send(self, group, message):
        self._check()
        return await super().group_send(group, message)

    async def receive(self, channel):
        self._check()
        getting = asyncio.ensure_future(super().receive(channel))
        failing = asyncio.ensure_future(self._event().wait())
        try:
            await asyncio.wait({getting, failing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failing.cancel()
            if not getting.done():
                getting.cancel()
        if not getting.done() or getting.cancelled():
            raise ConnectionError("the channel layer is down")
        return getting.result()


@pytest.fixture
def flaky(settings):
    """This test's channel layer, which the test can bring down and back."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "calls.tests.test_outage.FlakyLayer"}}
    from channels.layers import get_channel_layer

    return get_channel_layer()


async def until(predicate, what: str, timeout: float = 10):
    """Poll the database (through `predicate`) until it holds; fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await database_sync_to_async(predicate)()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)  # between polls of a condition


async def test_calls_survive_a_layer_outage_longer_than_the_grace(open_tab, alice, bob, flaky, settings):
    settings.CALLKIT_GRACE = 0.5
    settings.CALLKIT_SWEEP_INTERVAL = 0.1
    a, b = await open_tab(alice, tab_id="alice-tab-1"), await open_tab(bob, tab_id="bob-tab-1")
    call = await connect_call(a, b, bob)

    flaky.fail()  # both consumers end; their calls' sides start their grace
    both_away = await until(lambda: (c := Call.objects.get(pk=call["id"])).caller_gone_deadline
                            and c.callee_gone_deadline and c, "both sides to be away")
    first_deadline = max(both_away.caller_gone_deadline, both_away.callee_gone_deadline)
    # The outage outlasts the grace by many sweeps; the clock must end nothing meanwhile.
    await until(lambda: timezone.now() > first_deadline + timedelta(seconds=1), "the outage to outlast the grace")
    assert (await row(call["id"])).state == "active"

    flaky.recover()
    back_at = timezone.now()
    # The first sweep that finds the layer back gives every side still away a whole grace from now.
    await until(lambda: (c := Call.objects.get(pk=call["id"])).caller_gone_deadline >= back_at + timedelta(seconds=0.5)
                and c.callee_gone_deadline >= back_at + timedelta(seconds=0.5), "a fresh grace")
    for user, tab_id in ((alice, "alice-tab-1"), (bob, "bob-tab-1")):
        tab = await open_tab(user, tab_id=tab_id)
        assert (tab.hello["call"]["id"], tab.hello["this_tab"]) == (call["id"], True)
        await tab.request("call.resume", call_id=call["id"])
    live = await row(call["id"])
    assert (live.state, live.caller_gone_deadline, live.callee_gone_deadline) == ("active", None, None)
    assert not await database_sync_to_async(HistoryEntry.objects.exists)()


async def test_a_ring_timeout_during_the_outage_reaches_the_tabs_when_they_are_back(
        open_tab, alice, bob, flaky, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 0.1
    settings.CALLKIT_RING_TIMEOUT = 1
    a, b = await open_tab(alice, tab_id="alice-tab-1"), await open_tab(bob, tab_id="bob-tab-1")
    await a.request("call.invite", to=bob.pk, media="audio")
    call = (await a.expect("call.ringing"))["call"]
    await b.expect("call.incoming")

    flaky.fail()
    # Ring timeouts still end calls while the layer is down: nobody could answer.
    ended = await until(lambda: Call.objects.get(pk=call["id"]).status, "the ring timeout")
    assert ended == "timeout"
    flaky.recover()
    for user, tab_id, role in ((alice, "alice-tab-1", "caller"), (bob, "bob-tab-1", "callee")):
        tab = await open_tab(user, tab_id=tab_id)
        assert tab.hello["call"] is None  # no live call: the tab asks for the one it held
        await tab.send(type="sync", call_id=call["id"], ref="s")
        bill = await tab.expect("sync")
        assert (bill["call"]["state"], bill["call"]["status"], bill["role"]) == ("ended", "timeout", role)


def test_holding_the_grace_restarts_it_for_every_side_away_and_only_those(alice, bob, carol, make_user, settings):
    settings.CALLKIT_GRACE, settings.CALLKIT_RING_GRACE = 15, 5
    from calls import services

    active = services.call_invite(caller=alice, callee_id=bob.pk, media="audio", channel="p!1")
    services.call_accept(call_id=active.pk, user=bob, channel="p!2")
    services.call_party_away(call_id=active.pk, user_id=bob.pk, channel="p!2")
    ringing = services.call_invite(caller=carol, callee_id=make_user("dave").pk, media="audio", channel="p!3")
    services.call_party_away(call_id=ringing.pk, user_id=carol.pk, channel="p!3")
    later = timezone.now() + timedelta(minutes=1)  # long after every deadline above

    assert services.calls_hold_grace(now=later) == 2
    active.refresh_from_db()
    ringing.refresh_from_db()
    assert (active.caller_gone_deadline, active.callee_gone_deadline) == (None, later + timedelta(seconds=15))
    assert (ringing.caller_gone_deadline, ringing.callee_gone_deadline) == (later + timedelta(seconds=5), None)
    # A deadline already further away is left alone.
    assert services.calls_hold_grace(now=later - timedelta(seconds=10)) == 0
    # The active call waits for its side; the ringing one still ends at its ring deadline.
    assert [(c.pk, c.status) for c in services.calls_sweep(now=later)] == [(ringing.pk, "timeout")]
