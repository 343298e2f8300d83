"""One clock for call times across processes whose own clocks disagree: the database's."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from calls import clock, services
from calls.errors import CallError
from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)

SKEW = timedelta(seconds=20)
_true_now = timezone.now


@pytest.fixture
def host_clock(monkeypatch):
    """host_clock(seconds): what follows runs as a process whose clock is that far ahead (behind,
    if negative); like a real process it measures its offset to the database's clock at start."""
    monkeypatch.setattr(clock, "_offset", clock.offset())  # restored after the test

    def run_as(seconds: float, measure: bool = True) -> None:
        monkeypatch.setattr(timezone, "now", lambda: _true_now() + timedelta(seconds=seconds))
        if measure:
            clock.measure()

    return run_as


def test_a_clock_on_the_database_host_measures_no_offset(host_clock):
    host_clock(0)
    assert clock.offset() == timedelta(0)


def test_a_process_clock_ahead_measures_its_offset_and_reads_the_database_time(host_clock):
    host_clock(20)
    assert abs(clock.offset() + SKEW) < timedelta(seconds=1)
    assert abs(clock.now() - _true_now()) < timedelta(seconds=1)


def invite_and_answer(alice, bob, host_clock, answerer_ahead: float) -> Call:
    host_clock(0)  # process A holds Alice's side
    call = services.call_invite(caller=alice, callee_id=bob.pk, media="audio", channel="proc-a!1")
    host_clock(answerer_ahead)  # process B, whose clock is off, holds Bob's
    return services.call_accept(call_id=call.pk, user=bob, channel="proc-b!1")


@pytest.mark.parametrize("answerer_ahead", [20, -20])
def test_a_hangup_after_an_answer_by_a_skewed_process_is_billed_the_talk(alice, bob, host_clock, answerer_ahead):
    call = invite_and_answer(alice, bob, host_clock, answerer_ahead)
    host_clock(0)
    services.call_hangup(call_id=call.pk, user=alice)
    row = Call.objects.get(pk=call.pk)
    assert (row.state, row.status, row.end_reason) == ("ended", "completed", "hangup")
    # The talk took milliseconds; a bill of 20 s (or a refused hang-up) is the skew leaking in.
    assert timedelta(0) <= row.duration < timedelta(seconds=5)


def test_a_hangup_by_a_clock_behind_before_it_is_measured_ends_at_the_answer(alice, bob, host_clock):
    call = invite_and_answer(alice, bob, host_clock, 0)
    host_clock(-20, measure=False)  # stepped back since the last sweep measured it
    services.call_hangup(call_id=call.pk, user=alice)
    row = Call.objects.get(pk=call.pk)
    assert (row.status, row.ended_at) == ("completed", row.answered_at)


def test_heartbeats_of_a_process_behind_are_not_stale_to_a_process_ahead(alice, bob, host_clock, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5  # stale after 15 s: less than the 20 s skew
    call = invite_and_answer(alice, bob, host_clock, 0)
    for ahead, channel in [(0, "proc-b!1"), (20, "proc-a!1"), (0, "proc-b!1")] * 2:
        host_clock(ahead)  # each process beats for its own side, then sweeps
        services.calls_heartbeat(channels=[channel])
        assert services.calls_sweep() == []
        row = Call.objects.get(pk=call.pk)
        assert (row.caller_gone_deadline, row.callee_gone_deadline) == (None, None)


def test_a_constraint_the_database_refuses_is_a_coded_error_and_changes_nothing(alice, bob, monkeypatch, caplog):
    call = services.call_accept(
        call_id=services.call_invite(caller=alice, callee_id=bob.pk, media="audio", channel="a").pk,
        user=bob, channel="b",
    )
    bill_fields = services._bill_fields

    def before_the_answer(*args, **kwargs):
        return {**bill_fields(*args, **kwargs), "ended_at": call.answered_at - timedelta(hours=1)}

    monkeypatch.setattr(services, "_bill_fields", before_the_answer)
    with pytest.raises(CallError) as info:
        services.call_hangup(call_id=call.pk, user=alice)
    assert info.value.code == "server_error"
    assert "call_ends_after_answer" in caplog.text
    row = Call.objects.get(pk=call.pk)
    assert (row.state, row.ended_at, row.lines.count(), row.history_entries.count()) == ("active", None, 2, 0)


async def test_every_sweep_measures_the_offset_again(open_tab, carol, host_clock, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 0.2
    await open_tab(carol)  # starts this process's timekeeper
    await database_sync_to_async(host_clock)(0)
    host_clock(20, measure=False)  # the host's clock is stepped while the process runs
    for _ in range(50):
        if clock.offset() is not None and abs(clock.offset() + SKEW) < timedelta(seconds=1):
            break
        await asyncio.sleep(0.1)  # polling for the timekeeper's next sweep, bounded
    assert abs(clock.offset() + SKEW) < timedelta(seconds=1)


async def test_hanging_up_on_the_socket_after_an_answer_by_a_process_ahead(open_tab, alice, bob, host_clock):
    a, b = await open_tab(alice), await open_tab(bob)
    ack = await a.request("call.invite", to=bob.pk, media="audio")
    await a.expect("call.ringing")
    await b.expect("call.incoming")
    await database_sync_to_async(host_clock)(20)  # Bob's tab answers through a process ahead
    await b.request("call.accept", call_id=ack["call_id"])
    for tab in (a, b):
        await tab.expect("call.accepted")
    await database_sync_to_async(host_clock)(0)
    await a.request("call.hangup", call_id=ack["call_id"])
    for tab in (a, b):
        ended = await tab.expect("call.ended")
        assert (ended["call"]["status"], ended["call"]["end_reason"]) == ("completed", "hangup")
        assert 0 <= ended["call"]["duration"] < 5
    await a.send(type="ping")
    await a.expect("pong")  # the socket is still open and usable
