"""Signaling under load: many call pairs at once against real daphne processes, next to a minimal
relay on the `websockets` library (bench/baseline_relay.py) driven by the same clients in the same run.

Run:  .venv/bin/python bench/relay.py                      (500 pairs = 1,000 sockets, 1 process, SQLite,
                                                            in-memory channel layer)
      .venv/bin/python bench/relay.py --compare-processes  (1 process in-memory, 1 process on Redis,
                                                            2 processes on Redis; PostgreSQL for Redis runs)
Each pair runs whole calls: invite -> incoming -> accept + offer -> accepted -> answer -> candidates
both ways -> hangup -> ended on both sides. Prints call lifecycles per second with every pair going
flat out, then latencies (p50/p99) with all targets under the same paced load, and the memory per
idle authenticated socket (server RSS before and after opening them all, over their number).
The load generator runs in its own process(es); on a 2-core machine it shares the cores with the server."""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "http://127.0.0.1"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/helper_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
SETTINGS = os.environ.get("BENCH_SETTINGS", "callkit_web.settings")  # to try a variant of the settings
# A video call's SDP is a few KiB; the relay's cost grows with it, so send a realistic size.
SDP_BODY = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + "".join(
    f"a=rtpmap:{96 + i} VP8/90000\r\na=rtcp-fb:{96 + i} nack pli\r\na=fmtp:{96 + i} x-google-start-bitrate=800\r\n"
    for i in range(30)
)
CANDIDATE = ("candidate:842163049 1 udp 1677729535 127.0.0.1 {port} typ srflx raddr 0.0.0.0 rport 0 "
             "generation 0 ufrag EsAw network-cost 999 ts={ts}")


# --- the load generator (its own process) -------------------------------------------------


