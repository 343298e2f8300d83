"""Connect while it rings: ringing devices exchange offer/answer/ICE with the caller, and no one else."""

import pytest

from .test_socket_flows import ring

pytestmark = pytest.mark.django_db(transaction=True)

CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


async def test_each_ringing_device_prepares_its_own_link_and_the_answerer_keeps_it(open_tab, alice, bob):
    a, a2 = await open_tab(alice), await open_tab(alice)
    b1, b2 = await open_tab(bob), await open_tab(bob)
    assert b1.hello["config"]["preconnect"] is True
    call = await ring(a, [b1, b2], bob)
    await a2.expect("call.ringing")

    await b1.send(type="rtc.offer", call_id=call["id"], sdp="offer from b1")
    await b2.send(type="rtc.offer", call_id=call["id"], sdp="offer from b2")
    first, second = await a.expect("rtc.offer"), await a.expect("rtc.offer")
    links = {first["sdp"]: first["link"], second["sdp"]: second["link"]}
    assert links["offer from b1"] != links["offer from b2"]
    await a2.silent()  # only the connection placing the call hears the ringing devices

    # The caller answers each device by its link; the other device hears nothing of it.
    await a.send(type="rtc.answer", call_id=call["id"], sdp="answer to b1", link=links["offer from b1"])
    answer = await b1.expect("rtc.answer")
    assert answer["sdp"] == "answer to b1"
    await b2.silent()
    await a.send(type="rtc.candidate", call_id=call["id"], candidate=CANDIDATE, link=links["offer from b2"])
    assert (await b2.expect("rtc.candidate"))["candidate"] == CANDIDATE
    await b1.silent()
    await b1.send(type="rtc.candidate", call_id=call["id"], candidate=None)
    assert (await a.expect("rtc.candidate"))["link"] == links["offer from b1"]

    # b1 answers: the caller is told which device it was; b2's link is closed on both sides.
    await b1.request("call.accept", call_id=call["id"])
    await b1.expect("call.accepted")
    assert (await a.expect("call.accepted"))["link"] == links["offer from b1"]
    await b2.expect("call.answered_elsewhere")
    assert (await b2.error("rtc.candidate", call_id=call["id"], candidate=None))["code"] == "not_in_call"
    refused = await a.error("rtc.candidate", call_id=call["id"], candidate=None, link=links["offer from b2"])
    assert refused["code"] == "not_in_call"
    await b2.silent()
    # From now on the two holders talk as in any call, with or without the link.
    await a.send(type="rtc.candidate", call_id=call["id"], candidate=None, link=links["offer from b1"])
    await b1.expect("rtc.candidate")
    await a.send(type="rtc.offer", call_id=call["id"], sdp="renegotiate")
    assert (await b1.expect("rtc.offer"))["sdp"] == "renegotiate"


async def test_a_tab_opened_while_it_rings_prepares_too(open_tab, alice, bob):
    a, b1 = await open_tab(alice), await open_tab(bob)
    call = await ring(a, [b1], bob)
    late = await open_tab(bob)
    assert late.hello["call"]["id"] == call["id"]
    await late.send(type="rtc.offer", call_id=call["id"], sdp="late offer")
    assert (await a.expect("rtc.offer"))["sdp"] == "late offer"


async def test_strangers_unknown_links_and_ended_calls_are_refused(open_tab, alice, bob, carol):
    a, b, c = await open_tab(alice), await open_tab(bob), await open_tab(carol)
    call = await ring(a, [b], bob)
    assert (await c.error("rtc.offer", call_id=call["id"], sdp="x"))["code"] == "not_in_call"
    refused = await a.error("rtc.answer", call_id=call["id"], sdp="x", link="0" * 18)
    assert refused["code"] == "not_in_call"
    assert (await a.error("rtc.answer", call_id=call["id"], sdp="x", link="not-a-link"))["code"] == "bad_message"
    assert (await a.error("rtc.answer", call_id=call["id"], sdp="x"))["code"] == "invalid_state"
    await b.silent()

    await b.request("call.reject", call_id=call["id"])
    await b.expect("call.ended")
    await a.expect("call.ended")
    assert (await b.error("rtc.offer", call_id=call["id"], sdp="too late"))["code"] == "not_in_call"
    await a.silent()


async def test_switched_off_nothing_reaches_the_caller_before_an_answer(open_tab, alice, bob, settings):
    settings.CALLKIT_PRECONNECT = False
    a, b = await open_tab(alice), await open_tab(bob)
    assert b.hello["config"]["preconnect"] is False
    call = await ring(a, [b], bob)
    assert (await b.error("rtc.offer", call_id=call["id"], sdp="early"))["code"] == "not_in_call"
    assert (await b.error("rtc.candidate", call_id=call["id"], candidate=CANDIDATE))["code"] == "not_in_call"
    await a.silent()
    await b.request("call.accept", call_id=call["id"])
    accepted = await a.expect("call.accepted")
    await b.send(type="rtc.offer", call_id=call["id"], sdp="after the answer")
    assert (await a.expect("rtc.offer"))["link"] == accepted["link"]
