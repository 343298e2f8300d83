"""Users, calls (an ended call is its bill) and lines (at most one live call per user)."""

import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from .states import EndReason, Outcome, State


class User(AbstractUser):
    """A person who can call and be called."""

    display_name = models.CharField(max_length=150, blank=True)
    # When the user last opened their history: missed calls after it make the badge.
    history_seen_at = models.DateTimeField(null=True, blank=True)

    @property
    def name(self) -> str:
        """What other people see: the display name, else the username."""
        return self.display_name or self.username

    def __str__(self) -> str:
        return self.name


class Media(models.TextChoices):
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"


class CallState(models.TextChoices):
    RINGING = State.RINGING.value, "Ringing"
    ACTIVE = State.ACTIVE.value, "Active"
    ENDED = State.ENDED.value, "Ended"


OutcomeChoices = models.TextChoices("OutcomeChoices", [(o.name, o.value) for o in Outcome])
EndReasonChoices = models.TextChoices("EndReasonChoices", [(r.name, r.value) for r in EndReason])

LIVE = [CallState.RINGING, CallState.ACTIVE]


class Call(models.Model):
    """One 1:1 call; once ended, the row is the call's bill and never changes again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    caller = models.ForeignKey(User, on_delete=models.PROTECT, related_name="calls_made")
    callee = models.ForeignKey(User, on_delete=models.PROTECT, related_name="calls_received")
    initial_media = models.CharField(max_length=5, choices=Media.choices)
    media = models.CharField(max_length=5, choices=Media.choices)
    state = models.CharField(max_length=7, choices=CallState.choices, default=CallState.RINGING)
    status = models.CharField(max_length=9, choices=OutcomeChoices.choices, blank=True)
    end_reason = models.CharField(max_length=15, choices=EndReasonChoices.choices, blank=True)
    ended_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ring_deadline = models.DateTimeField()
    # The one connection (channel name) that holds each side; the relay goes only there.
    caller_channel = models.CharField(max_length=200, blank=True)
    callee_channel = models.CharField(max_length=200, blank=True)
    # The browser tab (its own random id) holding each side: survives that tab's reconnects.
    caller_tab = models.CharField(max_length=64, blank=True)
    callee_tab = models.CharField(max_length=64, blank=True)
    # When the process holding each side last said it was alive (a dead process stops saying it).
    caller_seen_at = models.DateTimeField(null=True, blank=True)
    callee_seen_at = models.DateTimeField(null=True, blank=True)
    # Set while a party has no connection; the call ends at this time unless they come back.
    caller_gone_deadline = models.DateTimeField(null=True, blank=True)
    callee_gone_deadline = models.DateTimeField(null=True, blank=True)
    caller_mic = models.BooleanField(default=True)
    caller_camera = models.BooleanField(default=True)
    callee_mic = models.BooleanField(default=True)
    callee_camera = models.BooleanField(default=True)
    # An audio->video switch asked by one side and not yet answered by the other.
    switch_to = models.CharField(max_length=5, choices=Media.choices, blank=True)
    switch_asked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["caller", "-created_at"], name="call_caller_recent"),
            models.Index(fields=["callee", "-created_at"], name="call_callee_recent"),
            # Live calls are few; the sweeper and resync scan only them.
            models.Index(fields=["state"], condition=Q(state__in=LIVE), name="call_live"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(caller=models.F("callee")), name="call_not_self"),
            models.CheckConstraint(
                condition=Q(state="ended", ended_at__isnull=False)
                & ~Q(status="")
                & ~Q(end_reason="")
                | ~Q(state="ended") & Q(ended_at__isnull=True, status="", end_reason=""),
                name="call_ended_iff_billed",
            ),
            models.CheckConstraint(
                condition=~Q(state="active") | Q(answered_at__isnull=False),
                name="call_active_was_answered",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | ~Q(status__in=["canceled", "rejected", "timeout", "busy"]),
                name="call_unanswered_outcomes",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True)
                | Q(ended_at__isnull=True)
                | Q(ended_at__gte=models.F("answered_at")),
                name="call_ends_after_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} → {self.callee} ({self.media}, {self.status or self.state})"

    @property
    def duration(self) -> timedelta:
        """Connected time: ended − answered, zero if never answered."""
        if self.answered_at is None or self.ended_at is None:
            return timedelta(0)
        return self.ended_at - self.answered_at

    def role_of(self, user_id: int) -> str | None:
        """'caller', 'callee' or None for someone outside the call."""
        if user_id == self.caller_id:
            return "caller"
        if user_id == self.callee_id:
            return "callee"
        return None


class Line(models.Model):
    """A user's line, held while they are in a live call: the primary key makes double-booking impossible."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="line")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="lines")

    def __str__(self) -> str:
        return f"{self.user} in {self.call_id}"


MISSED_STATUSES = ("canceled", "timeout", "busy")


class HistoryEntry(models.Model):
    """One line of one user's call history: written for both parties when a call's bill is final.

    The bill itself is the `Call`; these rows exist so that every history page and filter is one
    index range scan, whichever side of the call the user was on."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="history")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="history_entries")
    other = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()  # the call's start, the history's order
    outgoing = models.BooleanField()
    missed = models.BooleanField()
    media = models.CharField(max_length=5, choices=Media.choices)  # as the bill reads: the final media

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "call"], name="history_once_per_user"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="history_recent"),
            models.Index(fields=["user", "outgoing", "-created_at", "-id"], name="history_direction"),
            models.Index(fields=["user", "media", "-created_at", "-id"], name="history_media"),
            models.Index(fields=["user", "other", "-created_at", "-id"], name="history_contact"),
            models.Index(fields=["user", "-created_at", "-id"], condition=Q(missed=True),
                         name="history_missed"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {'→' if self.outgoing else '←'} {self.other} ({self.call_id})"


class SecurityCounter(models.Model):
    """A throttle counter or single-use marker, kept in the database when there is no Redis
    (calls/security_state.py): a cache may evict it, a table does not."""

    key = models.CharField(max_length=255, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key} = {self.count} until {self.expires_at}"
