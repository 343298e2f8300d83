"""Domain errors: a code for machines and a sentence for people."""

from django.utils.translation import gettext_lazy as _


class CallError(Exception):
    """A refused request; the socket turns it into {"type": "error", "code", "message"}."""

    def __init__(self, code: str, message: str):
        # `message` may be lazy: the socket renders it in the connection's language.
        super().__init__(message)
        self.code = code
        self.message = message


def not_found() -> CallError:
    # The same answer for "no such call" and "not your call", so ids cannot be probed.
    return CallError("not_found", _("No such call."))


def invalid_state(message) -> CallError:
    return CallError("invalid_state", message)
