"""Every message a client may send, declared once (docs/protocol.md is the prose of this file)."""

from typing import Annotated, Literal
from uuid import UUID

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import from_json

from .errors import CallError

MAX_FRAME_BYTES = 65_536  # a whole text frame, as UTF-8
MAX_SDP_CHARS = 60_000  # an SDP offer or answer (a video call's is about 5 KiB)
MAX_CANDIDATE_CHARS = 1_024
# What an error may quote of the frame it refuses: a field name is cut to this many characters, so
# a reply stays small whatever the frame held (a 60 KB field name once came back 60 KB long).
MAX_ECHO_CHARS = 40


def _no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text; refused here, it is a coded error instead of a crash.
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def Text(**limits) -> type[str]:  # noqa: N802 (a type)
    """A string field with these length limits and no NUL character."""
    return Annotated[str, Field(**limits), AfterValidator(_no_nul)]


Ref = Text(min_length=1, max_length=64)
# A connection's public name in rtc messages (calls/preconnect.py): which ringing device, or the holder.
Link = Annotated[str, Field(pattern=r"^[0-9a-f]{18}$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ref: Ref | None = None  # echoed in the answer (ack or error), to match it to the request


class _CallMessage(_Message):
    call_id: UUID


class Invite(_Message):
    type: Literal["call.invite"]
    to: Annotated[int, Field(gt=0)] | None = None  # the callee's user id, or:
    to_username: Text(min_length=1, max_length=150) | None = None
    media: Literal["audio", "video"]
    timeout: Annotated[int, Field(ge=5, le=120)] | None = None

    @model_validator(mode="after")
    def _one_callee(self) -> "Invite":
        if (self.to is None) == (self.to_username is None):
            raise ValueError("give exactly one of 'to' and 'to_username'")
        return self


class Accept(_CallMessage):
    type: Literal["call.accept"]


class Reject(_CallMessage):
    type: Literal["call.reject"]


class Cancel(_CallMessage):
    type: Literal["call.cancel"]


class Hangup(_CallMessage):
    type: Literal["call.hangup"]
    reason: Literal["hangup", "failed"] = "hangup"


class MediaState(_CallMessage):
    type: Literal["call.media"]
    mic: bool | None = None
    camera: bool | None = None


class Switch(_CallMessage):
    type: Literal["call.switch"]
    media: Literal["audio", "video"]


class SwitchAnswer(_CallMessage):
    type: Literal["call.switch_answer"]
    accept: bool


class Resume(_CallMessage):
    type: Literal["call.resume"]
    fresh: bool = False  # this tab restarts media from scratch (after a reload)


class _RtcMessage(_CallMessage):
    link: Link | None = None  # the other side's connection it is for (a caller answering a ringing device)


class Offer(_RtcMessage):
    type: Literal["rtc.offer"]
    sdp: Text(min_length=1, max_length=MAX_SDP_CHARS)


class Answer(_RtcMessage):
    type: Literal["rtc.answer"]
    sdp: Text(min_length=1, max_length=MAX_SDP_CHARS)


class IceCandidate(BaseModel):
    """RTCIceCandidateInit, as the browser serialises it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    candidate: Text(max_length=MAX_CANDIDATE_CHARS)
    sdpMid: Text(max_length=64) | None = None  # noqa: N815 (browser's name)
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1024)] | None = None  # noqa: N815
    usernameFragment: Text(max_length=256) | None = None  # noqa: N815


class Candidate(_RtcMessage):
    type: Literal["rtc.candidate"]
    candidate: IceCandidate | None  # null: end of candidates


class Ping(_Message):
    type: Literal["ping"]


class Sync(_Message):
    type: Literal["sync"]
    call_id: UUID | None = None  # this call (live or ended) instead of the live one


class IceRefresh(_Message):
    type: Literal["ice.refresh"]


class TokenRefresh(_Message):
    type: Literal["token.refresh"]


ClientMessage = Annotated[
    Invite | Accept | Reject | Cancel | Hangup | MediaState | Switch | SwitchAnswer | Resume
    | Offer | Answer | Candidate | Ping | Sync | IceRefresh | TokenRefresh,
    Field(discriminator="type"),
]
RELAYED = ("rtc.offer", "rtc.answer", "rtc.candidate")
CLIENT_TYPES = tuple(
    m.model_fields["type"].annotation.__args__[0]
    for m in (Invite, Accept, Reject, Cancel, Hangup, MediaState, Switch, SwitchAnswer, Resume,
              Offer, Answer, Candidate, Ping, Sync, IceRefresh, TokenRefresh)
)

_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse(text: str) -> ClientMessage:
    """Validate one text frame, or raise CallError with the protocol's error code."""
    if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
        raise CallError("too_large", format_lazy(_("Messages are limited to {limit} bytes."), limit=MAX_FRAME_BYTES))
    try:
        return _adapter.validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        kind = first["type"]
        if kind == "json_invalid":
            raise CallError("bad_json", _("The message is not valid JSON.")) from None
        if kind == "union_tag_invalid":
            raise CallError("unknown_type", _("Unknown message type.")) from None
        if kind in {"model_attributes_type", "model_type", "union_tag_not_found"}:
            raise CallError("bad_message", _("A message is a JSON object with a 'type'.")) from None
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        if len(where) > MAX_ECHO_CHARS:
            where = where[: MAX_ECHO_CHARS - 1] + "…"
        raise CallError("bad_message", format_lazy(_("Invalid {field}: {detail}"), field=where,
                                                   detail=first["msg"][:200])) from None


def ref_of(text: str) -> str | None:
    """Best-effort `ref` of a frame that failed validation, so its error can be matched."""
    if len(text) > MAX_FRAME_BYTES:
        return None
    try:
        # pydantic's parser, like the validation above, refuses deep nesting with ValueError;
        # json.loads would raise RecursionError and close the socket.
        ref = from_json(text).get("ref")
    except (ValueError, AttributeError):
        return None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 64 and "\x00" not in ref else None