class Sock:
    """One client socket: a reader stamping each message's arrival, and waits on what arrived."""

    def __init__(self, ws, uid: int, stats: dict):
        self.ws, self.uid, self.stats = ws, uid, stats
        self.buf: list[dict] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                t = time.perf_counter()
                msg = json.loads(raw)
                msg["_t"] = t
                kind = msg["type"]
                if kind.startswith("rtc."):
                    text = msg.get("sdp") or (msg.get("candidate") or {}).get("candidate", "")
                    if "ts=" in text:  # the offer leaves right behind the accept, so it waits for its write
                        key = "offer" if kind == "rtc.offer" else "relay"
                        self.stats[key].append(t - float(text.rsplit("ts=", 1)[1]))
                self.buf.append(msg)
                changed, self.changed = self.changed, asyncio.Event()
                changed.set()
        except Exception:
            pass
        self.stats["closed"] += 1

    async def send(self, **msg) -> None:
        await self.ws.send(json.dumps(msg))

    async def wait(self, pred, timeout: float = 60.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                for i, msg in enumerate(self.buf):
                    if pred(msg):
                        return self.buf.pop(i)
                for msg in self.buf:
                    if msg["type"] == "error":
                        raise Failed(msg["code"])
                await self.changed.wait()


class Failed(Exception):
    """A lifecycle went wrong: the server refused something."""


async def lifecycle(c: Sock, e: Sock, stats: dict, candidates: int) -> None:
    """One whole call, caller `c` and callee `e`, as two browsers would drive it."""
    now = time.perf_counter
    t_inv = now()
    await c.send(type="call.invite", to=e.uid, media="video", ref="i")
    ack = await c.wait(lambda m: m.get("ref") == "i")
    call_id = ack["call_id"]
    mine = lambda kind: lambda m: m["type"] == kind and m.get("call", {}).get("id") == call_id  # noqa: E731
    incoming = await e.wait(mine("call.incoming"))
    stats["incoming"].append(incoming["_t"] - t_inv)
    t_acc = now()
    await e.send(type="call.accept", call_id=call_id, ref="a")
    await e.send(type="rtc.offer", call_id=call_id, sdp=f"{SDP_BODY}a=x-bench ts={now():.9f}\r\n")
    accepted = await c.wait(mine("call.accepted"))
    stats["accepted"].append(accepted["_t"] - t_acc)
    is_rtc = lambda kind: lambda m: m["type"] == kind and m.get("call_id") == call_id  # noqa: E731
    await c.wait(is_rtc("rtc.offer"))
    await c.send(type="rtc.answer", call_id=call_id, sdp=f"{SDP_BODY}a=x-bench ts={now():.9f}\r\n")
    for side in (c,):
        for k in range(candidates):
            await side.send(type="rtc.candidate", call_id=call_id, candidate={
                "candidate": CANDIDATE.format(port=50000 + k, ts=f"{now():.9f}"), "sdpMid": "0", "sdpMLineIndex": 0})
        await side.send(type="rtc.candidate", call_id=call_id, candidate=None)
    await e.wait(lambda m: m.get("ref") == "a")
    await e.wait(mine("call.accepted"))
    await e.wait(is_rtc("rtc.answer"))
    for k in range(candidates):
        await e.send(type="rtc.candidate", call_id=call_id, candidate={
            "candidate": CANDIDATE.format(port=51000 + k, ts=f"{now():.9f}"), "sdpMid": "0", "sdpMLineIndex": 0})
    await e.send(type="rtc.candidate", call_id=call_id, candidate=None)
    for side in (c, e):
        for _ in range(candidates + 1):
            await side.wait(is_rtc("rtc.candidate"))
    t_hang = now()
    await c.send(type="call.hangup", call_id=call_id, ref="h")
    for side in (c, e):
        ended = await side.wait(mine("call.ended"))
        stats["ended"].append(ended["_t"] - t_hang)
    await c.wait(lambda m: m.get("ref") == "h")
    c.buf.clear()  # the caller's own call.ringing
    e.buf.clear()


async def recover(c: Sock, e: Sock) -> None:
    """After a failed lifecycle: end whatever call is left, then start clean."""
    for side in (c, e):
        await side.send(type="sync", ref="s")
    for side in (c, e):
        try:
            sync = await side.wait(lambda m: m.get("ref") == "s" and m["type"] == "sync", timeout=30)
        except (Failed, TimeoutError):
            continue
        if sync.get("call"):
            kind = "call.hangup" if sync["call"]["state"] == "active" else (
                "call.cancel" if sync["role"] == "caller" else "call.reject")
            await side.send(type=kind, call_id=sync["call"]["id"])
    await asyncio.sleep(0.5)  # let the ends arrive, then forget them
    c.buf.clear()
    e.buf.clear()


async def run_pair(c: Sock, e: Sock, stats: dict, args: dict, t0: float, offset: float) -> None:
    """Closed loop (calls back to back) or paced (one call every `interval` seconds) until the end."""
    end = t0 + args["duration"]
    interval = args.get("interval")
    start = t0 + offset
    while True:
        if interval:
            delay = start - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        t = time.perf_counter()
        if t >= end:
            return
        try:
            await lifecycle(c, e, stats, args["candidates"])
            stats["done"].append((t - t0, time.perf_counter() - t0))
        except (Failed, TimeoutError) as exc:
            code = str(exc) or "timeout"
            stats["failed"][code] = stats["failed"].get(code, 0) + 1
            await recover(c, e)
        if interval:
            start += interval


def fresh_stats() -> dict:
    return {"relay": [], "offer": [], "incoming": [], "accepted": [], "ended": [], "done": [], "failed": {}, "closed": 0}


async def client_main() -> None:
    """Driven over stdin/stdout by the orchestrator: warm, connect, run loads, quit."""
    from websockets.asyncio.client import connect

    cfg = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    stats = fresh_stats()

    async def open_(user: dict) -> Sock:
        ws = await connect(f"ws://127.0.0.1:{user['port']}/ws/calls/?tab={user['tab']}", origin=f"{ORIGIN}:{user['port']}",
                           additional_headers={"Cookie": f"sessionid={user['key']}"}, compression=None,
                           ping_interval=None, open_timeout=120, max_size=2**20)
        sock = Sock(ws, user["id"], stats)
        hello = await sock.wait(lambda m: m["type"] == "hello", timeout=120)
        assert hello["user"]["id"] == user["id"], hello
        return sock

    def say(**msg) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    pairs: list[tuple[Sock, Sock]] = []
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "warm":
            c, e = await open_(cfg["users"][0]), await open_(cfg["users"][1])
            for _ in range(5):
                await lifecycle(c, e, fresh_stats(), cfg["candidates"])
            await c.ws.close()
            await e.ws.close()
            say(event="warmed")
        elif cmd["cmd"] == "connect":
            t = time.perf_counter()
            gate = asyncio.Semaphore(50)  # as many handshakes in flight as a busy site might see

            async def gated(user: dict) -> Sock:
                async with gate:
                    return await open_(user)

            socks = await asyncio.gather(*(gated(u) for u in cfg["users"]), return_exceptions=True)
            failed = [repr(s) for s in socks if isinstance(s, BaseException)]
            ok = [s for s in socks if not isinstance(s, BaseException)]
            pairs = [(ok[i], ok[i + 1]) for i in range(0, len(ok) - 1, 2)] if not failed else []
            say(event="connected", open=len(ok), failed=len(failed), errors=failed[:3],
                seconds=time.perf_counter() - t)
        elif cmd["cmd"] == "load":
            stats = fresh_stats()
            for c, e in pairs:
                c.stats = e.stats = stats
            t0 = time.perf_counter()
            interval = cmd.get("interval")
            rnd = random.Random(7)
            await asyncio.gather(*(run_pair(c, e, stats, {**cfg, **cmd}, t0,
                                            rnd.uniform(0, interval) if interval else 0.0)
                                   for c, e in pairs))
            say(event="result", stats=stats, open=sum(1 for c, e in pairs for s in (c, e)
                                                       if s.ws.state.name == "OPEN"))
        elif cmd["cmd"] == "quit":
            await asyncio.gather(*(s.ws.close() for c, e in pairs for s in (c, e)), return_exceptions=True)
            say(event="bye")
            return


# --- the orchestrator -----------------------------------------------------------------------


def seed_main() -> None:
    """In a Django process: a fresh database with N users, each with a session; print them."""
    n = int(sys.argv[2])
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from calls.models import User

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    password = make_password("bench")
    users = User.objects.bulk_create(
        User(username=f"bench{i}", display_name=f"Bench {i}", password=password) for i in range(n)
    )
    store, expiry = SessionStore(), timezone.now() + timezone.timedelta(days=1)
    sessions, out = [], {}
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                HASH_SESSION_KEY: user.get_session_auth_hash()}
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expiry))
        out[key] = {"id": user.pk, "username": user.username, "name": user.name}
    Session.objects.bulk_create(sessions)
    print(json.dumps(out))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not listen")


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


