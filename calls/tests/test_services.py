"""Services: every flow, the refusals, deadlines, and real races between threads."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calls import services
from calls.errors import CallError
from calls.models import Call, Line

pytestmark = pytest.mark.django_db(transaction=True)


def invite(caller, callee, media="video", channel="chan-caller", **kw) -> Call:
    return services.call_invite(caller=caller, callee_id=callee.pk, media=media, channel=channel, **kw)


def lines() -> dict[int, str]:
    return {line.user_id: str(line.call_id) for line in Line.objects.all()}


def fresh(call: Call) -> Call:
    return Call.objects.get(pk=call.pk)


def test_invite_rings_and_holds_both_lines(alice, bob):
    call = invite(alice, bob, media="audio")
    row = fresh(call)
    assert (row.state, row.media, row.initial_media, row.caller_channel) == ("ringing", "audio", "audio", "chan-caller")
    assert row.ring_deadline == row.created_at + timedelta(seconds=30)
    assert lines() == {alice.pk: str(call.pk), bob.pk: str(call.pk)}


def test_invite_with_own_timeout(alice, bob):
    call = invite(alice, bob, timeout=7)
    assert fresh(call).ring_deadline - fresh(call).created_at == timedelta(seconds=7)


@pytest.mark.parametrize("who", ["self", "unknown", "inactive"])
def test_invite_refusals_leave_no_bill(alice, make_user, who):
    target = {"self": alice.pk, "unknown": 999_999,
              "inactive": make_user("dave", is_active=False).pk}[who]
    with pytest.raises(CallError) as info:
        services.call_invite(caller=alice, callee_id=target, media="video", channel="c")
    assert info.value.code == {"self": "self_call", "unknown": "unknown_user", "inactive": "unknown_user"}[who]
    assert Call.objects.count() == 0 and lines() == {}


def test_inviting_while_in_a_call_is_refused_without_a_bill(alice, bob, carol):
    first = invite(alice, bob)
    with pytest.raises(CallError) as info:
        invite(alice, carol)
    assert info.value.code == "already_in_call"
    assert list(Call.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.parametrize("callee_state", ["ringing", "active", "calling out"])
def test_callee_in_a_call_gets_a_busy_bill(alice, bob, carol, callee_state):
    if callee_state == "calling out":
        invite(bob, carol)
    else:
        live = invite(carol, bob)
        if callee_state == "active":
            services.call_accept(call_id=live.pk, user=bob, channel="chan-bob")
    call = invite(alice, bob)
    row = fresh(call)
    assert (row.state, row.status, row.end_reason, row.duration) == ("ended", "busy", "busy", timedelta(0))
    assert row.ended_at is not None and row.ended_by is None
    assert alice.pk not in lines()  # the caller is free again


def test_accept_then_hangup_is_one_completed_bill(alice, bob):
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    row = fresh(call)
    assert (row.state, row.callee_channel) == ("active", "chan-bob") and row.answered_at
    services.call_hangup(call_id=call.pk, user=bob)
    row = fresh(call)
    assert (row.state, row.status, row.end_reason, row.ended_by_id) == ("ended", "completed", "hangup", bob.pk)
    assert row.duration == row.ended_at - row.answered_at
    assert lines() == {}
    with pytest.raises(CallError) as info:
        services.call_hangup(call_id=call.pk, user=alice)
    assert info.value.code == "invalid_state"
    assert fresh(call).ended_by_id == bob.pk  # the bill did not change


@pytest.mark.parametrize(
    "action,who,status",
    [("reject", "bob", "rejected"), ("cancel", "alice", "canceled")],
)
def test_ringing_endings(alice, bob, action, who, status):
    call = invite(alice, bob)
    user = {"alice": alice, "bob": bob}[who]
    getattr(services, f"call_{action}")(call_id=call.pk, user=user)
    row = fresh(call)
    assert (row.status, row.ended_by_id, row.answered_at, row.duration) == (status, user.pk, None, timedelta(0))
    assert lines() == {}


def test_failed_media_is_billed_failed(alice, bob):
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    services.call_hangup(call_id=call.pk, user=alice, failed=True)
    assert (fresh(call).status, fresh(call).end_reason) == ("failed", "failed")


@pytest.mark.parametrize(
    "action,who",
    [("accept", "alice"), ("reject", "alice"), ("cancel", "bob"), ("accept", "carol"),
     ("hangup", "carol"), ("cancel", "carol"), ("hangup", "alice")],
)
def test_wrong_role_or_stranger_is_refused_and_nothing_changes(alice, bob, carol, action, who):
    call = invite(alice, bob)
    user = {"alice": alice, "bob": bob, "carol": carol}[who]
    kwargs = {"channel": "x"} if action == "accept" else {}
    with pytest.raises(CallError) as info:
        getattr(services, f"call_{action}")(call_id=call.pk, user=user, **kwargs)
    assert info.value.code == ("not_found" if who == "carol" else "invalid_state")
    assert fresh(call).state == "ringing"


def test_unknown_call_id_is_not_found(alice):
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(CallError) as info:
            services.call_cancel(call_id=bad, user=alice)
        assert info.value.code == "not_found"


def test_media_state_and_switching(alice, bob):
    call = invite(alice, bob, media="video")
    with pytest.raises(CallError):
        services.call_set_media_state(call_id=call.pk, user=alice, mic=False)  # not answered yet
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    services.call_set_media_state(call_id=call.pk, user=alice, mic=False)
    services.call_set_media_state(call_id=call.pk, user=bob, camera=False)
    row = fresh(call)
    assert (row.caller_mic, row.caller_camera, row.callee_mic, row.callee_camera) == (False, True, True, False)

    services.call_switch_media(call_id=call.pk, user=bob, media="audio")  # at once
    assert fresh(call).media == "audio" and fresh(call).initial_media == "video"

    services.call_switch_media(call_id=call.pk, user=alice, media="video")  # asked
    row = fresh(call)
    assert (row.media, row.switch_to, row.switch_asked_by_id) == ("audio", "video", alice.pk)
    with pytest.raises(CallError) as info:
        services.call_answer_switch(call_id=call.pk, user=alice, accept=True)  # not her own
    assert info.value.code == "invalid_state"
    with pytest.raises(CallError) as info:
        services.call_switch_media(call_id=call.pk, user=alice, media="video")
    assert info.value.code == "switch_pending"
    services.call_answer_switch(call_id=call.pk, user=bob, accept=False)
    assert (fresh(call).media, fresh(call).switch_to) == ("audio", "")

    services.call_switch_media(call_id=call.pk, user=alice, media="video")
    services.call_answer_switch(call_id=call.pk, user=bob, accept=True)
    assert (fresh(call).media, fresh(call).switch_to) == ("video", "")


def test_both_asking_for_video_is_agreement(alice, bob):
    call = invite(alice, bob, media="audio")
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    services.call_switch_media(call_id=call.pk, user=alice, media="video")
    services.call_switch_media(call_id=call.pk, user=bob, media="video")
    assert (fresh(call).media, fresh(call).switch_to) == ("video", "")


def test_ring_timeout_is_billed_by_the_sweep(alice, bob):
    call = invite(alice, bob, timeout=5)
    assert services.calls_sweep(now=timezone.now()) == []
    ended = services.calls_sweep(now=fresh(call).ring_deadline)
    assert [c.pk for c in ended] == [call.pk]
    row = fresh(call)
    assert (row.status, row.end_reason, row.ended_by, row.ended_at) == ("timeout", "timeout", None, row.ring_deadline)
    assert services.calls_sweep(now=row.ring_deadline + timedelta(hours=1)) == []


def test_caller_gone_while_ringing_cancels_after_short_grace(alice, bob, settings):
    settings.CALLKIT_RING_GRACE = 2
    call = invite(alice, bob)
    assert services.call_party_away(call_id=call.pk, user_id=alice.pk, channel="other-tab") is None
    away = services.call_party_away(call_id=call.pk, user_id=alice.pk, channel="chan-caller")
    assert away.caller_gone_deadline - timezone.now() <= timedelta(seconds=2)
    services.calls_sweep(now=away.caller_gone_deadline)
    row = fresh(call)
    assert (row.status, row.end_reason, row.ended_by_id) == ("canceled", "connection_lost", alice.pk)


def test_active_party_gone_ends_after_grace_unless_resumed(alice, bob, settings):
    settings.CALLKIT_GRACE = 15
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    away = services.call_party_away(call_id=call.pk, user_id=bob.pk, channel="chan-bob")
    assert away.callee_gone_deadline > timezone.now() + timedelta(seconds=14)
    services.call_resume(call_id=call.pk, user=bob, channel="chan-bob-2")
    row = fresh(call)
    assert (row.callee_channel, row.callee_gone_deadline) == ("chan-bob-2", None)
    assert services.calls_sweep(now=away.callee_gone_deadline) == []
    # The old connection closing later must not start a grace period for the new one.
    assert services.call_party_away(call_id=call.pk, user_id=bob.pk, channel="chan-bob") is None
    away = services.call_party_away(call_id=call.pk, user_id=bob.pk, channel="chan-bob-2")
    services.calls_sweep(now=away.callee_gone_deadline)
    row = fresh(call)
    assert (row.status, row.end_reason, row.ended_by_id) == ("completed", "connection_lost", bob.pk)


def test_callee_cannot_resume_a_ringing_call(alice, bob):
    call = invite(alice, bob)
    with pytest.raises(CallError) as info:
        services.call_resume(call_id=call.pk, user=bob, channel="x")
    assert info.value.code == "invalid_state"


def test_database_refuses_a_bill_without_an_outcome(alice, bob):
    from django.db import IntegrityError, transaction

    call = invite(alice, bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(state="ended")


# --- races: real threads, real transactions ----------------------------------------------


def race(*actions):
    """Run the actions at the same moment in threads with their own connections."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(i, action):
        try:
            barrier.wait()
            results[i] = ("ok", action())
        except CallError as exc:
            results[i] = ("error", exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return [r[0] for r in results], results


@pytest.mark.parametrize("attempt", range(5))
def test_race_accept_vs_cancel_leaves_one_outcome(alice, bob, attempt):
    call = invite(alice, bob)
    outcomes, _ = race(
        lambda: services.call_accept(call_id=call.pk, user=bob, channel="chan-bob"),
        lambda: services.call_cancel(call_id=call.pk, user=alice),
    )
    assert sorted(outcomes) == ["error", "ok"]
    row = fresh(call)
    if outcomes[0] == "ok":
        assert row.state == "active"
    else:
        assert row.status == "canceled" and row.answered_at is None


@pytest.mark.parametrize("attempt", range(5))
def test_race_two_tabs_accepting_one_wins(alice, bob, attempt):
    call = invite(alice, bob)
    outcomes, _ = race(
        lambda: services.call_accept(call_id=call.pk, user=bob, channel="tab-1"),
        lambda: services.call_accept(call_id=call.pk, user=bob, channel="tab-2"),
    )
    assert sorted(outcomes) == ["error", "ok"]
    assert fresh(call).callee_channel == ("tab-1" if outcomes[0] == "ok" else "tab-2")


@pytest.mark.parametrize("attempt", range(5))
def test_race_both_hanging_up_leaves_one_bill(alice, bob, attempt):
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    outcomes, _ = race(
        lambda: services.call_hangup(call_id=call.pk, user=alice),
        lambda: services.call_hangup(call_id=call.pk, user=bob),
    )
    assert sorted(outcomes) == ["error", "ok"]
    row = fresh(call)
    assert row.ended_by_id == (alice.pk if outcomes[0] == "ok" else bob.pk)


@pytest.mark.parametrize("attempt", range(3))
def test_race_two_callers_one_callee_one_rings_one_busy(alice, bob, carol, attempt):
    outcomes, results = race(
        lambda: invite(alice, carol, channel="a"),
        lambda: invite(bob, carol, channel="b"),
    )
    assert outcomes == ["ok", "ok"]
    states = sorted((r[1].pk and fresh(r[1]).status or "ringing") for r in results)
    assert states == ["busy", "ringing"]
    assert len(Line.objects.filter(user=carol)) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_race_timeout_vs_accept(alice, bob, attempt):
    call = invite(alice, bob, timeout=5)
    deadline = fresh(call).ring_deadline
    outcomes, _ = race(
        lambda: services.call_accept(call_id=call.pk, user=bob, channel="chan-bob"),
        lambda: services.calls_sweep(now=deadline),
    )
    row = fresh(call)
    assert row.state in {"active", "ended"}
    if row.state == "active":
        assert outcomes[0] == "ok"
    else:
        assert row.status == "timeout" and outcomes[0] == "error"


def test_accept_is_refused_while_the_caller_is_away(alice, bob):
    call = invite(alice, bob)
    services.call_party_away(call_id=call.pk, user_id=alice.pk, channel="chan-caller")
    with pytest.raises(CallError) as info:
        services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    assert info.value.code == "invalid_state" and fresh(call).state == "ringing"


def test_glare_calling_someone_who_is_ringing_you_answers_their_call(alice, bob):
    theirs = invite(alice, bob, channel="alice-tab")
    merged = services.call_invite(caller=bob, callee_id=alice.pk, media="audio", channel="bob-tab")
    assert merged.pk == theirs.pk
    row = fresh(theirs)
    assert (row.state, row.caller_id, row.callee_channel, row.media) == ("active", alice.pk, "bob-tab", "video")
    assert Call.objects.count() == 1


@pytest.mark.parametrize("attempt", range(5))
def test_race_glare_ends_as_one_connected_call(alice, bob, attempt):
    outcomes, results = race(
        lambda: invite(alice, bob, channel="a"),
        lambda: invite(bob, alice, channel="b"),
    )
    assert outcomes == ["ok", "ok"]
    assert results[0][1].pk == results[1][1].pk  # both got the same call
    assert Call.objects.count() == 1
    row = Call.objects.get()
    assert row.state == "active" and {row.caller_channel, row.callee_channel} == {"a", "b"}
    assert sorted(lines()) == sorted([alice.pk, bob.pk])


def test_a_side_whose_process_died_is_ended_after_grace(alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5
    settings.CALLKIT_GRACE = 15
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="proc-b!1")
    start = timezone.now()
    # Alice's process keeps beating; Bob's died right after the answer.
    services.calls_heartbeat(channels=["chan-caller"], now=start + timedelta(seconds=20))
    assert services.calls_sweep(now=start + timedelta(seconds=20)) == []
    row = fresh(call)
    assert row.callee_gone_deadline is not None and row.caller_gone_deadline is None  # bob's grace runs
    assert services.calls_sweep(now=row.callee_gone_deadline) != []
    row = fresh(call)
    assert (row.status, row.end_reason, row.ended_by_id) == ("completed", "connection_lost", bob.pk)


def test_heartbeat_keeps_a_quiet_call_alive(alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")
    start = timezone.now()
    for minute in range(1, 4):
        moment = start + timedelta(minutes=minute)
        services.calls_heartbeat(channels=["chan-caller", "chan-bob"], now=moment)
        assert services.calls_sweep(now=moment) == []
    row = fresh(call)
    assert row.state == "active" and row.caller_gone_deadline is None and row.callee_gone_deadline is None


def test_invites_are_rate_limited_per_user(alice, bob, carol, settings):
    settings.CALLKIT_INVITES_PER_MINUTE = 3
    for _ in range(3):
        call = invite(alice, bob)
        services.call_cancel(call_id=call.pk, user=alice)
    with pytest.raises(CallError) as info:
        invite(alice, carol)
    assert info.value.code == "rate_limited"
    assert Call.objects.filter(caller=alice).count() == 3  # the refused one left no bill
    invite(carol, alice)  # others are not affected


def test_a_declined_caller_must_wait_before_ringing_again(alice, bob, carol, settings):
    settings.CALLKIT_DECLINE_COOLDOWN = 30
    call = invite(alice, bob)
    services.call_reject(call_id=call.pk, user=bob)
    with pytest.raises(CallError) as info:
        invite(alice, bob)
    assert info.value.code == "cooling_down" and "30 s" in str(info.value.message)
    assert Call.objects.filter(caller=alice).count() == 1  # the refused one left no bill
    services.call_cancel(call_id=invite(alice, carol).pk, user=alice)  # others may still be called
    services.call_cancel(call_id=invite(bob, alice).pk, user=bob)  # and bob may call alice
    Call.objects.filter(pk=call.pk).update(ended_at=timezone.now() - timedelta(seconds=31))
    invite(alice, bob)  # the cool-down is over


def test_a_cancel_or_a_timeout_starts_no_cool_down(alice, bob, settings):
    settings.CALLKIT_DECLINE_COOLDOWN = 30
    services.call_cancel(call_id=invite(alice, bob).pk, user=alice)
    call = invite(alice, bob)
    services.calls_sweep(now=call.ring_deadline)
    invite(alice, bob)


def test_a_callee_gets_at_most_so_many_invites_a_minute_from_everyone(alice, bob, carol, make_user, settings):
    settings.CALLKIT_INCOMING_PER_MINUTE = 3
    callers = [make_user(f"pest{n}") for n in range(3)]
    for caller in callers:
        services.call_cancel(call_id=invite(caller, alice).pk, user=caller)
    with pytest.raises(CallError) as info:
        invite(bob, alice)
    assert info.value.code == "too_many_calls"
    invite(bob, carol)  # others are not affected


def test_one_pest_ringing_again_and_again_does_not_make_someone_unreachable(alice, bob, carol, settings):
    settings.CALLKIT_INCOMING_PER_MINUTE = 3
    for _ in range(5):
        services.call_cancel(call_id=invite(carol, alice).pk, user=carol)
    invite(bob, alice)  # counted per distinct caller: carol alone is one


def test_a_failing_channel_layer_does_not_lose_the_bill(alice, bob, monkeypatch, caplog):
    call = invite(alice, bob)
    services.call_accept(call_id=call.pk, user=bob, channel="chan-bob")

    class Down:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr("calls.events.get_channel_layer", lambda: Down())
    services.call_hangup(call_id=call.pk, user=alice)  # no exception reaches the caller
    row = fresh(call)
    assert (row.status, row.ended_by_id) == ("completed", alice.pk)
    assert "redis is down" in caplog.text  # the failed push is logged, not hidden


# --- a side that vanished is billed until it was last seen -------------------------------


def answered(caller, callee, caller_channel="proc-a!1", callee_channel="proc-b!1") -> Call:
    call = invite(caller, callee, channel=caller_channel)
    return services.call_accept(call_id=call.pk, user=callee, channel=callee_channel)


def test_a_side_whose_process_died_is_billed_until_its_last_heartbeat(alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5
    settings.CALLKIT_GRACE = 15
    start = answered(alice, bob).answered_at
    services.calls_heartbeat(channels=["proc-a!1", "proc-b!1"], now=start + timedelta(seconds=5))
    # Bob's process died there; Alice's goes on beating, and its sweep notices much later.
    for second in (20, 40):
        services.calls_heartbeat(channels=["proc-a!1"], now=start + timedelta(seconds=second))
        services.calls_sweep(now=start + timedelta(seconds=second))
    row = Call.objects.get()
    assert row.callee_gone_deadline is not None and row.state == "active"
    services.calls_sweep(now=row.callee_gone_deadline)
    row = Call.objects.get()
    assert (row.status, row.end_reason, row.ended_by_id) == ("completed", "connection_lost", bob.pk)
    assert row.duration == timedelta(seconds=5)


def test_a_closed_socket_is_billed_until_it_closed(alice, bob, settings):
    settings.CALLKIT_GRACE = 15
    start = answered(alice, bob).answered_at
    away = services.call_party_away(call_id=Call.objects.get().pk, user_id=alice.pk, channel="proc-a!1",
                                    now=start + timedelta(seconds=3))
    services.calls_heartbeat(channels=["proc-b!1"], now=start + timedelta(seconds=10))
    services.calls_sweep(now=away.caller_gone_deadline)
    row = Call.objects.get()
    assert (row.status, row.ended_by_id, row.duration) == ("completed", alice.pk, timedelta(seconds=3))


def test_hanging_up_on_a_side_that_is_away_bills_until_it_vanished(alice, bob, settings):
    settings.CALLKIT_GRACE = 60
    call = answered(alice, bob)
    start = timezone.now() - timedelta(seconds=20)
    Call.objects.filter(pk=call.pk).update(answered_at=start)
    services.call_party_away(call_id=call.pk, user_id=alice.pk, channel="proc-a!1",
                             now=start + timedelta(seconds=3))
    services.call_hangup(call_id=call.pk, user=bob)  # bob gives up waiting, 17 s later
    row = Call.objects.get()
    assert (row.status, row.end_reason, row.duration) == ("completed", "hangup", timedelta(seconds=3))


def test_both_sides_gone_are_billed_until_the_earlier_was_last_seen(alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5
    settings.CALLKIT_GRACE = 15
    start = answered(alice, bob).answered_at
    services.calls_heartbeat(channels=["proc-a!1", "proc-b!1"], now=start + timedelta(seconds=5))
    services.calls_heartbeat(channels=["proc-a!1"], now=start + timedelta(seconds=8))
    # The only process was down for a minute; at its restart its sweep finds both sides stale.
    services.calls_sweep(now=start + timedelta(seconds=70))
    services.calls_sweep(now=start + timedelta(seconds=70 + 15))
    row = Call.objects.get()
    assert (row.status, row.end_reason, row.duration) == ("completed", "connection_lost", timedelta(seconds=5))


def test_a_side_last_seen_before_the_answer_is_billed_nothing(alice, bob, settings):
    settings.CALLKIT_SWEEP_INTERVAL = 5
    settings.CALLKIT_GRACE = 15
    call = answered(alice, bob)  # Alice's process died between her invite and Bob's answer
    Call.objects.filter(pk=call.pk).update(caller_seen_at=call.created_at)
    later = call.answered_at + timedelta(seconds=30)
    services.calls_heartbeat(channels=["proc-b!1"], now=later)
    services.calls_sweep(now=later)
    services.calls_sweep(now=later + timedelta(seconds=15))
    row = fresh(call)
    assert (row.status, row.ended_by_id, row.ended_at) == ("completed", alice.pk, row.answered_at)


def test_a_caller_gone_while_ringing_stays_an_unanswered_cancel(alice, bob, settings):
    settings.CALLKIT_RING_GRACE = 2
    call = invite(alice, bob)
    left = call.created_at + timedelta(seconds=1)
    away = services.call_party_away(call_id=call.pk, user_id=alice.pk, channel="chan-caller", now=left)
    services.calls_sweep(now=away.caller_gone_deadline + timedelta(seconds=30))
    row = fresh(call)
    assert (row.status, row.end_reason, row.answered_at, row.duration) == (
        "canceled", "connection_lost", None, timedelta(0))
    assert row.ended_at == left


def test_an_invite_is_one_read_and_one_insert_per_table(alice, bob):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        invite(alice, bob)
    verbs = sorted(q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries)
    # The callee, the invite limits and glare in one SELECT; the call and both lines in one INSERT each.
    assert [v for v in verbs if v not in ("BEGIN", "COMMIT")] == ["INSERT", "INSERT", "SELECT"]


async def test_a_socket_s_service_pushes_from_the_event_loop_not_the_database_thread(alice, bob, monkeypatch):
    from channels.layers import get_channel_layer

    from calls.events import call_service
    from calls.groups import user_group

    def blocked(*args, **kwargs):
        raise AssertionError("the database thread waited on the event loop")

    monkeypatch.setattr("calls.events.async_to_sync", blocked)
    layer = get_channel_layer()
    bobs_tab = await layer.new_channel()
    await layer.group_add(user_group(bob.pk), bobs_tab)
    call = await call_service(services.call_invite)(caller=alice, callee_id=bob.pk, media="video", channel="a")
    event = await layer.receive(bobs_tab)
    assert (event["event"], event["call"]["id"]) == ("call.ringing", str(call.pk))
