"""Fill the database with realistic call history (bills and history entries) for load tests."""

import random
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from calls.models import MISSED_STATUSES, Call, HistoryEntry, User

# Outcome mix of a busy calling product: most calls connect, many are missed.
OUTCOMES = [("completed", "hangup", 0.55), ("canceled", "canceled", 0.12), ("rejected", "rejected", 0.08),
            ("timeout", "timeout", 0.15), ("busy", "busy", 0.05), ("failed", "failed", 0.05)]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--calls", type=int, default=1_000_000)
        parser.add_argument("--heavy-calls", type=int, default=10_000,
                            help="calls of the heavy user, 'heavy' (included in --calls)")
        parser.add_argument("--batch", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, users, calls, heavy_calls, batch, seed, **options):
        rng = random.Random(seed)
        password = make_password("callkit-demo")
        existing = set(User.objects.filter(username__startswith="user").values_list("username", flat=True))
        new_users = [
            User(username=f"user{i:05d}", display_name=f"User {i:05d}", password=password)
            for i in range(users) if f"user{i:05d}" not in existing
        ]
        User.objects.bulk_create(new_users, batch_size=batch)
        heavy, _ = User.objects.get_or_create(username="heavy", defaults={"display_name": "Heavy Caller", "password": password})
        ids = list(User.objects.filter(username__startswith="user").values_list("pk", flat=True))
        now = timezone.now()
        made = 0
        weights = [w for _, _, w in OUTCOMES]
        while made < calls:
            chunk = min(batch, calls - made)
            bills, entries = [], []
            for i in range(chunk):
                if made + i < heavy_calls:
                    other = rng.choice(ids)
                    caller, callee = (heavy.pk, other) if rng.random() < 0.5 else (other, heavy.pk)
                else:
                    caller, callee = rng.sample(ids, 2)
                status, reason, _ = rng.choices(OUTCOMES, weights)[0]
                created = now - timedelta(seconds=rng.uniform(60, 365 * 86400))
                media = "video" if rng.random() < 0.4 else "audio"
                answered = created + timedelta(seconds=rng.uniform(2, 20)) if status in ("completed", "failed") else None
                ended = (answered + timedelta(seconds=rng.expovariate(1 / 240))) if answered else created + timedelta(seconds=rng.uniform(1, 30))
                bill = Call(id=uuid.uuid4(), caller_id=caller, callee_id=callee, initial_media=media, media=media,
                            state="ended", status=status, end_reason=reason, created_at=created,
                            answered_at=answered, ended_at=ended, ring_deadline=created + timedelta(seconds=30),
                            ended_by_id=None if status in ("timeout", "busy") else caller)
                bills.append(bill)
                entries.append(HistoryEntry(user_id=caller, call_id=bill.id, other_id=callee, outgoing=True,
                                            missed=False, created_at=created, media=media))
                entries.append(HistoryEntry(user_id=callee, call_id=bill.id, other_id=caller, outgoing=False,
                                            missed=status in MISSED_STATUSES, created_at=created, media=media))
            with transaction.atomic():
                Call.objects.bulk_create(bills, batch_size=batch)
                HistoryEntry.objects.bulk_create(entries, batch_size=batch)
            made += chunk
            if made % 100_000 < batch:
                self.stdout.write(f"{made} calls")
        self.stdout.write(f"done: {made} calls among {len(ids)} users; the heavy user is 'heavy'")