def settled_rss(pids: list[int]) -> int:
    """RSS once it stops moving (allocations after the last handshake have landed), at most 10 s."""
    last, deadline = rss_kib(pids), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_kib(pids)
        if now == last:
            break
        last = now
    return last


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class Client:
    """One load-generator process."""

    def __init__(self, cfg: dict, log):
        self.proc = subprocess.Popen([sys.executable, __file__, "_client"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        self.tell(cfg)

    def tell(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def hear(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"load generator died (rc {self.proc.wait()}); see its log")
        return json.loads(line)


def run_target(name: str, servers: list[dict], users: dict, args, log, loads: list[dict], rate_box: dict) -> dict:
    """Start the servers, warm them, hold every socket, run each load; return what was measured."""
    procs = []
    try:
        for s in servers:
            procs.append(subprocess.Popen(s["argv"], cwd=ROOT, env=s["env"], stdout=log, stderr=log,
                                          start_new_session=True))
            wait_port(s["port"], procs[-1])
        rnd = random.Random(11)
        ports = [s["port"] for s in servers]
        people = [{"key": k, "id": p["id"], "port": rnd.choice(ports), "tab": f"benchtab{p['id']:08d}"}
                  for k, p in users.items()]
        # pairs must stay within one generator: split by whole pairs
        per = (len(people) // 2 + args.clients - 1) // args.clients * 2
        chunks = [people[i:i + per] for i in range(0, len(people), per)]
        clients = [Client({"users": chunk, "candidates": args.candidates}, log) for chunk in chunks]
        pids = [p.pid for p in procs]
        clients[0].tell({"cmd": "warm"})
        assert clients[0].hear()["event"] == "warmed"
        before = settled_rss(pids)
        for c in clients:
            c.tell({"cmd": "connect"})
        connected = [c.hear() for c in clients]
        after = settled_rss(pids)
        opened = sum(c["open"] for c in connected)
        if opened != len(people):
            raise SystemExit(f"{name}: only {opened} of {len(people)} sockets opened: {connected}")
        out = {"name": name, "processes": len(servers), "sockets": opened, "rss_before": before, "rss_after": after,
               "kib_per_socket": (after - before) / opened,
               "connect_s": max(c["seconds"] for c in connected), "loads": []}
        for load in loads:
            if load.get("paced"):  # the same rate for every target: half the first one's capacity
                if not rate_box["rate"]:
                    rate_box["rate"] = round(out["loads"][0]["calls_per_s"] / 2, 1)
                load = {**load, "interval": args.pairs / rate_box["rate"]}
            spies = []
            if args.profile and not load.get("paced"):  # sample the servers under the flat-out load
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                for pid in pids:
                    out_file = Path(args.profile) / f"{name.split(':')[0]}-{pid}.txt"
                    spies.append(subprocess.Popen(
                        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                         "--duration", str(int(load["duration"])), "--rate", "250", "--nonblocking",
                         "-o", str(out_file)], stdout=log, stderr=log))
            cpu0 = cpu_seconds(pids)
            for c in clients:
                c.tell({"cmd": "load", **load})
            results = [c.hear() for c in clients]
            stats = fresh_stats()
            for r in results:
                for key, value in r["stats"].items():
                    if isinstance(value, list):
                        stats[key] += value
                    elif isinstance(value, dict):
                        for k, v in value.items():
                            stats["failed"][k] = stats["failed"].get(k, 0) + v
                    else:
                        stats[key] += value
            for spy in spies:
                spy.wait(60)
            stats["open_after"] = sum(r["open"] for r in results)
            stats["server_cpu"] = cpu_seconds(pids) - cpu0
            out["loads"].append(summarise(stats, load))
        for c in clients:
            c.tell({"cmd": "quit"})
            c.hear()
            c.proc.wait(30)
        return out
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000  # ms


def summarise(stats: dict, load: dict) -> dict:
    # Flat out, every pair starts calls until `duration` and finishes the one it is in: all the
    # calls over the time to the last one's end (a slow server's first calls can outlast `duration`).
    last = max((d[1] for d in stats["done"]), default=load["duration"])
    return {
        "kind": "paced" if load.get("interval") else "closed",
        "calls_per_s": len(stats["done"]) / max(last, load["duration"]),
        "calls": len(stats["done"]),
        "failed": stats["failed"],
        "open_after": stats["open_after"],
        "server_cpu_per_call_ms": 1000 * stats["server_cpu"] / max(1, len(stats["done"])),
        **{f"{k}_{q}": pct(stats[k], p) for k in ("relay", "offer", "incoming", "accepted", "ended")
           for q, p in (("p50", 0.5), ("p99", 0.99))},
        "relayed": len(stats["relay"]),
    }


def django_env(db_url: str, redis_url: str | None) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=SETTINGS, DJANGO_DEBUG="0",
               DJANGO_SECRET_KEY="bench-only", DJANGO_SECURE_COOKIES="0",
               CALLKIT_INVITES_PER_MINUTE="10000", DATABASE_URL=db_url, PYTHONUNBUFFERED="1",
               # 1,000 sockets from one address (the load generator): above the per-address cap.
               CALLKIT_MAX_SOCKETS_PER_ADDRESS="100000")
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def server_argv(server: str, port: int) -> list[str]:
    """The command line of one server process (daphne is the project's; the others, to compare)."""
    if server == "uvicorn":  # its `websockets` protocol; --loop asyncio, as daphne's (no uvloop)
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets",
                "--loop", "asyncio", "--log-level", "warning", "callkit_web.asgi:application"]
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "callkit_web.asgi:application"]


