"""Print a short-lived embed token for a user (what a host site's backend hands its page)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from calls import embed_tokens
from calls.models import User


class Command(BaseCommand):
    help = "Mint an embed token for USERNAME; it authenticates /embed/?token=… and its socket."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--ttl", type=int, default=settings.CALLKIT_EMBED_TOKEN_TTL,
                            help=f"seconds it works (default {settings.CALLKIT_EMBED_TOKEN_TTL}, "
                                 f"at most {settings.CALLKIT_EMBED_TOKEN_MAX_TTL})")
        parser.add_argument("--url", action="store_true", help="print the embed URL path, not the bare token")

    def handle(self, *args, username: str, ttl: int, url: bool, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        try:
            minted = embed_tokens.mint(user, ttl)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"/embed/?token={minted.token}" if url else minted.token)
