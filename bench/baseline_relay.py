"""The floor for bench/relay.py: a minimal call relay on the `websockets` library, no database,
no channel layer, no validation beyond JSON; same URL, cookie, origin check and message shapes.

Run: .venv/bin/python bench/baseline_relay.py --port 8765 --users users.json
(users.json: {"<session cookie value>": {"id": 1, "username": "u1", "name": "U 1"}, ...})"""

import argparse
import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.cookies import SimpleCookie

from websockets.asyncio.server import serve

CONFIG = {"ring_timeout": 30.0, "grace": 15.0, "ice_servers": [], "ice_transport_policy": "all",
          "connect_timeout": 20.0, "max_frame_bytes": 65536}
ENDS = {"call.hangup": ("completed", "hangup"), "call.cancel": ("canceled", "canceled"),
        "call.reject": ("rejected", "rejected")}


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Relay:
    """Every connection, call and line of one process, in dicts."""

    def __init__(self, users: dict[str, dict]):
        self.users = users  # session key -> person
        self.people = {p["id"]: p for p in users.values()}
        self.tabs: dict[int, set] = {}  # user id -> open connections
        self.calls: dict[str, dict] = {}  # call id -> {"call": snapshot, "holders": {role: conn}}
        self.lines: dict[int, str] = {}  # user id -> live call id

    def person_of(self, request) -> dict | None:
        cookie = SimpleCookie(request.headers.get("Cookie", ""))
        morsel = cookie.get("sessionid")
        return self.users.get(morsel.value) if morsel else None

    async def process_request(self, connection, request):
        if self.person_of(request) is None:
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        return None

    async def handler(self, ws) -> None:
        me = self.person_of(ws.request)
        ws.user, ws.held = me, {}
        self.tabs.setdefault(me["id"], set()).add(ws)
        try:
            await ws.send(json.dumps({"type": "hello", "user": me, "server_time": now(),
                                      "config": CONFIG, "call": None}))
            async for text in ws:
                reply = await self.on_message(ws, text)
                if reply is not None:
                    await ws.send(json.dumps(reply))
        finally:
            self.tabs[me["id"]].discard(ws)

    async def on_message(self, ws, text: str) -> dict | None:
        try:
            msg = json.loads(text)
            kind = msg["type"]
        except (ValueError, KeyError, TypeError):
            return {"type": "error", "code": "bad_message", "message": "Not a message."}
        ref = msg.pop("ref", None)
        if kind.startswith("rtc."):
            peer = ws.held.get(msg.get("call_id"))
            if peer is None:
                return {"type": "error", "code": "not_in_call", "message": "Not your call.", "ref": ref}
            await peer.send(json.dumps(msg))
            return None
        if kind == "ping":
            return {"type": "pong", "ref": ref}
        if kind == "call.invite":
            reply = await self.invite(ws, msg)
        elif kind == "call.accept":
            reply = await self.accept(ws, msg)
        elif kind in ENDS:
            reply = await self.end(ws, msg, kind)
        else:
            reply = {"type": "error", "code": "unknown_type", "message": "Unknown message type."}
        if ref is not None:
            reply["ref"] = ref
        return reply

    async def invite(self, ws, msg: dict) -> dict:
        me, callee = ws.user, self.people.get(msg.get("to"))
        if callee is None:
            return {"type": "error", "code": "unknown_user", "message": "No such user."}
        if me["id"] in self.lines or callee["id"] in self.lines:
            return {"type": "error", "code": "already_in_call", "message": "Busy."}
        t = datetime.now(timezone.utc)
        call_id = str(uuid.uuid4())
        call = {"id": call_id, "caller": me, "callee": callee, "media": msg["media"],
                "initial_media": msg["media"], "state": "ringing", "status": None, "end_reason": None,
                "ended_by": None, "created_at": t.isoformat(), "answered_at": None, "ended_at": None,
                "ring_deadline": (t + timedelta(seconds=30)).isoformat(), "duration": 0,
                "media_state": {"caller": {"mic": True, "camera": True},
                                "callee": {"mic": True, "camera": True}},
                "switch": None, "away": []}
        self.calls[call_id] = {"call": call, "holders": {"caller": ws, "callee": None}}
        self.lines[me["id"]] = self.lines[callee["id"]] = call_id
        ws.held[call_id] = None
        await self.announce(call_id, "call.ringing")
        return {"type": "ack", "call_id": call_id}

    async def accept(self, ws, msg: dict) -> dict:
        entry = self.calls.get(msg.get("call_id"))
        if entry is None or entry["call"]["callee"]["id"] != ws.user["id"]:
            return {"type": "error", "code": "not_found", "message": "No such call."}
        call = entry["call"]
        if call["state"] != "ringing":
            return {"type": "error", "code": "invalid_state", "message": "Not ringing."}
        call["state"], call["answered_at"] = "active", now()
        caller_ws = entry["holders"]["caller"]
        entry["holders"]["callee"] = ws
        ws.held[call["id"]] = caller_ws
        caller_ws.held[call["id"]] = ws
        await self.announce(call["id"], "call.accepted")
        return {"type": "ack", "call_id": call["id"]}

    async def end(self, ws, msg: dict, kind: str) -> dict:
        entry = self.calls.get(msg.get("call_id"))
        if entry is None or ws.user["id"] not in (entry["call"]["caller"]["id"], entry["call"]["callee"]["id"]):
            return {"type": "error", "code": "not_found", "message": "No such call."}
        call = entry["call"]
        call["state"], call["ended_at"], call["ended_by"] = "ended", now(), ws.user["id"]
        call["status"], call["end_reason"] = ENDS[kind]
        for role in ("caller", "callee"):
            self.lines.pop(call[role]["id"], None)
            holder = entry["holders"][role]
            if holder is not None:
                holder.held.pop(call["id"], None)
        await self.announce(call["id"], "call.ended")
        del self.calls[call["id"]]
        return {"type": "ack", "call_id": call["id"]}

    async def announce(self, call_id: str, event: str) -> None:
        """Tell every tab of both parties, each with its role and whether it holds the side."""
        entry = self.calls[call_id]
        call = entry["call"]
        for role in ("caller", "callee"):
            holder = entry["holders"][role]
            for tab in list(self.tabs.get(call[role]["id"], ())):
                mine = tab is holder
                out = event
                if event == "call.ringing" and role == "callee":
                    out = "call.incoming"
                elif event == "call.accepted" and role == "callee" and not mine:
                    out = "call.answered_elsewhere"
                await tab.send(json.dumps({"type": out, "call": call, "role": role, "this_device": mine,
                                           "this_tab": False}))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", required=True)
    args = parser.parse_args()
    with open(args.users) as f:
        relay = Relay(json.load(f))
    origins = ["http://localhost", f"http://127.0.0.1:{args.port}"]  # the whole origin, as CallKit checks it
    async with serve(relay.handler, "127.0.0.1", args.port, origins=origins, compression=None,
                     process_request=relay.process_request, max_size=65536) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
