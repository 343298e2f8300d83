"""Every change to a call: atomic, race-safe conditional updates, announced after commit."""

import logging
import math
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import clock, errors
from .errors import CallError
from .events import announce
from .models import LIVE, MISSED_STATUSES, Call, CallState, HistoryEntry, Line, Media, User
from .states import Event, IllegalTransition, Outcome, Role, State, Transition, transition

log = logging.getLogger(__name__)

_STATE_WORDS = {
    State.RINGING: _("The call has not been answered yet."),
    State.ACTIVE: _("The call has already been answered."),
    State.ENDED: _("The call has already ended."),
}


def _lock(call_id: UUID | str, user_id: int | None = None) -> Call:
    """Load a call and lock its row for this transaction; hide calls the user is not part of."""
    try:
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("caller", "callee")
            .get(pk=call_id)
        )
    except (Call.DoesNotExist, ValueError, ValidationError):
        raise errors.not_found() from None
    if user_id is not None and call.role_of(user_id) is None:
        raise errors.not_found()
    return call


def _role(call: Call, user: User) -> Role:
    return Role(call.role_of(user.pk))


def _apply(
    call: Call,
    event: Event,
    role: Role,
    *,
    now: datetime,
    ended_by: User | None = None,
    where: dict[str, Any] | None = None,
    **changes: Any,
) -> None:
    """Move `call` by `event` with a conditional update, so a racing change cannot also win."""
    try:
        result = transition(State(call.state), event, role)
    except IllegalTransition as exc:
        raise errors.invalid_state(_STATE_WORDS.get(exc.state, _("Not allowed now."))) from None
    fields: dict[str, Any] = {"state": result.state.value, **changes}
    if result.ends_call:
        # A side last seen before the answer, or a clock a little off, must not end a call before it began.
        ended_at = max(now, call.answered_at or call.created_at)
        fields.update(_bill_fields(result, now=ended_at, ended_by=ended_by))
    _update(call, fields, **(where or {}))
    if result.ends_call:
        _file_bill(call)


def _file_bill(call: Call) -> None:
    """A call just ended: free both lines and file the bill in both parties' histories."""
    Line.objects.filter(call=call).delete()
    missed = call.status in MISSED_STATUSES
    HistoryEntry.objects.bulk_create([
        HistoryEntry(user_id=call.caller_id, call=call, other_id=call.callee_id, outgoing=True,
                     missed=False, created_at=call.created_at, media=call.media),
        HistoryEntry(user_id=call.callee_id, call=call, other_id=call.caller_id, outgoing=False,
                     missed=missed, created_at=call.created_at, media=call.media),
    ])


def _update(call: Call, fields: dict[str, Any], **where: Any) -> None:
    """UPDATE the row only if it is still in the state we read, and mirror it on `call`."""
    try:
        updated = Call.objects.filter(pk=call.pk, state=call.state, **where).update(**fields)
    except IntegrityError:
        # A broken check must not tear the socket down: the change is refused (and rolled back
        # by the enclosing transaction) with a code, and logged, for it is a bug of ours.
        log.exception("call %s: the database refused %s", call.pk, sorted(fields))
        message = _("The server could not store that; nothing changed. Try again.")
        raise CallError("server_error", message) from None
    if updated != 1:
        raise errors.invalid_state(_("The call changed meanwhile."))
    for name, value in fields.items():
        setattr(call, name, value)


def _bill_fields(result: Transition, *, now: datetime, ended_by: User | None) -> dict[str, Any]:
    """What ending a call writes: the outcome, the reason, the time; live-only fields cleared."""
    return {
        "status": result.outcome.value,
        "end_reason": result.reason.value,
        "ended_at": now,
        "ended_by": ended_by,
        "caller_gone_deadline": None,
        "callee_gone_deadline": None,
        "switch_to": "",
        "switch_asked_by": None,
    }


