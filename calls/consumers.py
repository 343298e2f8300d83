"""The one WebSocket endpoint, /ws/calls/: parse, check, call a service, send. No domain rules."""

import logging
import re
import time
from urllib.parse import parse_qs
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from . import clock, embed_tokens, errors, preconnect, protocol, selectors, services, shutdown, turn
from .errors import CallError
from .events import call_service
from .groups import user_group
from .i18n import language_of
from .media_push import MediaPushes
from .snapshots import call_snapshot, person
from .socket_limits import address_of, name_lookup_allowed, open_sockets
from .timekeeper import timekeeper
from .ws_auth import PROTOCOL

log = logging.getLogger(__name__)

# Per connection: a burst of 200 messages, then 50 a second (a video call's ICE gathering
# sends a few dozen candidates at once; nothing legitimate sends more).
RATE_BURST = 200
RATE_PER_SECOND = 50.0

# A socket over its user's or address's cap is told so and closed with this code (docs/protocol.md).
CLOSE_TOO_MANY_CONNECTIONS = 4429


class TokenBucket:
    """Allows `burst` at once, refilled at `rate` per second."""

    def __init__(self, burst: int, rate: float):
        self.capacity, self.rate = float(burst), rate
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_STATE_RANK = {"ringing": 1, "active": 2, "ended": 3}
_TAB_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _tab_id(scope: dict) -> str:
    """The browser tab's own id from `?tab=` (kept across its reconnects), or '' if absent."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("tab", [])
    return values[0] if values and _TAB_ID.match(values[0]) else ""


def _role_in(call: dict[str, Any], user_id: int) -> str:
    return "caller" if call["caller"]["id"] == user_id else "callee"


class CallConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab's signaling connection."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # A client that offers the protocol name (an embed, showing its token beside it) gets it
        # back, also when accepted only to be told why it closes (else its browser fails the handshake).
        offered = self.scope.get("subprotocols") or []
        subprotocol = PROTOCOL if PROTOCOL in offered else None
        if shutdown.stopping():  # this process is going away: come back to another one
            await self.accept(subprotocol=subprotocol)
            await self.close(code=shutdown.CLOSE_CODE)
            return
        self.user = user
        # A logout closes the sockets of that session only (an embed's socket has none).
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.language = language_of(self.scope)
        self.tab = _tab_id(self.scope)
        # call id -> the peer's channel (None until the other side has answered)
        self.held: dict[str, str | None] = {}
        # call id -> the furthest state seen: a late event (from another process, out of order)
        # must not move a call backwards here, e.g. make an ended call live again.
        self.rank: dict[str, int] = {}
        # Connect while it rings (calls/preconnect.py). As a callee's ringing device: call id ->
        # the caller's channel. As a caller: the ringing devices that offered, by their links.
        self.ringing: dict[str, str | None] = {}
        self.links = preconnect.Links()
        self.bucket = TokenBucket(RATE_BURST, RATE_PER_SECOND)
        self.media_pushes = MediaPushes(self.channel_layer, user.pk)
        self.address = address_of(self.scope)
        if not await open_sockets.admit(self.channel_name, user.pk, self.address):
            # Accepted only to say why: the SDK backs off on this code; the older sockets live on.
            await self.accept(subprotocol=subprotocol)
            await self._error(CallError("too_many_connections", _("Too many open connections; close some tabs.")))
            await self.close(code=CLOSE_TOO_MANY_CONNECTIONS)
            return
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept(subprotocol=subprotocol)
        shutdown.opened(self)
        timekeeper().channels.add(self.channel_name)
        await self.send_json(await self._state_message("hello"))

    async def __call__(self, scope, receive, send):
        # If the channel layer fails (Redis restarting), Channels ends the consumer without
        # calling disconnect(); the calls this connection held must still start their grace.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch first hops to the one database thread (aclose_old_connections) for
        # every frame and event; that put each relayed offer/candidate in the queue behind every
        # call's writes. Every query here runs in database_sync_to_async, which closes stale
        # connections itself, so the hop buys nothing.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def going_away(self) -> None:
        """This process is shutting down: close for a restart, and start the grace of our calls."""
        try:
            await self.close(code=shutdown.CLOSE_CODE)
        finally:
            await self._release()

    async def _release(self) -> None:
        """Let go of this connection's calls and heartbeat; safe to call twice."""
        if not hasattr(self, "user") or getattr(self, "_released", False):
            return
        self._released = True
        self.media_pushes.cancel()
        try:
            await self._let_go()
        finally:
            shutdown.closed(self)

    async def _let_go(self) -> None:
        timekeeper().channels.discard(self.channel_name)
        try:
            await open_sockets.release(self.channel_name)
        except Exception:  # Redis is down; the places expire on their own
            log.warning("releasing the socket caps failed for %s", self.channel_name, exc_info=True)
        try:
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        except Exception:  # the layer is down; its group entries expire on their own
            log.warning("group_discard failed for %s", self.channel_name, exc_info=True)
        for call_id in list(self.held):
            call = await call_service(services.call_party_away)(
                call_id=call_id, user_id=self.user.pk, channel=self.channel_name
            )
            if call is not None:
                deadline = call.caller_gone_deadline or call.callee_gone_deadline
                if deadline:
                    timekeeper().wake_at(deadline)
        self.held.clear()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._error(CallError("bad_message", _("Only text frames are accepted.")))
            return
        if not self.bucket.take():
            await self._error(CallError("rate_limited", _("Too many messages; slow down.")))
            return
        try:
            message = protocol.parse(text_data)
        except CallError as exc:
            await self._error(exc, ref=protocol.ref_of(text_data))
            return
        handler = getattr(self, "on_" + message.type.replace(".", "_"))
        try:
            reply = await handler(message)
        except CallError as exc:
            await self._error(exc, ref=message.ref, call_id=getattr(message, "call_id", None))
            return
        if reply is not None:
            if message.ref is not None:
                reply["ref"] = message.ref
            await self.send_json(reply)

    async def _error(self, exc: CallError, ref: str | None = None, call_id: Any = None) -> None:
        with translation.override(self.language):
            message = str(exc.message)
        payload: dict[str, Any] = {"type": "error", "code": exc.code, "message": message}
        if ref is not None:
            payload["ref"] = ref
        if call_id is not None:
            payload["call_id"] = str(call_id)
        await self.send_json(payload)

    async def _state_message(self, kind: str, call_id: Any = None) -> dict[str, Any]:
        if call_id is None:
            call = await database_sync_to_async(selectors.live_call_for)(user_id=self.user.pk)
        else:
            call = await database_sync_to_async(selectors.call_of)(user_id=self.user.pk, call_id=call_id)
            if call is None:
                raise errors.not_found()
        message: dict[str, Any] = {
            "type": kind, "user": person(self.user), "call": None,
            "server_time": clock.now().isoformat(),
        }
        if kind == "hello":
            ice = turn.ice_config(self.user.pk)
            message["config"] = {
                "ring_timeout": settings.CALLKIT_RING_TIMEOUT,
                "grace": settings.CALLKIT_GRACE,
                "ice_servers": ice["ice_servers"],
                "ice_expires_at": ice["expires_at"],
                "ice_transport_policy": settings.CALLKIT_ICE_TRANSPORT_POLICY,
                "connect_timeout": settings.CALLKIT_CONNECT_TIMEOUT,
                "max_frame_bytes": protocol.MAX_FRAME_BYTES,
                "preconnect": preconnect.enabled(),
            }
            if self.scope.get("embed_token"):
                # A fresh token in every hello: the socket reconnects with it after a blip.
                try:
                    fresh = await database_sync_to_async(embed_tokens.renew)(self.scope["embed_token"])
                except embed_tokens.TokenRefused:
                    fresh = None  # the embed's session is over: this socket lives on, a new one will not
                if fresh is not None:
                    message["config"]["token"] = fresh.token
                    message["config"]["token_expires_at"] = fresh.expires_at
        if call is not None:
            snapshot = call_snapshot(call)
            role = _role_in(snapshot, self.user.pk)
            message["call"] = snapshot
            message["role"] = role
            message["this_device"] = getattr(call, f"{role}_channel") == self.channel_name
            message["this_tab"] = bool(self.tab) and getattr(call, f"{role}_tab") == self.tab
            if call.state == "ringing" and role == "callee" and preconnect.enabled():
                self.ringing[str(call.pk)] = call.caller_channel or None  # a tab opened while it rings
        return message

    # --- requests from the browser ------------------------------------------------------

    @staticmethod
    def _ack(call: Any) -> dict[str, Any]:
        return {"type": "ack", "call_id": str(call.pk)}

    async def on_call_invite(self, msg: protocol.Invite) -> dict[str, Any]:
        callee_id = msg.to
        if callee_id is None:  # by username: what a host site knows of its users
            # "No such user" comes before any bill counts against the invite limit: without a
            # limit of its own, counted per user and address across sockets, it would let
            # reconnecting sockets probe for usernames at speed.
            if not await database_sync_to_async(name_lookup_allowed)(self.user.pk, self.address):
                raise CallError("rate_limited", _("Too many calls in the last minute; wait a little."))
            callee_id = await database_sync_to_async(selectors.user_id_by_username)(msg.to_username)
            if callee_id is None:
                raise CallError("unknown_user", _("No such user."))
        call = await call_service(services.call_invite)(
            caller=self.user, callee_id=callee_id, media=msg.media, channel=self.channel_name,
            timeout=msg.timeout, tab=self.tab,
        )
        if call.state == "ringing":
            self.held[str(call.pk)] = None
            timekeeper().wake_at(call.ring_deadline)
        elif call.state == "active":  # glare: we answered their call instead
            self.held[str(call.pk)] = call.caller_channel or None
        return self._ack(call)

    async def on_call_accept(self, msg: protocol.Accept) -> dict[str, Any]:
        call = await call_service(services.call_accept)(
            call_id=msg.call_id, user=self.user, channel=self.channel_name, tab=self.tab
        )
        self.held[str(call.pk)] = call.caller_channel
        self.ringing.pop(str(call.pk), None)
        return self._ack(call)

    async def on_call_reject(self, msg: protocol.Reject) -> dict[str, Any]:
        return self._ack(await call_service(services.call_reject)(call_id=msg.call_id, user=self.user))

    async def on_call_cancel(self, msg: protocol.Cancel) -> dict[str, Any]:
        return self._ack(await call_service(services.call_cancel)(call_id=msg.call_id, user=self.user))

    async def on_call_hangup(self, msg: protocol.Hangup) -> dict[str, Any]:
        call = await call_service(services.call_hangup)(
            call_id=msg.call_id, user=self.user, failed=msg.reason == "failed"
        )
        return self._ack(call)

    async def on_call_media(self, msg: protocol.MediaState) -> dict[str, Any]:
        if msg.mic is None and msg.camera is None:
            raise CallError("bad_message", _("Say 'mic', 'camera' or both."))
        if str(msg.call_id) not in self.held:
            # Only the tab with the microphone and camera knows their state; twenty other tabs must
            # not each write and push it at 50 a second.
            raise CallError("not_in_call", _("This connection does not hold that call."))
        call = await call_service(services.call_set_media_state)(
            call_id=msg.call_id, user=self.user, mic=msg.mic, camera=msg.camera
        )
        self.media_pushes.changed(str(call.pk))
        return self._ack(call)

    async def on_call_switch(self, msg: protocol.Switch) -> dict[str, Any]:
        call = await call_service(services.call_switch_media)(
            call_id=msg.call_id, user=self.user, media=msg.media
        )
        return self._ack(call)

    async def on_call_switch_answer(self, msg: protocol.SwitchAnswer) -> dict[str, Any]:
        call = await call_service(services.call_answer_switch)(
            call_id=msg.call_id, user=self.user, accept=msg.accept
        )
        return self._ack(call)

    async def on_call_resume(self, msg: protocol.Resume) -> dict[str, Any]:
        call = await call_service(services.call_resume)(
            call_id=msg.call_id, user=self.user, channel=self.channel_name, fresh=msg.fresh, tab=self.tab
        )
        peer = call.callee_channel if call.role_of(self.user.pk) == "caller" else call.caller_channel
        self.held[str(call.pk)] = peer or None
        return self._ack(call)

    async def on_ping(self, msg: protocol.Ping) -> dict[str, Any]:
        return {"type": "pong"}

    async def on_sync(self, msg: protocol.Sync) -> dict[str, Any]:
        return await self._state_message("sync", msg.call_id)

    async def on_token_refresh(self, msg: protocol.TokenRefresh) -> dict[str, Any]:
        # An embed's socket keeps a working token to reconnect with. The user is looked up again:
        # a password change or deactivation ends the embed's session here, not at its next connect.
        if not self.scope.get("embed_token"):
            raise CallError("bad_message", _("This connection does not use an embed token."))
        try:
            fresh = await database_sync_to_async(embed_tokens.renew)(self.scope["embed_token"])
        except embed_tokens.TokenRefused:
            await self._error(CallError("token_refused", _("This call window's session is over.")), ref=msg.ref)
            await self.close(code=4401)
            return None
        return {"type": "token", "token": fresh.token, "expires_at": fresh.expires_at}

    async def on_ice_refresh(self, msg: protocol.IceRefresh) -> dict[str, Any]:
        # No database: a fresh TURN credential is one HMAC.
        return {"type": "ice.servers", **turn.ice_config(self.user.pk)}

    async def _relay(self, msg: protocol.Offer | protocol.Answer | protocol.Candidate) -> None:
        """Forward verbatim to the one connection on the other side; no database."""
        call_id = str(msg.call_id)
        prepare = False
        if call_id in self.held:
            peer = self.held[call_id]
            if peer is None and msg.link is not None:  # the caller, to one of the ringing devices
                peer = self.links.channel(call_id, msg.link)
                if peer is None:
                    raise CallError("not_in_call", _("No such device is ringing for that call."))
            elif peer is None:
                raise CallError("invalid_state", _("The other side has not answered yet."))
        elif self.ringing.get(call_id) is not None:  # a ringing device, preparing its connection
            peer, prepare = self.ringing[call_id], True
        else:
            raise CallError("not_in_call", _("This connection does not hold that call."))
        if msg.link is not None and msg.link != preconnect.link_of(peer):
            raise CallError("not_in_call", _("That device no longer takes part in the call."))
        payload = msg.model_dump(mode="json", exclude={"ref", "link"}, exclude_unset=True)
        event = {"type": "rtc.relay", "from": self.channel_name, "message": payload}
        if prepare:
            event["prepare"] = True
        try:
            await self.channel_layer.send(peer, event)
        except ChannelFull:  # the peer is not keeping up; it is its problem, not this socket's
            raise CallError("peer_unavailable", _("The other side is not receiving; try again.")) from None

    on_rtc_offer = on_rtc_answer = on_rtc_candidate = _relay

    # --- channel-layer events --------------------------------------------------------------

    async def rtc_relay(self, event: dict[str, Any]) -> None:
        message, sender = event["message"], event["from"]
        call_id = message["call_id"]
        if event.get("prepare"):
            # A ringing device of our callee: heard only by the connection placing the call.
            if call_id not in self.held or self.held[call_id] is not None:
                return
            link = self.links.learn(call_id, sender)
        elif self.held.get(call_id) == sender or self.ringing.get(call_id) == sender:
            # The connection holding the other side (or, ringing here, the caller's).
            link = preconnect.link_of(sender)
        else:
            return
        if link is not None:
            await self.send_json({**message, "link": link})

    async def session_end(self, event: dict[str, Any]) -> None:
        """Signed out (calls/session_sockets.py): this session's logout, or every socket of the user."""
        if event["session"] is None or event["session"] == self.session_key:
            await self._error(CallError("signed_out", _("You were signed out.")))
            await self.close(code=4401)

    async def call_event(self, event: dict[str, Any]) -> None:
        call, channels, kind = event["call"], event["channels"], event["event"]
        rank = _STATE_RANK[call["state"]]
        if rank < self.rank.get(call["id"], 0):
            return  # e.g. a "ringing" overtaken by "accepted" from another process
        self.rank[call["id"]] = rank
        role = _role_in(call, self.user.pk)
        other = "callee" if role == "caller" else "caller"
        mine = channels[role] == self.channel_name
        if call["state"] == "ended" or not mine:
            self.held.pop(call["id"], None)
        else:
            self.held[call["id"]] = channels[other] or None
        if call["state"] == "ringing" and role == "callee" and preconnect.enabled():
            self.ringing[call["id"]] = channels["caller"] or None
        else:
            self.ringing.pop(call["id"], None)
        if call["state"] != "ringing":
            self.links.forget(call["id"])
        out = kind
        if kind == "call.ringing" and role == "callee":
            out = "call.incoming"
        elif kind == "call.accepted" and role == "callee" and not mine:
            out = "call.answered_elsewhere"
        this_tab = bool(self.tab) and event["tabs"][role] == self.tab
        message = {"type": out, "call": call, "role": role, "this_device": mine, "this_tab": this_tab,
                   **event["extra"]}
        if kind == "call.accepted" and mine and channels[other]:
            message["link"] = preconnect.link_of(channels[other])  # which connection answered
        await self.send_json(message)