def callkit_target(label: str, processes: int, layer: str, db: str, tmp: str, users_n: int,
                   server: str = "daphne") -> tuple:
    """Servers and users for one configuration of the project (fresh database and Redis db)."""
    db_url = f"sqlite:///{tmp}/bench-{label.replace(' ', '-')}.sqlite3" if db == "sqlite" else PG_URL
    redis_url = REDIS if layer == "redis" else None
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    env = django_env(db_url, redis_url)
    seeded = subprocess.run([sys.executable, __file__, "_seed", str(users_n)], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True)
    users = json.loads(seeded.stdout)
    servers = []
    for _ in range(processes):
        port = free_port()
        servers.append({"port": port, "env": env, "argv": server_argv(server, port)})
    return servers, users


def baseline_target(users: dict, tmp: str) -> list[dict]:
    path = Path(tmp) / "baseline-users.json"
    path.write_text(json.dumps(users))
    port = free_port()
    return [{"port": port, "env": dict(os.environ),
             "argv": [sys.executable, str(ROOT / "bench" / "baseline_relay.py"), "--port", str(port),
                      "--users", str(path)]}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--duration", type=float, default=20, help="seconds of each load")
    parser.add_argument("--candidates", type=int, default=4, help="ICE candidates each side sends per call")
    parser.add_argument("--rate", type=float, default=0,
                        help="calls/s of the paced load (default: half the first target's flat-out rate)")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes (2+ use Redis)")
    parser.add_argument("--layer", choices=["memory", "redis"], default=None)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--compare-processes", action="store_true",
                        help="1 process in-memory, 1 process on Redis and 2 processes on Redis")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne",
                        help="ASGI server of the project's processes (uvicorn only to compare: not a dependency)")
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument("--repeat", type=int, default=1, help="runs of everything; medians are printed")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (quick A/B runs)")
    parser.add_argument("--profile", help="py-spy each server under the flat-out load; stacks go to this folder")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    if args.compare_processes:
        # The paced rate is half the first target's flat-out rate: put the slowest first.
        configs = [("1 process, Redis", 1, "redis", "postgres"),
                   ("2 processes, Redis", 2, "redis", "postgres"),
                   ("1 process, in-memory", 1, "memory", args.db or "sqlite")]
    else:
        layer = args.layer or ("redis" if args.processes > 1 else "memory")
        if args.processes > 1 and layer != "redis":
            raise SystemExit("more than one process needs --layer redis")
        db = args.db or ("postgres" if layer == "redis" else "sqlite")
        configs = [(f"{args.processes} process{'es' if args.processes > 1 else ''}, "
                    f"{'in-memory' if layer == 'memory' else 'Redis'}, {db}", args.processes, layer, db)]

    tmp = tempfile.mkdtemp(prefix="callkit-relay-")
    log_path = Path(tmp) / "servers.log"
    print(f"{args.pairs} pairs ({2 * args.pairs} sockets), {args.candidates} candidates a side, "
          f"{args.duration:.0f} s per load; logs in {log_path}", flush=True)
    runs: list[list[dict]] = []
    rate_box = {"rate": args.rate}
    loads = [{"duration": args.duration},
             {"duration": args.duration, "paced": True}]
    with open(log_path, "w") as log:
        for _ in range(args.repeat):
            results = []
            for label, processes, layer, db in configs:
                servers, users = callkit_target(label, processes, layer, db, tmp, 2 * args.pairs, args.server)
                if not results:
                    base_users = users
                results.append(run_target(f"callkit ({args.server}): {label}", servers, users, args, log, loads, rate_box))
                report(results[-1:], rate_box["rate"], partial=True)
            if not args.no_baseline:
                base = run_target("baseline: websockets relay", baseline_target(base_users, tmp), base_users,
                                  args, log, loads, rate_box)
                results.insert(0, base)
                report([base], rate_box["rate"], partial=True)
            runs.append(results)
    rate = rate_box["rate"]
    final = [median_of([run[i] for run in runs]) for i in range(len(runs[0]))]
    print()
    print(f"== medians of {args.repeat} run(s); paced load {rate} calls/s for every target ==")
    report(final, rate)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "medians": final, "rate": rate}, indent=1))


