"""End every call whose ring deadline or grace period has passed (for cron, or after a crash)."""

from django.core.management.base import BaseCommand

from calls.services import calls_sweep


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        ended = calls_sweep()
        for call in ended:
            self.stdout.write(f"ended {call.pk}: {call.status} ({call.end_reason})")
        self.stdout.write(f"{len(ended)} call(s) ended")
