"""One login throttle for every way in: an authentication backend in front of ModelBackend.

Three limits, counted in calls/security_state.py (never evicted) on the NFKC-normalised,
case-folded username:
- per (username, address): the guesser at one address; the owner elsewhere is not locked out;
- per address across usernames: spraying one password over many names;
- per username across addresses, slower: a guesser with many addresses.
A throttled attempt never reaches the password check.
"""

import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from . import security_state
from .client_address import client_key

# Set on the request by the backend, read by the forms: authenticate() itself only says None.
THROTTLED_ATTR = "callkit_login_throttled"
THROTTLED_MESSAGE = _("Too many failed attempts. Please wait a few minutes and try again.")


def normalise(username: str) -> str:
    """The form every spelling of one username shares (ａｌｉｃｅ, ALICE and alice are one)."""
    return unicodedata.normalize("NFKC", username or "").casefold().strip()[:150]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _limits(username: str, address: str) -> list[tuple[str, int, int]]:
    """(key, limit, window) for each of the three counters this attempt falls under."""
    user, addr = _digest(normalise(username)), _digest(address)
    return [
        (f"login:pair:{user}:{addr}", settings.LOGIN_THROTTLE_LIMIT, settings.LOGIN_THROTTLE_WINDOW),
        (f"login:addr:{addr}", settings.LOGIN_THROTTLE_ADDRESS_LIMIT, settings.LOGIN_THROTTLE_WINDOW),
        (f"login:user:{user}", settings.LOGIN_THROTTLE_USER_LIMIT, settings.LOGIN_THROTTLE_USER_WINDOW),
    ]


def _address(request) -> str:
    return client_key(request.META.get("REMOTE_ADDR", "")) if request is not None else ""


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses, without checking the password, an attempt over any limit."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        (pair, pair_limit, pair_window), *wider = _limits(username, _address(request))
        # The wider limits first: a throttled address creates no counter per new username. Then
        # the pair's attempt is counted before the password is checked, in one atomic step: N
        # attempts sent at once cannot all see "under the limit". (The wider counters count
        # failures only, so that an office's successful logins never add up against its address.)
        over = any(security_state.count(key) >= limit for key, limit, _window in wider)
        if over or security_state.hit(pair, window=pair_window) > pair_limit:
            if request is not None:
                setattr(request, THROTTLED_ATTR, True)
            raise PermissionDenied("login throttled")  # stops authenticate() trying other backends
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            for key, _limit, window in wider:
                security_state.hit(key, window=window)
        else:
            security_state.forget(pair)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class ThrottleAwareFormMixin:
    """Says "too many attempts" (code `throttled`) instead of "wrong password" when throttled."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, THROTTLED_ATTR, False):
                raise ValidationError(THROTTLED_MESSAGE, code="throttled") from None
            raise


class ThrottleAwareAuthenticationForm(ThrottleAwareFormMixin, AuthenticationForm):
    """The login page's form."""
