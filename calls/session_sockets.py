"""Sign sockets out: logout closes that session's sockets, a new password or deactivation all of the user's.

Sent through the channel layer to the user's group, so a socket on any process hears it; sent
after commit, so a rolled-back change closes nothing.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save

from .groups import user_group
from .models import User

log = logging.getLogger(__name__)

# What the sockets were signed in with: a change to either revokes every session and embed token.
_WATCHED = ("password", "is_active")


def sign_out(user_id: int, session_key: str | None = None) -> None:
    """After commit, close the sockets of `user_id` signed in with `session_key` (None: every one)."""
    message = {"type": "session.end", "session": session_key}

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), message)

    transaction.on_commit(send, robust=True)


def _auth_state(user: User) -> tuple:
    # From __dict__: a deferred field (a User loaded with .only()) is not fetched just for this.
    return tuple(user.__dict__.get(name) for name in _WATCHED)


def _remember(sender, instance: User, **kwargs) -> None:
    instance._callkit_auth_state = _auth_state(instance)


def _on_save(sender, instance: User, created: bool, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not set(_WATCHED) & set(update_fields):
        return  # e.g. the history view's save(update_fields=["history_seen_at"]) on every visit
    before, now = getattr(instance, "_callkit_auth_state", None), _auth_state(instance)
    instance._callkit_auth_state = now
    if not created and before is not None and before != now:
        sign_out(instance.pk)


def _on_delete(sender, instance: User, **kwargs) -> None:
    sign_out(instance.pk)


def _on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if user is not None and session_key:
        # Django flushes the session only after this signal, and outside a transaction the message
        # goes at once: a tab told "signed out" reloaded, still signed in, before the flush. So the
        # session goes first (logout's own flush then finds nothing left to delete).
        session.delete()
        sign_out(user.pk, session_key)


def connect() -> None:
    """Hook the signals up (from CallsConfig.ready)."""
    post_init.connect(_remember, sender=User, dispatch_uid="callkit-remember-auth-state")
    post_save.connect(_on_save, sender=User, dispatch_uid="callkit-sign-out-on-change")
    post_delete.connect(_on_delete, sender=User, dispatch_uid="callkit-sign-out-on-delete")
    user_logged_out.connect(_on_logout, dispatch_uid="callkit-sign-out-on-logout")
