"""Calls whose own process died are still ended: by any process's periodic sweep, or by cron."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.utils import timezone

from calls import services
from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


def orphan_call(caller, callee, *, answered: bool) -> Call:
    """A live call left behind by a process that died: nobody holds a timer for it."""
    call = services.call_invite(caller=caller, callee_id=callee.pk, media="audio", channel="dead!1")
    if answered:
        services.call_accept(call_id=call.pk, user=callee, channel="dead!2")
        services.call_party_away(call_id=call.pk, user_id=callee.pk, channel="dead!2")
        Call.objects.filter(pk=call.pk).update(callee_gone_deadline=timezone.now() - timedelta(seconds=1))
    else:
        Call.objects.filter(pk=call.pk).update(ring_deadline=timezone.now() - timedelta(seconds=1))
    return call


async def test_periodic_sweep_of_another_process_ends_an_orphaned_call(open_tab, alice, bob, carol, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 0.2
    ringing = await database_sync_to_async(orphan_call)(alice, bob, answered=False)
    # Carol's tab is the only socket in this process; its clock finds the orphan.
    c = await open_tab(carol)
    await c.silent(timeout=0.1)
    assert await _status_soon(ringing.pk) == "timeout"


async def _status_soon(call_id, tries: int = 50) -> str:
    for _ in range(tries):
        status = await database_sync_to_async(lambda: Call.objects.get(pk=call_id).status)()
        if status:
            return status
        await asyncio.sleep(0.1)  # polling the database for a condition, bounded
    return ""


async def test_alice_reconnecting_hears_the_bill_of_her_orphaned_call(open_tab, alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 0.2
    call = await database_sync_to_async(orphan_call)(alice, bob, answered=True)
    a = await open_tab(alice)
    assert a.hello["call"]["id"] == str(call.pk)  # still live at the moment she connects
    ended = await a.expect("call.ended", timeout=3)
    assert (ended["call"]["status"], ended["call"]["end_reason"]) == ("completed", "connection_lost")


async def test_a_restarted_process_bills_its_orphaned_call_until_it_was_last_seen(open_tab, alice, bob, carol, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 0.2
    settings.CALLKIT_GRACE = 0.5

    def killed_five_seconds_into_a_call_a_minute_ago() -> Call:
        call = services.call_invite(caller=alice, callee_id=bob.pk, media="audio", channel="dead!1")
        services.call_accept(call_id=call.pk, user=bob, channel="dead!2")
        answered = timezone.now() - timedelta(seconds=60)
        Call.objects.filter(pk=call.pk).update(
            created_at=answered - timedelta(seconds=2), answered_at=answered,
            caller_seen_at=answered + timedelta(seconds=5), callee_seen_at=answered + timedelta(seconds=5),
        )
        return call

    call = await database_sync_to_async(killed_five_seconds_into_a_call_a_minute_ago)()
    await open_tab(carol)  # the restarted process's first socket starts its clock
    assert await _status_soon(call.pk) == "completed"
    row = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert (row.end_reason, row.duration) == ("connection_lost", timedelta(seconds=5))


def test_sweep_command_bills_overdue_calls(alice, bob, carol, capsys):
    first = orphan_call(alice, bob, answered=False)
    call_command("callkit_sweep")
    assert Call.objects.get(pk=first.pk).status == "timeout"
    assert "1 call(s) ended" in capsys.readouterr().out
    call_command("callkit_sweep")
    assert "0 call(s) ended" in capsys.readouterr().out