def call_invite(
    *, caller: User, callee_id: int, media: str, channel: str, timeout: float | None = None,
    tab: str = "",
) -> Call:
    """Start ringing `callee_id`; a callee already in a call makes a `busy` bill at once, and a
    callee who is ringing us right now (both called at once) gets that call answered instead."""
    if callee_id == caller.pk:
        raise CallError("self_call", _("You cannot call yourself."))
    if media not in Media.values:
        raise CallError("bad_message", _("media must be 'audio' or 'video'."))
    now = clock.now()
    # One round trip: the callee, the invite limits and a call of theirs ringing us (glare).
    callee = _callee_with_limits(caller, callee_id, now)
    if callee is None:
        raise CallError("unknown_user", _("No such user."))
    _check_invite_limits(callee, now)
    ring_for = timeout if timeout is not None else settings.CALLKIT_RING_TIMEOUT
    if callee.glare_id is not None:
        return call_accept(call_id=callee.glare_id, user=caller, channel=channel, tab=tab)
    try:
        return _place(caller=caller, callee=callee, media=media, channel=channel, tab=tab,
                      ring_for=ring_for, now=now)
    except _Glare as exc:
        return call_accept(call_id=exc.call_id, user=caller, channel=channel, tab=tab)


# A declined call is unanswered, so it ended at most this long after it was placed (the longest
# ring, plus the caller's ring grace): it bounds the index range the cool-down looks in.
_LONGEST_RING = timedelta(seconds=130)


# The callee with the invite limits' counts and glare, in one statement on SQLite and PostgreSQL.
# Written out rather than built with the ORM: building and compiling four subqueries cost about
# 40% of the database thread's time per call under load (docs/performance.md), the query itself a
# fifth of that. Each subquery is a range scan of an index: the caller's (`call_caller_recent`)
# or the callee's (`call_callee_recent`) recent calls; glare goes through the caller's line (a
# ringing call holds it), two primary-key lookups however long their history.
_CALLEE_WITH_LIMITS = """
SELECT u.*,
  (SELECT COUNT(*) FROM calls_call c WHERE c.caller_id = %s AND c.created_at > %s) AS placed,
  (SELECT COUNT(DISTINCT c.caller_id) FROM calls_call c
     WHERE c.callee_id = %s AND c.created_at > %s) AS incoming,
  (SELECT MAX(c.ended_at) FROM calls_call c
     WHERE c.caller_id = %s AND c.callee_id = %s AND c.created_at > %s AND c.status = %s) AS declined_at,
  (SELECT c.id FROM calls_line l JOIN calls_call c ON c.id = l.call_id
     WHERE l.user_id = %s AND c.caller_id = %s AND c.state = %s) AS glare_id
FROM calls_user u WHERE u.id = %s AND u.is_active
"""


def _callee_with_limits(caller: User, callee_id: int, now: datetime) -> User | None:
    """The active callee with the invite limits' counts and `glare_id`, in one query."""
    # placed: the caller's calls in the last minute; incoming: the callee's distinct callers in
    # it; declined_at: when the callee last declined the caller; glare_id: their call ringing us.
    # Counted from the bills themselves, so the limits hold across every server process.
    minute_ago = now - timedelta(minutes=1)
    cooldown = timedelta(seconds=settings.CALLKIT_DECLINE_COOLDOWN)
    since = min(minute_ago, now - cooldown - _LONGEST_RING)
    moment = connection.ops.adapt_datetimefield_value
    params = [caller.pk, moment(minute_ago), callee_id, moment(minute_ago),
              caller.pk, callee_id, moment(since), Outcome.REJECTED.value,
              caller.pk, callee_id, CallState.RINGING.value, callee_id]
    callee = next(iter(User.objects.raw(_CALLEE_WITH_LIMITS, params)), None)
    if callee is not None:
        callee.declined_at = _aware(callee.declined_at)
        callee.glare_id = None if callee.glare_id is None else UUID(str(callee.glare_id))
    return callee


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp from a raw query: SQLite gives Django's UTC text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, dt_timezone.utc)
    return value


