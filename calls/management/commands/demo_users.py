"""Create the demo users (alice, bob, carol; password "callkit-demo")."""

from django.core.management.base import BaseCommand

from calls.models import User

DEMO = [("alice", "Alice Liddell"), ("bob", "Bob Builder"), ("carol", "Carol Danvers")]
PASSWORD = "callkit-demo"


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        for username, display_name in DEMO:
            user, created = User.objects.get_or_create(
                username=username, defaults={"display_name": display_name}
            )
            if created:
                user.set_password(PASSWORD)
                user.save()
            self.stdout.write(f"{'created' if created else 'kept'} {username} (password {PASSWORD!r})")