def median_of(results: list[dict]) -> dict:
    """Field-by-field median of the same target over several runs."""
    out = dict(results[0])
    for key in ("kib_per_socket", "connect_s"):
        out[key] = statistics.median(r[key] for r in results)
    out["loads"] = []
    for i, load in enumerate(results[0]["loads"]):
        merged = dict(load)
        for key, value in load.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                merged[key] = statistics.median(r["loads"][i][key] for r in results)
        out["loads"].append(merged)
    return out


def report(results: list[dict], rate: float, partial: bool = False) -> None:
    base = results[0] if results[0]["name"].startswith("baseline") and not partial else None
    for res in results:
        closed, paced = res["loads"][0], res["loads"][1] if len(res["loads"]) > 1 else None
        print(f"\n{res['name']}: {res['sockets']} sockets held, {res['kib_per_socket']:.1f} KiB each "
              f"(RSS {res['rss_before'] / 1024:.0f} -> {res['rss_after'] / 1024:.0f} MiB), "
              f"opened in {res['connect_s']:.1f} s")
        ratio = f"  ({closed['calls_per_s'] / base['loads'][0]['calls_per_s']:.2f}x baseline)" if base and res is not base else ""
        print(f"  flat out: {closed['calls_per_s']:.0f} calls/s{ratio}, server CPU "
              f"{closed['server_cpu_per_call_ms']:.2f} ms/call, failed {closed['failed'] or 0}, "
              f"sockets open after {closed['open_after']}")
        print(f"    latency at saturation ms: relay p50 {closed['relay_p50']:.1f} p99 {closed['relay_p99']:.1f}; "
              f"invite->incoming p50 {closed['incoming_p50']:.1f} p99 {closed['incoming_p99']:.1f}")
        if paced:
            print(f"  paced at {rate} calls/s ({paced['calls_per_s']:.0f} done/s, failed {paced['failed'] or 0}), ms:")
            for key, label in (("relay", "relay answer, candidates"), ("offer", "accept+offer -> offer"),
                               ("incoming", "invite -> call.incoming"),
                               ("accepted", "accept -> call.accepted"), ("ended", "hangup -> call.ended")):
                line = f"    {label:<26} p50 {paced[key + '_p50']:7.2f}   p99 {paced[key + '_p99']:7.2f}"
                if base and res is not base:
                    bp = base["loads"][1]
                    line += (f"   ({paced[key + '_p50'] / bp[key + '_p50']:.2f}x / "
                             f"{paced[key + '_p99'] / bp[key + '_p99']:.2f}x baseline)")
                print(line)
        if base and res is not base and paced:
            print("  " + goals(res, base))
    sys.stdout.flush()


