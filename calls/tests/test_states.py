"""The state machine, every transition and every illegal one (no database)."""

import itertools

import pytest

from calls.states import (
    EndReason, Event, IllegalTransition, Outcome, Role, State, legal_events, transition,
)

C, E, S = Role.CALLER, Role.CALLEE, Role.SYSTEM

# Written out by hand from product.md, independently of the module's table.
EXPECTED = {
    (State.NEW, Event.INVITE, C): (State.RINGING, None, None),
    (State.NEW, Event.BUSY, S): (State.ENDED, Outcome.BUSY, EndReason.BUSY),
    (State.RINGING, Event.ACCEPT, E): (State.ACTIVE, None, None),
    (State.RINGING, Event.REJECT, E): (State.ENDED, Outcome.REJECTED, EndReason.REJECTED),
    (State.RINGING, Event.CANCEL, C): (State.ENDED, Outcome.CANCELED, EndReason.CANCELED),
    (State.RINGING, Event.TIMEOUT, S): (State.ENDED, Outcome.TIMEOUT, EndReason.TIMEOUT),
    (State.RINGING, Event.CONNECTION_LOST, C): (State.ENDED, Outcome.CANCELED, EndReason.CONNECTION_LOST),
    (State.RINGING, Event.FAIL, C): (State.ENDED, Outcome.FAILED, EndReason.FAILED),
    (State.RINGING, Event.FAIL, E): (State.ENDED, Outcome.FAILED, EndReason.FAILED),
    (State.ACTIVE, Event.HANGUP, C): (State.ENDED, Outcome.COMPLETED, EndReason.HANGUP),
    (State.ACTIVE, Event.HANGUP, E): (State.ENDED, Outcome.COMPLETED, EndReason.HANGUP),
    (State.ACTIVE, Event.FAIL, C): (State.ENDED, Outcome.FAILED, EndReason.FAILED),
    (State.ACTIVE, Event.FAIL, E): (State.ENDED, Outcome.FAILED, EndReason.FAILED),
    (State.ACTIVE, Event.CONNECTION_LOST, C): (State.ENDED, Outcome.COMPLETED, EndReason.CONNECTION_LOST),
    (State.ACTIVE, Event.CONNECTION_LOST, E): (State.ENDED, Outcome.COMPLETED, EndReason.CONNECTION_LOST),
    (State.ACTIVE, Event.MEDIA_STATE, C): (State.ACTIVE, None, None),
    (State.ACTIVE, Event.MEDIA_STATE, E): (State.ACTIVE, None, None),
    (State.ACTIVE, Event.SWITCH_TYPE, C): (State.ACTIVE, None, None),
    (State.ACTIVE, Event.SWITCH_TYPE, E): (State.ACTIVE, None, None),
}

ALL = list(itertools.product(State, Event, Role))


@pytest.mark.parametrize("state,event,role", [k for k in ALL if k in EXPECTED])
def test_legal_transition(state, event, role):
    result = transition(state, event, role)
    assert (result.state, result.outcome, result.reason) == EXPECTED[(state, event, role)]
    assert result.ends_call == (result.state is State.ENDED)


@pytest.mark.parametrize("state,event,role", [k for k in ALL if k not in EXPECTED])
def test_illegal_transition(state, event, role):
    with pytest.raises(IllegalTransition) as info:
        transition(state, event, role)
    assert (info.value.state, info.value.event, info.value.role) == (state, event, role)


def test_ended_is_final():
    assert all(not legal_events(State.ENDED, role) for role in Role)


def test_every_ending_has_an_outcome_and_a_reason():
    for (state, event, role), (new, outcome, reason) in EXPECTED.items():
        assert (new is State.ENDED) == (outcome is not None) == (reason is not None)


def test_every_outcome_is_reachable():
    assert {o for (_, o, _) in EXPECTED.values() if o} == set(Outcome)


def test_legal_events_lists_what_each_role_may_do():
    assert legal_events(State.RINGING, E) == {Event.ACCEPT, Event.REJECT, Event.FAIL}
    assert legal_events(State.RINGING, C) == {Event.CANCEL, Event.CONNECTION_LOST, Event.FAIL}
    assert legal_events(State.ACTIVE, S) == frozenset()


def test_module_has_no_django_import():
    import calls.states as module

    source = open(module.__file__).read()
    assert "django" not in source
