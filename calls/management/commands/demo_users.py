"""Create the demo users (alice, bob, carol; password "callkit-demo"), and with --history a few
days of alice's and bob's calls, every outcome once (for a demo, and the screenshot gallery)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from calls.models import MISSED_STATUSES, Call, HistoryEntry, User

DEMO = [("alice", "Alice Liddell"), ("bob", "Bob Builder"), ("carol", "Carol Danvers")]
PASSWORD = "callkit-demo"

# (hours ago, who called, media, status, end reason, seconds talked)
HISTORY = [
    (0.4, "bob", "video", "completed", "hangup", 754),
    (1.5, "alice", "audio", "canceled", "canceled", 0),
    (26, "bob", "audio", "timeout", "timeout", 0),
    (30, "alice", "video", "rejected", "rejected", 0),
    (75, "alice", "audio", "completed", "hangup", 34),
    (77, "bob", "video", "busy", "busy", 0),
    (150, "alice", "video", "failed", "failed", 0),
]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--history", action="store_true", help="also add a few days of alice's and bob's calls")

    def handle(self, *args, history: bool, **options):
        users = {}
        for username, display_name in DEMO:
            user, created = User.objects.get_or_create(
                username=username, defaults={"display_name": display_name}
            )
            if created:
                user.set_password(PASSWORD)
                user.save()
            users[username] = user
            self.stdout.write(f"{'created' if created else 'kept'} {username} (password {PASSWORD!r})")
        if history and not Call.objects.filter(caller__in=users.values()).exists():
            self._history(users)
            self.stdout.write(f"added {len(HISTORY)} calls between alice and bob")

    @transaction.atomic
    def _history(self, users: dict[str, User]) -> None:
        now = timezone.now()
        for hours, who, media, status, reason, talked in HISTORY:
            caller = users[who]
            callee = users["bob" if who == "alice" else "alice"]
            start = now - timedelta(hours=hours)
            answered = start + timedelta(seconds=6) if talked or status == "failed" else None
            ended = (answered or start) + timedelta(seconds=talked or 20)
            call = Call.objects.create(
                caller=caller, callee=callee, media=media, initial_media=media, state="ended", status=status,
                end_reason=reason, created_at=start, answered_at=answered, ended_at=ended,
                ring_deadline=start + timedelta(seconds=30),
                ended_by=None if reason in ("timeout", "busy") else caller,
            )
            HistoryEntry.objects.bulk_create([
                HistoryEntry(user=caller, call=call, other=callee, outgoing=True, missed=False,
                             created_at=start, media=media),
                HistoryEntry(user=callee, call=call, other=caller, outgoing=False,
                             missed=status in MISSED_STATUSES, created_at=start, media=media),
            ])