def _check_invite_limits(callee: User, now: datetime) -> None:
    """Refuse an invite over the caller's or the callee's rate, or too soon after a decline."""
    # From the counts `_callee_with_limits` annotated on the callee.
    cooldown = timedelta(seconds=settings.CALLKIT_DECLINE_COOLDOWN)
    if callee.placed >= settings.CALLKIT_INVITES_PER_MINUTE:
        raise CallError("rate_limited", _("Too many calls in the last minute; wait a little."))
    declined_at = callee.declined_at
    if declined_at is not None and declined_at + cooldown > now:
        wait = math.ceil((declined_at + cooldown - now).total_seconds())
        raise CallError("cooling_down", format_lazy(
            _("They just declined your call; you can call again in {seconds} s."), seconds=wait))
    if callee.incoming >= settings.CALLKIT_INCOMING_PER_MINUTE:
        raise CallError("too_many_calls", _("They are getting too many calls right now; try again in a minute."))


class _Glare(Exception):
    """Both people called each other at the same moment: the other call is the one to keep."""

    def __init__(self, call_id):
        super().__init__(str(call_id))
        self.call_id = call_id


def _ringing_us(caller: User, callee_id: int) -> QuerySet:
    """The call that `callee_id` is ringing `caller` with right now, found through the caller's line."""
    # A ringing call holds both lines: two primary-key lookups, however long their history.
    return Call.objects.filter(lines__user_id=caller.pk, state=CallState.RINGING, caller_id=callee_id)


def _glare(caller: User, callee_id: int) -> Call | None:
    """The call that `callee_id` is ringing `caller` with right now, if any."""
    return _ringing_us(caller, callee_id).first()


def _place(
    *, caller: User, callee: User, media: str, channel: str, tab: str, ring_for: float, now: datetime
) -> Call:
    """Store a ringing call holding both lines, or a busy bill if the callee's line is taken."""
    transition(State.NEW, Event.INVITE, Role.CALLER)
    ringing = dict(caller=caller, callee=callee, media=media, channel=channel, tab=tab,
                   ring_for=ring_for, now=now)
    try:
        # Both lines free, as nearly always: both taken in one INSERT (in user-id order, so two
        # invites between the same two people queue up on PostgreSQL instead of deadlocking),
        # with no savepoint; if either is taken, all of it rolls back and the path below finds out which.
        with transaction.atomic():
            call = _new_call(**ringing)
            Line.objects.bulk_create([Line(user_id=user_id, call=call) for user_id in sorted((caller.pk, callee.pk))])
            announce(call, "call.ringing")
        return call
    except IntegrityError:
        pass
    with transaction.atomic():
        call = _new_call(**ringing)
        busy = False
        for user_id in sorted((caller.pk, callee.pk)):
            try:
                with transaction.atomic():
                    Line.objects.create(user_id=user_id, call=call)
            except IntegrityError:
                # The line is taken; if by the other's call to us (it committed while we
                # waited for its lock), answer that one instead: one call, not two busy ones.
                glare = _glare(caller, callee.pk)
                if glare is not None:
                    raise _Glare(glare.pk) from None
                if user_id == caller.pk:
                    raise CallError("already_in_call", _("You are already in a call.")) from None
                busy = True
        if busy:
            # The callee is in a call: this one never rang, and both parties get its bill.
            fields = {"state": State.ENDED.value, **_bill_fields(
                transition(State.NEW, Event.BUSY, Role.SYSTEM), now=now, ended_by=None
            )}
            _update(call, fields)
            _file_bill(call)
            announce(call, "call.ended")
            return call
        announce(call, "call.ringing")
    return call


def _new_call(*, caller: User, callee: User, media: str, channel: str, tab: str, ring_for: float,
              now: datetime) -> Call:
    return Call.objects.create(
        caller=caller, callee=callee, media=media, initial_media=media, state=CallState.RINGING,
        created_at=now, ring_deadline=now + timedelta(seconds=ring_for),
        caller_channel=channel, caller_tab=tab, caller_seen_at=now,
    )


