"""Generated interleavings of every event from three users with two tabs each: whatever happens,
every ended call has exactly one bill, nobody is left holding a line, times are consistent."""

from datetime import timedelta

import pytest
from django.utils import timezone
from collections import Counter

from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from calls import services
from calls.errors import CallError
from calls.models import Call, HistoryEntry, Line, User

from .conftest import delete_all_calls

pytestmark = pytest.mark.django_db(transaction=True)

USERS = ("ann", "ben", "cat")
SEEN: Counter = Counter()  # what the generated runs actually did, so the test can tell it did
TABS = ("t1", "t2")


class CallWorld(RuleBasedStateMachine):
    """The services driven like a crowd of impatient users with flaky networks."""

    def __init__(self):
        super().__init__()
        delete_all_calls()
        self.users = {u.username: u for u in User.objects.filter(username__in=USERS)}
        self.clock = timezone.now()

    def _call(self):
        """Mostly a live call (where things can happen), else the latest one."""
        live = Call.objects.filter(state__in=["ringing", "active"]).order_by("?").first()
        return live or Call.objects.order_by("-created_at").first()

    def _try(self, fn, **kwargs):
        try:
            fn(**kwargs)
            SEEN[f"{fn.__name__}: done"] += 1
        except CallError as exc:
            SEEN[f"{fn.__name__}: {exc.code}"] += 1  # refusals are part of life

    def _channel(self, who, tab):
        return f"{who}.{tab}"

    @rule(pair=st.permutations(USERS), media=st.sampled_from(["audio", "video"]), tab=st.sampled_from(TABS))
    def invite(self, pair, media, tab):
        a, b = pair[0], pair[1]
        self._try(services.call_invite, caller=self.users[a], callee_id=self.users[b].pk, media=media,
                  channel=self._channel(a, tab))

    @rule(side=st.sampled_from(["caller", "callee", "callee", "stranger"]), tab=st.sampled_from(TABS),
          action=st.sampled_from(["accept", "accept", "reject", "cancel", "hangup", "fail", "resume", "mute",
                                  "video", "audio", "yes", "no"]))
    def act(self, side, tab, action):
        call = self._call()
        if call is None:
            return
        if side == "stranger":
            user = next(u for u in self.users.values() if u.pk not in (call.caller_id, call.callee_id))
        else:
            user = getattr(call, side)
        channel = self._channel(user.username, tab)
        fn, kwargs = {
            "accept": (services.call_accept, {"channel": channel}),
            "reject": (services.call_reject, {}),
            "cancel": (services.call_cancel, {}),
            "hangup": (services.call_hangup, {}),
            "fail": (services.call_hangup, {"failed": True}),
            "resume": (services.call_resume, {"channel": channel}),
            "mute": (services.call_set_media_state, {"mic": False}),
            "video": (services.call_switch_media, {"media": "video"}),
            "audio": (services.call_switch_media, {"media": "audio"}),
            "yes": (services.call_answer_switch, {"accept": True}),
            "no": (services.call_answer_switch, {"accept": False}),
        }[action]
        self._try(fn, call_id=call.pk, user=user, **kwargs)

    # Rules are drawn evenly; these aliases make answering, hanging up etc. three times as likely
    # as placing yet another call.
    act_again = act
    act_more = act

    @rule(who=st.sampled_from(USERS), tab=st.sampled_from(TABS))
    def tab_closes(self, who, tab):
        for call in Call.objects.filter(state__in=["ringing", "active"]):
            services.call_party_away(call_id=call.pk, user_id=self.users[who].pk,
                                     channel=self._channel(who, tab), now=self.clock)

    @rule(seconds=st.sampled_from([1, 6, 16, 31, 121]))
    def time_passes(self, seconds):
        self.clock += timedelta(seconds=seconds)
        live = [self._channel(u, t) for u in USERS for t in TABS]
        services.calls_heartbeat(channels=live, now=self.clock)
        for call in services.calls_sweep(now=self.clock):
            SEEN[f"swept: {call.status}/{call.end_reason}"] += 1

    @invariant()
    def every_ended_call_has_one_bill_and_two_history_lines(self):
        for call in Call.objects.filter(state="ended"):
            assert call.status and call.end_reason and call.ended_at
            assert HistoryEntry.objects.filter(call=call).count() == 2
            assert not Line.objects.filter(call=call).exists()
        assert not HistoryEntry.objects.filter(call__state__in=["ringing", "active"]).exists()

    @invariant()
    def lines_match_live_calls(self):
        live = Call.objects.filter(state__in=["ringing", "active"])
        expected = sorted((c.caller_id, c.pk) for c in live) + sorted((c.callee_id, c.pk) for c in live)
        assert sorted(Line.objects.values_list("user_id", "call_id")) == sorted(expected)
        people = [p for c in live for p in (c.caller_id, c.callee_id)]
        assert len(people) == len(set(people)), "someone is in two live calls"

    @invariant()
    def times_are_consistent(self):
        for call in Call.objects.all():
            if call.answered_at:
                assert call.answered_at >= call.created_at
                assert call.status in ("", "completed", "failed")
            if call.ended_at and call.answered_at:
                assert call.duration == call.ended_at - call.answered_at >= timedelta(0)
            if call.status in ("canceled", "rejected", "timeout", "busy"):
                assert call.answered_at is None and call.duration == timedelta(0)


def test_invariants_hold_under_random_interleavings(make_user):
    for name in USERS:
        make_user(name)
    SEEN.clear()
    run_state_machine_as_test(
        CallWorld,
        settings=hsettings(max_examples=80, stateful_step_count=50, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )
    # The runs reached the interesting places, not only refusals.
    for reached in ("call_invite: done", "call_accept: done", "call_hangup: done", "call_reject: done",
                    "call_cancel: done", "call_resume: done"):
        assert SEEN[reached] > 0, (reached, sorted(SEEN.items()))
    assert any(key.startswith("swept: ") for key in SEEN), SEEN
