"""The call state machine: pure Python, no Django, the single source of legal transitions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """Where a call is; the JS SDK uses the same names."""

    NEW = "new"  # not yet stored: only the start of `invite` and `busy`
    RINGING = "ringing"
    ACTIVE = "active"  # answered; media is peer-to-peer
    ENDED = "ended"  # final: the row is now the call's bill


LIVE_STATES = (State.RINGING, State.ACTIVE)


class Event(StrEnum):
    """Everything that can happen to a call."""

    INVITE = "invite"
    BUSY = "busy"
    ACCEPT = "accept"
    REJECT = "reject"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    HANGUP = "hangup"
    FAIL = "fail"  # a client could not connect media
    CONNECTION_LOST = "connection_lost"  # a party's last connection stayed away past its grace
    MEDIA_STATE = "media_state"
    SWITCH_TYPE = "switch_type"


class Role(StrEnum):
    """Which side of the call someone is on; SYSTEM is the server's own clock."""

    CALLER = "caller"
    CALLEE = "callee"
    SYSTEM = "system"


class Outcome(StrEnum):
    """The bill's status (product.md, "Outcomes and how they read")."""

    COMPLETED = "completed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    BUSY = "busy"
    FAILED = "failed"


class EndReason(StrEnum):
    """Who or what ended the call, finer than the outcome."""

    HANGUP = "hangup"
    CANCELED = "canceled"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    BUSY = "busy"
    FAILED = "failed"
    CONNECTION_LOST = "connection_lost"


@dataclass(frozen=True)
class Transition:
    """The result of a legal event: the new state and, when it ends the call, the bill's fields."""

    state: State
    outcome: Outcome | None = None
    reason: EndReason | None = None

    @property
    def ends_call(self) -> bool:
        return self.state is State.ENDED


class IllegalTransition(Exception):
    """An event that the call's state or the sender's role does not allow."""

    def __init__(self, state: State, event: Event, role: Role, why: str):
        super().__init__(f"{event} by {role} is not allowed in state {state}: {why}")
        self.state, self.event, self.role, self.why = state, event, role, why


_PARTIES = frozenset({Role.CALLER, Role.CALLEE})

# (state, event) -> (roles allowed to cause it, transition)
_TABLE: dict[tuple[State, Event], tuple[frozenset[Role], Transition]] = {
    (State.NEW, Event.INVITE): (frozenset({Role.CALLER}), Transition(State.RINGING)),
    (State.NEW, Event.BUSY): (
        frozenset({Role.SYSTEM}),
        Transition(State.ENDED, Outcome.BUSY, EndReason.BUSY),
    ),
    (State.RINGING, Event.ACCEPT): (frozenset({Role.CALLEE}), Transition(State.ACTIVE)),
    (State.RINGING, Event.REJECT): (
        frozenset({Role.CALLEE}),
        Transition(State.ENDED, Outcome.REJECTED, EndReason.REJECTED),
    ),
    (State.RINGING, Event.CANCEL): (
        frozenset({Role.CALLER}),
        Transition(State.ENDED, Outcome.CANCELED, EndReason.CANCELED),
    ),
    (State.RINGING, Event.TIMEOUT): (
        frozenset({Role.SYSTEM}),
        Transition(State.ENDED, Outcome.TIMEOUT, EndReason.TIMEOUT),
    ),
    # The caller's tab went away while ringing and did not come back: nobody is left to
    # talk to, so the call reads as canceled (the callee sees a missed call).
    (State.RINGING, Event.CONNECTION_LOST): (
        frozenset({Role.CALLER}),
        Transition(State.ENDED, Outcome.CANCELED, EndReason.CONNECTION_LOST),
    ),
    (State.RINGING, Event.FAIL): (
        _PARTIES,
        Transition(State.ENDED, Outcome.FAILED, EndReason.FAILED),
    ),
    (State.ACTIVE, Event.HANGUP): (
        _PARTIES,
        Transition(State.ENDED, Outcome.COMPLETED, EndReason.HANGUP),
    ),
    (State.ACTIVE, Event.FAIL): (
        _PARTIES,
        Transition(State.ENDED, Outcome.FAILED, EndReason.FAILED),
    ),
    (State.ACTIVE, Event.CONNECTION_LOST): (
        _PARTIES,
        Transition(State.ENDED, Outcome.COMPLETED, EndReason.CONNECTION_LOST),
    ),
    (State.ACTIVE, Event.MEDIA_STATE): (_PARTIES, Transition(State.ACTIVE)),
    (State.ACTIVE, Event.SWITCH_TYPE): (_PARTIES, Transition(State.ACTIVE)),
}


def transition(state: State, event: Event, role: Role) -> Transition:
    """Return what `event` caused by `role` does to a call in `state`, or raise IllegalTransition."""
    entry = _TABLE.get((State(state), Event(event)))
    if entry is None:
        raise IllegalTransition(state, event, role, "no such transition")
    roles, result = entry
    if role not in roles:
        raise IllegalTransition(state, event, role, "not allowed for this role")
    return result


def legal_events(state: State, role: Role) -> frozenset[Event]:
    """The events `role` may cause in `state` (clients use it to show the right buttons)."""
    return frozenset(ev for (st, ev), (roles, _) in _TABLE.items() if st is state and role in roles)