def call_accept(*, call_id: UUID | str, user: User, channel: str, tab: str = "") -> Call:
    """Answer on one connection; the first accept wins, the callee's other tabs stop ringing."""
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        now = clock.now()
        if call.state == CallState.RINGING and call.ring_deadline <= now:
            raise errors.invalid_state(_("The call is no longer ringing."))  # the clock ends it
        if call.state == CallState.RINGING and call.caller_gone_deadline is not None:
            # Nobody would be on the other end: the caller's tab has gone (the clock cancels it).
            raise errors.invalid_state(_("The caller has left."))
        _apply(call, Event.ACCEPT, _role(call, user), now=now, answered_at=max(now, call.created_at),
               callee_channel=channel, callee_tab=tab, callee_seen_at=now)
        announce(call, "call.accepted")
    return call


def _end(call_id: UUID | str, user: User, event: Event) -> Call:
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        now = clock.now()
        # Hanging up on a side that is away (in its grace) ends the talk when that side vanished.
        away = [getattr(call, f"{role}_seen_at") for role in ("caller", "callee")
                if getattr(call, f"{role}_gone_deadline") is not None and getattr(call, f"{role}_seen_at")]
        _apply(call, event, _role(call, user), now=min([now, *away]), ended_by=user)
        announce(call, "call.ended")
    return call


def call_reject(*, call_id: UUID | str, user: User) -> Call:
    """The callee declines a ringing call (on any of their tabs)."""
    return _end(call_id, user, Event.REJECT)


def call_cancel(*, call_id: UUID | str, user: User) -> Call:
    """The caller gives up before an answer."""
    return _end(call_id, user, Event.CANCEL)


def call_hangup(*, call_id: UUID | str, user: User, failed: bool = False) -> Call:
    """Either party ends an answered call; `failed` when media could not connect."""
    return _end(call_id, user, Event.FAIL if failed else Event.HANGUP)


def call_set_media_state(
    *, call_id: UUID | str, user: User, mic: bool | None = None, camera: bool | None = None
) -> Call:
    """Record a party's microphone and camera state (the socket pushes it: calls/media_push.py)."""
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        role = _role(call, user)
        changes = {}
        if mic is not None:
            changes[f"{role}_mic"] = mic
        if camera is not None:
            changes[f"{role}_camera"] = camera
        _apply(call, Event.MEDIA_STATE, role, now=clock.now(), **changes)
    return call


def call_switch_media(*, call_id: UUID | str, user: User, media: str) -> Call:
    """Video→audio happens at once; audio→video is asked, and the other side answers."""
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        role = _role(call, user)
        now = clock.now()
        if media == call.media:
            raise errors.invalid_state(_("The call is already a video call.") if media == "video" else _("The call is already an audio call."))
        if media == Media.AUDIO:
            _apply(call, Event.SWITCH_TYPE, role, now=now, media=media, switch_to="", switch_asked_by=None)
            announce(call, "call.switched")
        elif call.switch_to and call.switch_asked_by_id != user.pk:
            # Both sides asked for video: that is agreement.
            _apply(call, Event.SWITCH_TYPE, role, now=now, where={"switch_to": media},
                   media=media, switch_to="", switch_asked_by=None)
            announce(call, "call.switched")
        elif call.switch_to:
            raise CallError("switch_pending", _("You already asked; waiting for an answer."))
        else:
            _apply(call, Event.SWITCH_TYPE, role, now=now, where={"switch_to": ""},
                   switch_to=media, switch_asked_by=user)
            announce(call, "call.switch_requested")
    return call


