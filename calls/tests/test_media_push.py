"""call.media goes only to the two connections holding the call, coalesced to the latest state."""

import pytest

from .test_socket_flows import connect_call

pytestmark = pytest.mark.django_db(transaction=True)


async def test_media_state_reaches_only_the_holders(open_tab, alice, bob):
    a = await open_tab(alice)
    others = [await open_tab(bob) for _ in range(3)]
    b = await open_tab(bob)
    call = await connect_call(a, b, bob)
    for tab in others:  # the ringing, then answered elsewhere
        await tab.expect("call.incoming"), await tab.expect("call.answered_elsewhere")
    await a.request("call.media", call_id=call["id"], mic=False)
    for tab in (a, b):
        assert (await tab.expect("call.media"))["call"]["media_state"]["caller"]["mic"] is False
    for tab in others:
        await tab.silent(0.3)


async def test_media_state_changes_are_coalesced_and_the_last_one_arrives(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    call = await connect_call(a, b, bob)
    for n in range(40):
        await a.send(type="call.media", call_id=call["id"], mic=n % 2 == 0, camera=n % 3 == 0)
    states = []
    while not states or states[-1] != {"mic": False, "camera": True}:  # n = 39
        states.append((await b.expect("call.media"))["call"]["media_state"]["caller"])
    await b.silent(0.5)  # nothing after the last state
    assert len(states) < 40, "every change was pushed"


async def test_a_tab_that_does_not_hold_the_call_cannot_set_its_media_state(open_tab, alice, bob):
    a, b = await open_tab(alice), await open_tab(bob)
    other = await open_tab(bob)
    call = await connect_call(a, b, bob)
    await other.expect("call.incoming"), await other.expect("call.answered_elsewhere")
    error = await other.error("call.media", call_id=call["id"], mic=False)
    assert error["code"] == "not_in_call"
    await a.silent(0.3)
    await b.silent(0.1)
