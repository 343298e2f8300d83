"""Database queries and Redis commands per call, counted on the real consumer: two signed-in
sockets (WebsocketCommunicator on the ASGI application) run one whole call, phase by phase, and
every SQL statement (Django's cursor) and every Redis command on the layer's database (MONITOR)
is counted. Also one clock tick (heartbeat + sweep), which each process runs every 5 s.

Run: .venv/bin/python bench/ops_per_call.py                        (PostgreSQL + Redis db 7)
     .venv/bin/python bench/ops_per_call.py --db sqlite --layer memory"""

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/helper_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--layer", choices=["memory", "redis"], default="redis")
    parser.add_argument("--candidates", type=int, default=4)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ.update(DJANGO_SETTINGS_MODULE="callkit_web.settings", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="bench-only",
                      DJANGO_SECURE_COOKIES="0", CALLKIT_SWEEP_INTERVAL="300", CALLKIT_INVITES_PER_MINUTE="10000",
                      DATABASE_URL=PG_URL if args.db == "postgres" else f"sqlite:///{tmp}/ops.sqlite3")
    os.environ.pop("REDIS_URL", None)
    if args.layer == "redis":
        os.environ["REDIS_URL"] = REDIS
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    asyncio.run(count(args))


async def count(args) -> None:
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

    from calls import services
    from calls.models import User
    from calls.tests.conftest import session_cookie
    from callkit_web.asgi import application

    sql: collections.Counter = collections.Counter()
    original_execute, original_commit = CursorWrapper._execute_with_wrappers, BaseDatabaseWrapper._commit

    def counted_execute(self, sql_text, params, many, executor):
        sql[sql_text.split(None, 1)[0].upper()] += 1
        return original_execute(self, sql_text, params, many, executor)

    def counted_commit(self):
        sql["COMMIT"] += 1
        return original_commit(self)

    CursorWrapper._execute_with_wrappers = counted_execute
    BaseDatabaseWrapper._commit = counted_commit

    monitor = None
    if args.layer == "redis":
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        db = REDIS.rsplit("/", 1)[1]
        log = open(Path(tempfile.mkdtemp()) / "monitor.log", "w+")
        monitor = subprocess.Popen(["redis-cli", "-u", REDIS.rsplit("/", 1)[0], "monitor"], stdout=log, text=True)
        marker = redis.Redis.from_url(REDIS)
        time.sleep(0.5)  # MONITOR has no ready signal; its first line is "OK"

    def mark(name: str) -> None:
        if monitor is not None:
            marker.echo(f"phase:{name}")

    phases: list[tuple[str, collections.Counter]] = []

    def phase_end(name: str) -> None:
        phases.append((name, collections.Counter(sql)))
        sql.clear()
        mark(name)

    alice, bob = await database_sync_to_async(lambda: (
        User.objects.create_user("ops_a", password="x"), User.objects.create_user("ops_b", password="x")))()
    cookies = [await database_sync_to_async(session_cookie)(u) for u in (alice, bob)]
    sql.clear()
    mark("start")

    async def open_(cookie: str) -> WebsocketCommunicator:
        comm = WebsocketCommunicator(application, "/ws/calls/?tab=opsbench01", headers=[
            (b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie.encode())])
        assert (await comm.connect(timeout=10))[0]
        assert (await comm.receive_json_from(timeout=10))["type"] == "hello"
        return comm

    async def until(comm: WebsocketCommunicator, kind: str) -> dict:
        while True:
            msg = await comm.receive_json_from(timeout=10)
            if msg["type"] == kind:
                return msg

    c = await open_(cookies[0])
    e = await open_(cookies[1])
    phase_end("connect 2 sockets (session, user, hello)")
    await c.send_json_to({"type": "call.invite", "to": bob.pk, "media": "video"})
    call_id = (await until(c, "ack"))["call_id"]
    await until(c, "call.ringing")
    await until(e, "call.incoming")
    phase_end("call.invite -> ringing/incoming")
    await e.send_json_to({"type": "call.accept", "call_id": call_id})
    await until(e, "ack")
    await until(e, "call.accepted")
    await until(c, "call.accepted")
    phase_end("call.accept -> accepted")
    cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await e.send_json_to({"type": "rtc.offer", "call_id": call_id, "sdp": "v=0\r\n"})
    await until(c, "rtc.offer")
    await c.send_json_to({"type": "rtc.answer", "call_id": call_id, "sdp": "v=0\r\n"})
    await until(e, "rtc.answer")
    for sender, receiver in ((c, e), (e, c)):
        for _ in range(args.candidates):
            await sender.send_json_to({"type": "rtc.candidate", "call_id": call_id, "candidate": cand})
        await sender.send_json_to({"type": "rtc.candidate", "call_id": call_id, "candidate": None})
        for _ in range(args.candidates + 1):
            await until(receiver, "rtc.candidate")
    relayed = 2 + 2 * (args.candidates + 1)
    phase_end(f"relay: offer, answer, {2 * (args.candidates + 1)} candidates ({relayed} messages)")
    await c.send_json_to({"type": "call.hangup", "call_id": call_id})
    await until(c, "call.ended")
    await until(e, "call.ended")
    phase_end("call.hangup -> ended")
    await c.disconnect()
    await e.disconnect()
    phase_end("disconnect 2 sockets")
    await database_sync_to_async(services.calls_heartbeat)(channels=[f"specific.x!{i}" for i in range(1000)])
    await database_sync_to_async(services.calls_sweep)()
    phase_end("one clock tick per process (heartbeat of 1,000 sockets + sweep)")

    redis_ops: dict[str, collections.Counter] = {}
    if monitor is not None:
        time.sleep(0.5)
        monitor.terminate()
        monitor.wait()
        log.seek(0)
        current: collections.Counter = collections.Counter()
        for line in log:
            if f"[{db} " not in line:
                continue
            command = line.split("]", 1)[1].split()[0].strip('"').upper()
            if command == "ECHO":  # closes the phase it names: what came since the last one
                redis_ops[line.split('"phase:', 1)[1].rsplit('"', 1)[0]] = current
                current = collections.Counter()
            else:
                current[command] += 1
    print(f"database: {args.db}; channel layer: {args.layer}")
    print(f"{'phase':<66}{'SQL statements':<62} | Redis commands")
    call_sql: collections.Counter = collections.Counter()
    call_redis: collections.Counter = collections.Counter()
    for name, counts in phases:
        if name.startswith("call.") or name.startswith("relay"):
            call_sql.update(counts)
            call_redis.update(redis_ops.get(name, {}))
        print(f"{name:<66}{fmt(counts):<62} | {fmt(redis_ops.get(name, collections.Counter()))}")
    print(f"{'one call (invite to ended, sockets already open)':<66}{fmt(call_sql):<62} | {fmt(call_redis)}")


def fmt(counts: collections.Counter) -> str:
    return f"{sum(counts.values())}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()) if counts else "0"


if __name__ == "__main__":
    main()