def call_answer_switch(*, call_id: UUID | str, user: User, accept: bool) -> Call:
    """The other side agrees to, or declines, an audio→video switch."""
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        role = _role(call, user)
        if not call.switch_to or call.switch_asked_by_id == user.pk:
            raise errors.invalid_state(_("There is no switch request to answer."))
        changes: dict[str, Any] = {"switch_to": "", "switch_asked_by": None}
        if accept:
            changes["media"] = call.switch_to
        _apply(call, Event.SWITCH_TYPE, role, now=clock.now(),
               where={"switch_to": call.switch_to}, **changes)
        announce(call, "call.switched" if accept else "call.switch_declined")
    return call


def call_party_away(
    *, call_id: UUID | str, user_id: int, channel: str, now: datetime | None = None,
    stale_before: datetime | None = None,
) -> Call | None:
    """The connection holding a party's side closed: start its grace period, if it still held it."""
    with transaction.atomic():
        try:
            call = _lock(call_id, user_id)
        except CallError:
            return None
        role = call.role_of(user_id)
        if call.state not in LIVE or getattr(call, f"{role}_channel") != channel:
            return None  # ended already, or another connection took the call over
        grace = (
            settings.CALLKIT_RING_GRACE if call.state == CallState.RINGING else settings.CALLKIT_GRACE
        )
        now = now or clock.now()
        changes = {f"{role}_gone_deadline": now + timedelta(seconds=grace)}
        condition = {f"{role}_channel": channel}
        if stale_before is not None:  # only if its heartbeat is still stale now
            condition[f"{role}_seen_at__lt"] = stale_before
        else:  # its socket closed just now: the moment the side was last seen, should it not return
            changes[f"{role}_seen_at"] = now
        if Call.objects.filter(pk=call.pk, state=call.state, **condition).update(**changes) != 1:
            return None
        for name, value in changes.items():
            setattr(call, name, value)
        announce(call, "call.away")
    return call


def call_resume(
    *, call_id: UUID | str, user: User, channel: str, fresh: bool = False, tab: str = ""
) -> Call:
    """Make this connection hold the user's side of a live call; `fresh` when its media restarts."""
    with transaction.atomic():
        call = _lock(call_id, user.pk)
        role = _role(call, user)
        if call.state not in LIVE:
            raise errors.invalid_state(_STATE_WORDS[State.ENDED])
        if call.state == CallState.RINGING and role is Role.CALLEE:
            raise errors.invalid_state(_("Answer the call instead."))
        changes = {f"{role}_channel": channel, f"{role}_tab": tab, f"{role}_gone_deadline": None,
                   f"{role}_seen_at": clock.now()}
        _update(call, changes)
        announce(call, "call.resumed", side=role.value, fresh=fresh)
    return call


def _overdue(call: Call, now: datetime) -> tuple[Event, Role] | None:
    """The earliest deadline of a live call that has passed, as the event it causes."""
    due = []
    if call.state == CallState.RINGING and call.ring_deadline <= now:
        due.append((call.ring_deadline, Event.TIMEOUT, Role.SYSTEM))
    for role in (Role.CALLER, Role.CALLEE):
        deadline = getattr(call, f"{role}_gone_deadline")
        if deadline is not None and deadline <= now:
            due.append((deadline, Event.CONNECTION_LOST, role))
    if not due:
        return None
    _, event, role = min(due, key=lambda item: item[0])
    return event, role


def call_expire(*, call_id: UUID | str, now: datetime | None = None) -> Call | None:
    """End a call whose ring deadline or grace period has passed; None if nothing was due."""
    now = now or clock.now()
    with transaction.atomic():
        call = _lock(call_id)
        if call.state not in LIVE:
            return None
        due = _overdue(call, now)
        if due is None:
            return None
        event, role = due
        ended_by = None if role is Role.SYSTEM else getattr(call, role.value)
        _apply(call, event, role, now=_ended_at(call, event, now), ended_by=ended_by)
        announce(call, "call.ended")
    return call


