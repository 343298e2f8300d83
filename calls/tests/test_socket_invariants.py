"""Random interleavings through the socket: three users, two tabs each, every message type.
Relayed signals reach only the connection holding the other side; every call ends with one bill."""

from collections import Counter
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from calls import services
from calls.models import Call, HistoryEntry, Line

from .conftest import close_channel_layer, delete_all_calls

pytestmark = pytest.mark.django_db(transaction=True)

ACTIONS = ["invite", "accept", "reject", "cancel", "hangup", "mute", "video", "audio", "yes", "no",
           "resume", "offer", "candidate", "reopen"]
steps = st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ACTIONS), st.integers(0, 2),
                           st.sampled_from(["audio", "video"])), min_size=5, max_size=30)


SEEN: Counter = Counter()


def test_socket_interleavings(open_tab_sync, alice, bob, carol):
    SEEN.clear()

    @given(plan=steps)
    @hsettings(max_examples=60, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def run(plan):
        async_to_sync(_run)(open_tab_sync, [alice, bob, carol], plan)

    run()
    # The runs did reach answered calls and relayed signals, not only refusals.
    assert SEEN["relayed"] > 0 and SEEN["call.accepted"] > 0 and SEEN["call.ended"] > 0, SEEN


async def _drain(tab, inbox):
    """Everything the tab has been sent so far (receive_nothing waits without killing it)."""
    while not await tab.comm.receive_nothing(timeout=0.03):
        inbox.append(await tab.comm.receive_json_from(timeout=1))


async def _run(open_tab, users, plan):
    channel_layers.backends.clear()
    tabs = [await open_tab(users[i // 2]) for i in range(6)]
    latest: dict[int, str] = {}  # tab -> the call id it last heard of
    holds: dict[int, set] = {i: set() for i in range(6)}  # tab -> calls it holds (this_device)
    sent: dict[str, tuple[int, str]] = {}  # sdp tag -> (sending tab, call id)
    counter = 0
    try:
        for who, action, target, media in plan:
            tab, user = tabs[who], users[who // 2]
            call_id = latest.get(who)
            if action == "reopen":
                await tab.close()
                tabs[who] = tab = await open_tab(user)
                holds[who] = set()
                if tab.hello.get("call"):
                    latest[who] = tab.hello["call"]["id"]
            elif action == "invite":
                await tab.send(type="call.invite", to=users[target].pk, media=media)
            elif call_id is None:
                continue
            elif action in ("offer", "candidate"):
                counter += 1
                tag = f"sdp-{counter}"
                sent[tag] = (who, call_id)
                if action == "offer":
                    await tab.send(type="rtc.offer", call_id=call_id, sdp=tag)
                else:
                    await tab.send(type="rtc.candidate", call_id=call_id,
                                   candidate={"candidate": tag, "sdpMid": "0"})
            else:
                message = {
                    "accept": {"type": "call.accept"}, "reject": {"type": "call.reject"},
                    "cancel": {"type": "call.cancel"}, "hangup": {"type": "call.hangup"},
                    "mute": {"type": "call.media", "mic": False},
                    "video": {"type": "call.switch", "media": "video"},
                    "audio": {"type": "call.switch", "media": "audio"},
                    "yes": {"type": "call.switch_answer", "accept": True},
                    "no": {"type": "call.switch_answer", "accept": False},
                    "resume": {"type": "call.resume"},
                }[action]
                await tab.send(call_id=call_id, **message)
            # Let every tab read what happened, and check each relayed signal on arrival.
            for i, t in enumerate(tabs):
                inbox: list = []
                await _drain(t, inbox)
                for m in inbox:
                    SEEN[m["type"]] += 1
                    if m["type"].startswith("call."):
                        latest[i] = m["call"]["id"]
                        if m["this_device"] and m["call"]["state"] != "ended":
                            holds[i].add(m["call"]["id"])
                        else:
                            holds[i].discard(m["call"]["id"])
                    elif m["type"] == "ack":
                        latest[i] = m["call_id"]
                    elif m["type"].startswith("rtc."):
                        tag = m.get("sdp") or m["candidate"]["candidate"]
                        sender, sent_call = sent[tag]
                        assert m["call_id"] == sent_call
                        assert sent_call in holds[i], f"tab {i} got a signal for a call it does not hold"
                        assert sender // 2 != i // 2, "a signal went back to the sender's own user"
                        SEEN["relayed"] += 1
    finally:
        for t in tabs:
            await t.close()
    await database_sync_to_async(_finish_and_check)()
    await close_channel_layer()


def _finish_and_check():
    """Everyone has gone: the clock ends whatever is left; then every call has exactly one bill."""
    services.calls_sweep(now=timezone.now() + timedelta(hours=1))
    assert not Call.objects.exclude(state="ended").exists()
    assert not Line.objects.exists(), "someone is still holding a line"
    for call in Call.objects.all():
        assert call.status and call.end_reason and call.ended_at
        assert HistoryEntry.objects.filter(call=call).count() == 2
        if call.answered_at:
            assert call.ended_at >= call.answered_at
    delete_all_calls()
