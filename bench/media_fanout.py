"""Fan-out cost of call.media: one user with many tabs, the other side toggling the microphone at
the allowed rate, through a real daphne (SQLite, in-memory layer). Prints the server's CPU
seconds, how many call.media pushes reached the tabs, and the last state each holder saw.

Run: .venv/bin/python bench/media_fanout.py [--tabs 200] [--messages 1000]"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calls.tests.e2e.conftest import free_port, terminate, wait_for_port  # noqa: E402
SETUP = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from calls.models import User
out = {}
for name in ("alice", "bob", "carol", "dave"):
    user = User.objects.create_user(username=name, password="pw")
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    out[name] = [user.pk, store.session_key]
print("USERS=" + json.dumps(out))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(port: int, users: dict, tabs: int, messages: int, pid: int) -> None:
    url, origin = f"ws://127.0.0.1:{port}/ws/calls/", f"http://127.0.0.1:{port}"

    async def connect(name):
        ws = await websockets.connect(url, origin=origin, max_size=None,
                                      additional_headers={"Cookie": f"sessionid={users[name][1]}"})
        assert json.loads(await ws.recv())["type"] == "hello"
        return ws

    a = await connect("alice")
    bobs = [await connect("bob") for _ in range(tabs)]
    received = [0] * tabs
    last: list = [None] * tabs

    async def drain(i, ws):
        async for text in ws:
            message = json.loads(text)
            if message["type"] == "call.media":
                received[i] += 1
                last[i] = message["call"]["media_state"]["caller"]["mic"]

    await a.send(json.dumps({"type": "call.invite", "to": users["bob"][0], "media": "audio", "ref": "i"}))
    call_id = json.loads(await a.recv())["call_id"]
    first = bobs[0]
    while json.loads(await first.recv())["type"] != "call.incoming":
        pass
    await first.send(json.dumps({"type": "call.accept", "call_id": call_id, "ref": "a"}))
    readers = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(bobs)]
    carol, dave = await connect("carol"), await connect("dave")
    setups: list[float] = []

    async def expect(ws, kind):
        while (message := json.loads(await ws.recv()))["type"] != kind:
            pass
        return message

    async def other_calls():
        """Another pair's call setup meanwhile: invite -> ringing -> accept -> accepted, in ms."""
        while True:
            t0 = time.monotonic()
            await carol.send(json.dumps({"type": "call.invite", "to": users["dave"][0], "media": "audio"}))
            other = (await expect(dave, "call.incoming"))["call"]["id"]
            await dave.send(json.dumps({"type": "call.accept", "call_id": other}))
            await expect(carol, "call.accepted")
            setups.append((time.monotonic() - t0) * 1000)
            await carol.send(json.dumps({"type": "call.hangup", "call_id": other}))
            await expect(carol, "call.ended"), await expect(dave, "call.ended")
            await asyncio.sleep(0.5)

    prober = asyncio.create_task(other_calls())
    acks = 0
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    for n in range(messages):
        # The allowed rate: a burst of 200, then 50 a second (the socket's token bucket).
        if n >= 190:
            await asyncio.sleep(max(0.0, start + (n - 190) / 49 - time.monotonic()))
        await a.send(json.dumps({"type": "call.media", "call_id": call_id, "mic": n % 2 == 0, "ref": f"m{n}"}))
    while acks < messages:  # every request answered (ack, or an error)
        message = json.loads(await a.recv())
        acks += message.get("ref", "").startswith("m")
    final = (messages - 1) % 2 == 0
    deadline = time.monotonic() + 10
    while last[0] != final and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed, cpu = time.monotonic() - start, cpu_seconds(pid) - start_cpu
    print(f"{messages} call.media at the allowed rate to {tabs} tabs: {elapsed:.1f} s, server CPU {cpu:.2f} s, "
          f"pushes received {sum(received)} (holder {received[0]}), holder's last state right: {last[0] == final}; "
          f"another pair's call setup meanwhile: median {statistics.median(setups):.0f} ms, max {max(setups):.0f} ms "
          f"({len(setups)} calls)")
    prober.cancel()
    for task in readers:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "callkit_web.settings", "DJANGO_DEBUG": "0",
               "DJANGO_SECRET_KEY": "bench", "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_COOKIES": "0",
               "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "CALLKIT_MAX_SOCKETS_PER_USER": "1000",
               "CALLKIT_MAX_SOCKETS_PER_ADDRESS": "1000"}
        env.pop("REDIS_URL", None)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", "import json\n" + SETUP],
                             cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
        users = json.loads(out.split("USERS=", 1)[1])
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                 "callkit_web.asgi:application"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc)
            asyncio.run(run(port, users, args.tabs, args.messages, proc.pid))
        finally:
            terminate(proc)


if __name__ == "__main__":
    main()