def _ended_at(call: Call, event: Event, now: datetime) -> datetime:
    """When a call the clock ends stopped, not when the clock noticed: a ring timeout at its
    deadline; a lost connection when the vanished side (the earlier, if both) was last seen."""
    if event is Event.TIMEOUT:
        return min(now, call.ring_deadline)
    stale = _stale_before(now)
    last_seen = [
        seen
        for role in ("caller", "callee")
        if (seen := getattr(call, f"{role}_seen_at")) is not None
        and (getattr(call, f"{role}_gone_deadline") is not None or seen < stale)
    ]
    return min([now, *last_seen])


def _stale_before(now: datetime) -> datetime:
    """A heartbeat older than this means the process holding that side stopped (it died)."""
    return now - timedelta(seconds=3 * settings.CALLKIT_SWEEP_INTERVAL)


def calls_heartbeat(*, channels: list[str], now: datetime | None = None) -> None:
    """A process says the connections it holds are alive (two updates, however many calls)."""
    if not channels:
        return
    now = now or clock.now()
    for role in ("caller", "callee"):
        Call.objects.filter(state__in=LIVE, **{f"{role}_channel__in": channels}).update(
            **{f"{role}_seen_at": now}
        )
        # A side marked away while its connection is in fact alive here (its heartbeats were
        # late): it is not away. Announced like a resume, so both sides see it.
        wrongly_away = Call.objects.filter(
            state__in=LIVE, **{f"{role}_channel__in": channels, f"{role}_gone_deadline__isnull": False}
        ).values_list("pk", f"{role}_channel")
        for call_id, channel in wrongly_away:
            with transaction.atomic():
                call = _lock(call_id)
                if call.state in LIVE and getattr(call, f"{role}_channel") == channel:
                    Call.objects.filter(pk=call.pk).update(**{f"{role}_gone_deadline": None})
                    setattr(call, f"{role}_gone_deadline", None)
                    announce(call, "call.resumed", side=role, fresh=False)


def _stale_holders(now: datetime) -> None:
    """Sides held by a process that stopped its heartbeat (it died) start their grace period."""
    stale = _stale_before(now)
    for role in ("caller", "callee"):
        calls = Call.objects.filter(
            state__in=LIVE, **{f"{role}_gone_deadline": None, f"{role}_seen_at__lt": stale}
        ).exclude(**{f"{role}_channel": ""})
        for call_id, user_id, channel in calls.values_list("pk", f"{role}_id", f"{role}_channel"):
            call_party_away(call_id=call_id, user_id=user_id, channel=channel, now=now, stale_before=stale)


def calls_sweep(*, now: datetime | None = None) -> list[Call]:
    """End every live call whose deadline has passed; safe to run in many processes at once."""
    if now is None:
        clock.measure()  # every sweep: this host's clock may have drifted or been stepped
        now = clock.now()
    _stale_holders(now)
    due = Call.objects.filter(state__in=LIVE).filter(
        Q(state=CallState.RINGING, ring_deadline__lte=now)
        | Q(caller_gone_deadline__lte=now)
        | Q(callee_gone_deadline__lte=now)
    )
    ended = []
    for call_id in due.values_list("pk", flat=True):
        try:
            call = call_expire(call_id=call_id, now=now)
        except CallError:
            continue  # another process ended it first
        if call is not None:
            ended.append(call)
    return ended


def calls_hold_grace(*, now: datetime | None = None) -> int:
    """The channel layer is down, or just came back: no tab could reconnect meanwhile, so every
    side that is away gets its whole grace period again from `now`. Returns how many sides."""
    now = now or clock.now()
    held = 0
    for state, grace in ((CallState.RINGING, settings.CALLKIT_RING_GRACE), (CallState.ACTIVE, settings.CALLKIT_GRACE)):
        until = now + timedelta(seconds=grace)
        for role in ("caller", "callee"):
            held += Call.objects.filter(state=state, **{f"{role}_gone_deadline__lt": until}).update(
                **{f"{role}_gone_deadline": until}
            )
    return held