def goals(res: dict, base: dict) -> str:
    """Issue 13's figures for one target: calls/s, CPU per call, relay p99 against the baseline's."""
    closed, paced, bp = res["loads"][0], res["loads"][1], base["loads"][1]
    memory = "in-memory" in res["name"]
    cpu_goal = 5 if memory else 15
    calls_goal = 100 * res.get("processes", 1)  # one process 100 a second; two on Redis twice that
    ratio = paced["relay_p99"] / bp["relay_p99"]
    verdict = lambda ok: "met" if ok else "missed"  # noqa: E731
    return (f"goals: {closed['calls_per_s']:.0f} calls/s (>= {calls_goal}: {verdict(closed['calls_per_s'] >= calls_goal)}); "
            f"{closed['server_cpu_per_call_ms']:.1f} ms CPU/call (<= {cpu_goal}: "
            f"{verdict(closed['server_cpu_per_call_ms'] <= cpu_goal)}); relay p99 {ratio:.1f}x baseline "
            f"(<= 3x: {verdict(ratio <= 3)}); invite->incoming p50 {paced['incoming_p50']:.1f} ms "
            f"({paced['incoming_p50'] / bp['incoming_p50']:.1f}x baseline)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        asyncio.run(client_main())
    elif len(sys.argv) > 1 and sys.argv[1] == "_seed":
        sys.path.insert(0, str(ROOT))
        seed_main()
    else:
        main()
