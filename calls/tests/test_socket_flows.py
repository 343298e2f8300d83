"""Every call flow through /ws/calls/, one socket per party and per tab, on the real ASGI app."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async

from calls import services
from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def row(call_id) -> Call:
    return Call.objects.get(pk=call_id)


@database_sync_to_async
def bill_count() -> int:
    return Call.objects.filter(state="ended").count()


async def ring(caller_tab, callee_tabs, callee, media="video"):
    """Invite and check everyone hears it; return the call snapshot."""
    ack = await caller_tab.request("call.invite", to=callee.pk, media=media)
    ringing = await caller_tab.expect("call.ringing")
    assert ringing["call"]["id"] == ack["call_id"]
    assert (ringing["role"], ringing["this_device"]) == ("caller", True)
    for tab in callee_tabs:
        incoming = await tab.expect("call.incoming")
        assert incoming["call"]["id"] == ack["call_id"]
        assert incoming["call"]["caller"]["name"] == caller_tab.user.name
        assert incoming["call"]["media"] == media
        assert (incoming["role"], incoming["this_device"]) == ("callee", False)
    return ringing["call"]


async def connect_call(alice_tab, bob_tab, bob, media="video"):
    call = await ring(alice_tab, [bob_tab], bob, media)
    await bob_tab.request("call.accept", call_id=call["id"])
    accepted = await bob_tab.expect("call.accepted")
    assert accepted["this_device"] is True
    accepted = await alice_tab.expect("call.accepted")
    assert accepted["call"]["state"] == "active"
    return call


async def test_hello_says_who_and_no_call(open_tab, alice):
    tab = await open_tab(alice)
    assert tab.hello["user"] == {"id": alice.pk, "username": "alice", "name": "Alice Liddell"}
    assert tab.hello["call"] is None
    assert tab.hello["config"]["ring_timeout"] == 30


async def test_video_call_connect_relay_and_hangup(open_tab, alice, bob, carol):
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    call = await connect_call(a, b, bob)

    await a.send(type="rtc.offer", call_id=call["id"], sdp="v=0 offer")
    relayed = await b.recv()
    link_of_a = relayed.pop("link")  # every relayed message names the connection it came from
    assert relayed == {"type": "rtc.offer", "call_id": call["id"], "sdp": "v=0 offer"}
    await b.send(type="rtc.answer", call_id=call["id"], sdp="v=0 answer")
    relayed = await a.recv()
    link_of_b = relayed.pop("link")
    assert relayed == {"type": "rtc.answer", "call_id": call["id"], "sdp": "v=0 answer"}
    assert link_of_a != link_of_b and all(len(link) == 18 for link in (link_of_a, link_of_b))
    candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
                 "sdpMLineIndex": 0}
    await a.send(type="rtc.candidate", call_id=call["id"], candidate=candidate)
    assert await b.recv() == {"type": "rtc.candidate", "call_id": call["id"], "candidate": candidate, "link": link_of_a}
    await b.send(type="rtc.candidate", call_id=call["id"], candidate=None)
    assert await a.recv() == {"type": "rtc.candidate", "call_id": call["id"], "candidate": None, "link": link_of_b}

    await b.request("call.hangup", call_id=call["id"])
    for tab in (a, b):
        ended = await tab.expect("call.ended")
        assert ended["call"]["status"] == "completed"
        assert ended["call"]["end_reason"] == "hangup"
        assert ended["call"]["ended_by"] == bob.pk
    await c.silent()  # a third user hears nothing of it
    assert await bill_count() == 1


async def test_audio_call_hung_up_by_caller(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob, media="audio")
    await a.request("call.hangup", call_id=call["id"])
    assert (await b.expect("call.ended"))["call"]["ended_by"] == alice.pk
    assert (await a.expect("call.ended"))["call"]["media"] == "audio"


async def test_ringing_reaches_every_tab_and_first_accept_wins(open_tab, alice, bob):
    a, a2 = await open_tab(alice), await open_tab(alice)
    b1, b2, b3 = await open_tab(bob), await open_tab(bob), await open_tab(bob)
    call = await ring(a, [b1, b2, b3], bob)
    other = await a2.expect("call.ringing")
    assert other["this_device"] is False  # the caller's other tab shows the call, does not hold it

    await b2.request("call.accept", call_id=call["id"])
    assert (await b2.expect("call.accepted"))["this_device"] is True
    for tab in (b1, b3):
        assert (await tab.expect("call.answered_elsewhere"))["call"]["state"] == "active"
        err = await tab.error("call.accept", call_id=call["id"])  # too late on this tab
        assert err["code"] == "invalid_state"
    await a.expect("call.accepted")
    await a2.expect("call.accepted")

    # Media goes only between the two connections that hold the call.
    await a.send(type="rtc.offer", call_id=call["id"], sdp="o")
    assert (await b2.recv())["sdp"] == "o"
    for tab in (b1, b3, a2):
        await tab.silent()
    err = await b1.error("rtc.answer", call_id=call["id"], sdp="x")
    assert err["code"] == "not_in_call"
    await a.silent()


async def test_reject_on_one_tab_stops_all(open_tab, alice, bob):
    a, b1, b2 = await open_tab(alice), await open_tab(bob), await open_tab(bob)
    call = await ring(a, [b1, b2], bob)
    await b1.request("call.reject", call_id=call["id"])
    for tab in (a, b1, b2):
        ended = await tab.expect("call.ended")
        assert (ended["call"]["status"], ended["call"]["ended_by"]) == ("rejected", bob.pk)


async def test_cancel(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob, media="audio")
    await a.request("call.cancel", call_id=call["id"])
    assert (await b.expect("call.ended"))["call"]["status"] == "canceled"
    assert (await a.expect("call.ended"))["call"]["duration"] == 0


async def test_busy_is_billed_for_both_and_never_rings(open_tab, alice, bob, carol):
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    await connect_call(a, b, bob)
    ack = await c.request("call.invite", to=bob.pk, media="audio")
    ended = await c.expect("call.ended")
    assert (ended["call"]["id"], ended["call"]["status"], ended["role"]) == (ack["call_id"], "busy", "caller")
    missed = await b.expect("call.ended")  # bob's bill: a missed call, no incoming dialog first
    assert (missed["call"]["status"], missed["role"]) == ("busy", "callee")
    await a.silent()


async def test_refusals_carry_codes_and_make_no_bill(open_tab, alice, bob, carol, make_user):
    dave = await database_sync_to_async(make_user)("dave", is_active=False)
    a, b = await open_tab(alice), await open_tab(bob)
    assert (await a.error("call.invite", to=alice.pk, media="audio"))["code"] == "self_call"
    assert (await a.error("call.invite", to=424242, media="audio"))["code"] == "unknown_user"
    assert (await a.error("call.invite", to=dave.pk, media="audio"))["code"] == "unknown_user"
    await ring(a, [b], bob)
    assert (await a.error("call.invite", to=carol.pk, media="audio"))["code"] == "already_in_call"
    assert await database_sync_to_async(Call.objects.count)() == 1


async def test_media_state_is_shown_to_both_parties(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    await a.request("call.media", call_id=call["id"], mic=False)
    for tab in (b, a):
        media = await tab.expect("call.media")
        assert media["call"]["media_state"]["caller"] == {"mic": False, "camera": True}
    await b.request("call.media", call_id=call["id"], camera=False, mic=True)
    assert (await a.expect("call.media"))["call"]["media_state"]["callee"] == {"mic": True, "camera": False}
    await b.expect("call.media")


async def test_switch_video_to_audio_at_once_and_back_by_agreement(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob, media="video")
    await a.request("call.switch", call_id=call["id"], media="audio")
    for tab in (a, b):
        assert (await tab.expect("call.switched"))["call"]["media"] == "audio"

    await b.request("call.switch", call_id=call["id"], media="video")
    for tab in (a, b):
        asked = await tab.expect("call.switch_requested")
        assert asked["call"]["switch"] == {"to": "video", "asked_by": bob.pk}
    assert (await b.error("call.switch_answer", call_id=call["id"], accept=True))["code"] == "invalid_state"
    await a.request("call.switch_answer", call_id=call["id"], accept=False)
    for tab in (a, b):
        declined = await tab.expect("call.switch_declined")
        assert (declined["call"]["media"], declined["call"]["switch"]) == ("audio", None)

    await b.request("call.switch", call_id=call["id"], media="video")
    await a.expect("call.switch_requested"), await b.expect("call.switch_requested")
    await a.request("call.switch_answer", call_id=call["id"], accept=True)
    for tab in (a, b):
        assert (await tab.expect("call.switched"))["call"]["media"] == "video"
    assert (await row(call["id"])).media == "video"


async def test_relay_before_answer_is_refused(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob)
    err = await a.error("rtc.offer", call_id=call["id"], sdp="early")
    assert err["code"] == "invalid_state"
    await b.silent()


async def test_new_tab_gets_the_live_call_and_can_take_it_over(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    b2 = await open_tab(bob)
    assert b2.hello["call"]["id"] == call["id"]
    assert (b2.hello["role"], b2.hello["this_device"], b2.hello["call"]["state"]) == ("callee", False, "active")

    await b2.request("call.resume", call_id=call["id"])
    for tab in (a, b, b2):
        resumed = await tab.expect("call.resumed")
        assert resumed["this_device"] is (tab is not b)  # b2 now holds bob's side
        assert (resumed["side"], resumed["fresh"]) == ("callee", False)
    # The relay now goes to the new tab, and the old one is out of it.
    await a.send(type="rtc.offer", call_id=call["id"], sdp="renegotiate")
    assert (await b2.recv())["sdp"] == "renegotiate"
    await b.silent()
    assert (await b.error("rtc.answer", call_id=call["id"], sdp="x"))["code"] == "not_in_call"


async def test_callee_tab_opened_while_ringing_sees_the_incoming_call(open_tab, alice, bob):
    a = await open_tab(alice)
    await a.request("call.invite", to=bob.pk, media="audio")
    await a.expect("call.ringing")
    b = await open_tab(bob)
    assert (b.hello["role"], b.hello["call"]["state"], b.hello["call"]["caller"]["username"]) == (
        "callee", "ringing", "alice")


async def test_sync_and_ping(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob)
    await a.send(type="ping", ref="p1")
    assert await a.recv() == {"type": "pong", "ref": "p1"}
    await b.send(type="sync")
    state = await b.expect("sync")
    assert state["call"]["id"] == call["id"] and state["role"] == "callee"


async def test_ring_timeout_ends_the_call_even_with_the_caller_gone(open_tab, alice, bob, settings):
    settings.CALLKIT_RING_GRACE = 60  # the timeout, not the caller's grace, must end it
    settings.CALLKIT_RING_TIMEOUT = 1
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob)
    await a.close()
    assert (await b.expect("call.away"))["call"]["away"] == ["caller"]
    ended = await b.expect("call.ended", timeout=5)
    assert (ended["call"]["id"], ended["call"]["status"], ended["call"]["end_reason"]) == (
        call["id"], "timeout", "timeout")
    assert (await row(call["id"])).status == "timeout"


async def test_caller_leaving_while_ringing_cancels_after_grace(open_tab, alice, bob, settings):
    settings.CALLKIT_RING_GRACE = 0.5
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob)
    await a.close()
    away = await b.expect("call.away")
    assert away["call"]["away"] == ["caller"]
    ended = await b.expect("call.ended", timeout=5)
    assert (ended["call"]["id"], ended["call"]["status"], ended["call"]["end_reason"]) == (
        call["id"], "canceled", "connection_lost")


async def test_dropped_party_ends_after_grace(open_tab, alice, bob, settings):
    settings.CALLKIT_GRACE = 0.5
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    await b.close()
    assert (await a.expect("call.away"))["call"]["away"] == ["callee"]
    ended = await a.expect("call.ended", timeout=5)
    assert (ended["call"]["status"], ended["call"]["end_reason"], ended["call"]["ended_by"]) == (
        "completed", "connection_lost", bob.pk)
    assert (await row(call["id"])).end_reason == "connection_lost"


async def test_dropped_party_that_comes_back_keeps_the_call(open_tab, alice, bob, settings):
    settings.CALLKIT_GRACE = 1.5
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    await b.close()
    old_deadline = (await row(call["id"])).callee_gone_deadline
    await a.expect("call.away")
    b_again = await open_tab(bob)
    assert b_again.hello["call"]["away"] == ["callee"]
    await b_again.request("call.resume", call_id=call["id"], fresh=True)
    resumed = await a.expect("call.resumed")
    assert (resumed["call"]["away"], resumed["side"], resumed["fresh"]) == ([], "callee", True)
    await b_again.expect("call.resumed")
    # A sweep past the old deadline must leave the call alone.
    assert await database_sync_to_async(services.calls_sweep)(now=old_deadline + timedelta(seconds=1)) == []
    await a.silent()
    assert (await row(call["id"])).state == "active"


async def test_two_tabs_accepting_at_once_one_wins(open_tab, alice, bob):
    a, b1, b2 = await open_tab(alice), await open_tab(bob), await open_tab(bob)
    call = await ring(a, [b1, b2], bob)
    await b1.send(type="call.accept", call_id=call["id"], ref="one")
    await b2.send(type="call.accept", call_id=call["id"], ref="two")
    got = {"one": [await b1.recv(), await b1.recv()], "two": [await b2.recv(), await b2.recv()]}
    winner = "one" if any(m["type"] == "ack" for m in got["one"]) else "two"
    loser = "two" if winner == "one" else "one"
    assert sorted(m["type"] for m in got[winner]) == ["ack", "call.accepted"]
    assert sorted(m["type"] for m in got[loser]) == ["call.answered_elsewhere", "error"]
    assert next(m for m in got[loser] if m["type"] == "error")["ref"] == loser
    await a.expect("call.accepted")


async def test_cancel_racing_accept_over_the_socket_leaves_one_outcome(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b], bob)
    await a.send(type="call.cancel", call_id=call["id"], ref="c")
    await b.send(type="call.accept", call_id=call["id"], ref="a")
    a_msgs = [await a.recv(), await a.recv()]
    b_msgs = [await b.recv(), await b.recv()]
    final = await row(call["id"])
    if final.state == "ended":
        assert final.status == "canceled"
        assert {m["type"] for m in b_msgs} == {"error", "call.ended"}
    else:
        assert final.state == "active"
        assert {m["type"] for m in a_msgs} == {"error", "call.accepted"}


async def test_sync_by_id_returns_the_bill_of_a_call_that_ended_meanwhile(open_tab, alice, bob, carol):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    await a.close()
    await b.expect("call.away")
    await b.request("call.hangup", call_id=call["id"])
    a2 = await open_tab(alice)
    assert a2.hello["call"] is None
    await a2.send(type="sync", call_id=call["id"], ref="s")
    state = await a2.expect("sync")
    assert (state["call"]["status"], state["role"], state["ref"]) == ("completed", "caller", "s")
    c = await open_tab(carol)
    assert (await c.error("sync", call_id=call["id"]))["code"] == "not_found"


async def test_glare_over_the_socket_is_one_connected_call(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    await a.request("call.invite", to=bob.pk, media="video")
    ringing = await a.expect("call.ringing")
    await b.expect("call.incoming")
    ack = await b.request("call.invite", to=alice.pk, media="audio")  # bob calls alice back at once
    assert ack["call_id"] == ringing["call"]["id"]
    for tab in (a, b):
        accepted = await tab.expect("call.accepted")
        assert accepted["this_device"] is True and accepted["call"]["state"] == "active"
    await a.send(type="rtc.offer", call_id=ack["call_id"], sdp="glare-free")
    assert (await b.recv())["sdp"] == "glare-free"
    assert await database_sync_to_async(Call.objects.count)() == 1


async def test_a_tab_that_reconnects_is_told_the_call_is_still_its_own(open_tab, alice, bob):
    a = await open_tab(alice, tab_id="alice-tab-1")
    b = await open_tab(bob, tab_id="bob-tab-1")
    call = await connect_call(a, b, bob)
    # Bob's network changes: a new socket from the same tab, before the old one is noticed gone.
    b_again = await open_tab(bob, tab_id="bob-tab-1")
    assert (b_again.hello["this_device"], b_again.hello["this_tab"]) == (False, True)
    other_tab = await open_tab(bob, tab_id="bob-tab-2")
    assert (other_tab.hello["this_device"], other_tab.hello["this_tab"]) == (False, False)
    await b_again.request("call.resume", call_id=call["id"])
    resumed = await b_again.expect("call.resumed")
    assert (resumed["this_device"], resumed["this_tab"]) == (True, True)
    bad = await open_tab(bob, tab_id="no spaces allowed!")  # a malformed id is ignored
    assert bad.hello["this_tab"] is False


async def test_a_late_event_cannot_move_a_call_backwards(open_tab, alice, bob):
    from channels.layers import get_channel_layer

    from calls.events import call_event_payload
    from calls.groups import user_group

    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    stale = await database_sync_to_async(lambda: call_event_payload(Call.objects.get(pk=call["id"]), "call.ringing"))()
    stale["call"]["state"] = "ringing"  # as if a "ringing" push from another process came in late
    stale["channels"]["callee"] = ""
    await get_channel_layer().group_send(user_group(bob.pk), stale)
    await b.silent()  # dropped, not shown as a new incoming call
    await a.send(type="rtc.offer", call_id=call["id"], sdp="still held")
    assert (await b.recv())["sdp"] == "still held"  # and bob's tab still holds the call
