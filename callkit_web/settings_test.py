"""Settings for the test suite: the real settings with test-friendly defaults."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("CALLKIT_RING_TIMEOUT", "30")
# Tests place many calls a minute; the limit itself has its own test.
os.environ.setdefault("CALLKIT_INVITES_PER_MINUTE", "10000")
os.environ.setdefault("CALLKIT_INCOMING_PER_MINUTE", "10000")
os.environ.setdefault("CALLKIT_DECLINE_COOLDOWN", "0")
# The test servers speak plain HTTP on 127.0.0.1.
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
