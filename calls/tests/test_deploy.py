"""deploy/run-prod.sh: migrate, collectstatic, N daphne processes with DEBUG off, all stopped together."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "run-prod.sh"


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


def get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def prod_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CALLKIT_"))}
    env.update(
        DJANGO_SECRET_KEY="deploy-test-key", DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_COOKIES="0",  # this test speaks plain HTTP
        DJANGO_STATIC_ROOT=str(tmp_path / "static"), PYTHON=str(Path(os.sys.executable)),
        # Its own database: this test is about serving, and must not touch the suite's.
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    return env


@pytest.fixture
def run_prod(tmp_path):
    procs = []

    def start(env: dict, *args: str) -> subprocess.Popen:
        log = open(tmp_path / f"run-prod-{len(procs)}.log", "w+")
        # A session of its own: the script and its daphne processes can be cleaned up as one group.
        proc = subprocess.Popen([str(SCRIPT), *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        proc.log = log
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.log.close()


def output(proc) -> str:
    proc.log.seek(0)
    return proc.log.read()


def test_processes_serve_health_and_collected_static_files_then_stop_together(prod_env, run_prod, tmp_path):
    # With Redis, two processes share it; without, one process (the script refuses two: see below).
    n = 2 if os.environ.get("REDIS_URL") else 1
    port = consecutive_free_ports(n)
    proc = run_prod({**prod_env, "PORT": str(port)}, str(n))
    ports = [port + i for i in range(n)]
    deadline = time.monotonic() + 60
    while not all(listening(p) for p in ports):
        assert proc.poll() is None, output(proc)
        assert time.monotonic() < deadline, output(proc)
        time.sleep(0.1)  # between connection attempts

    assert (tmp_path / "static" / "callkit" / "callkit.js").is_file()  # collectstatic ran
    for p in ports:
        status, body, _ = get(f"http://127.0.0.1:{p}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok", "channel_layer": "ok"})
        status, body, headers = get(f"http://127.0.0.1:{p}/static/callkit/callkit.js")
        assert status == 200 and b"export class CallKit" in body
        status, body, _ = get(f"http://127.0.0.1:{p}/no-such-page/")
        assert status == 404 and b"Traceback" not in body  # DEBUG is off

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, output(proc)
    assert not any(listening(p) for p in ports)


def get_unix(path: Path, url: str) -> tuple[int, bytes]:
    """GET `url` from an HTTP server on the unix socket `path` (as nginx's upstream would)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_processes_on_unix_sockets(prod_env, run_prod, tmp_path):
    n = 2 if os.environ.get("REDIS_URL") else 1
    sockets = [tmp_path / "run" / f"daphne-{i}.sock" for i in range(1, n + 1)]
    proc = run_prod({**prod_env, "SOCKET_DIR": str(tmp_path / "run")}, str(n))
    deadline = time.monotonic() + 60
    while not all(path.is_socket() for path in sockets):
        assert proc.poll() is None and time.monotonic() < deadline, output(proc)
        time.sleep(0.1)  # between looks for the sockets
    for path in sockets:
        status, body = get_unix(path, "/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok", "channel_layer": "ok"})
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, output(proc)


def test_one_process_dying_stops_the_others_and_fails(prod_env, run_prod):
    port = consecutive_free_ports(1)
    proc = run_prod({**prod_env, "PORT": str(port)}, "1")
    deadline = time.monotonic() + 60
    while not listening(port):
        assert proc.poll() is None and time.monotonic() < deadline, output(proc)
        time.sleep(0.1)  # between connection attempts
    daphne = int(subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "daphne"], capture_output=True,
                                text=True, check=True).stdout.split()[0])
    os.kill(daphne, signal.SIGKILL)
    assert proc.wait(20) != 0
    assert "a daphne process exited" in output(proc)


def test_many_processes_need_redis(prod_env, run_prod):
    env = {k: v for k, v in prod_env.items() if k != "REDIS_URL"}
    proc = run_prod(env, "2")
    assert proc.wait(20) == 2
    assert "need REDIS_URL" in output(proc)


def test_a_secret_key_is_required(prod_env, run_prod):
    env = {k: v for k, v in prod_env.items() if k != "DJANGO_SECRET_KEY"}
    proc = run_prod(env, "1")
    assert proc.wait(20) == 2
    assert "DJANGO_SECRET_KEY" in output(proc)


def test_the_samples_raise_the_file_descriptor_limit_and_drop_slow_clients():
    deploy = ROOT / "deploy"
    assert "\nLimitNOFILE=65536\n" in (deploy / "callkit@.service").read_text()
    assert "minfds=65536" in (deploy / "supervisord.conf").read_text()
    assert "\nulimit -n 65536" in (deploy / "run-prod.sh").read_text()
    nginx = (deploy / "nginx.conf").read_text()
    for directive in ("client_header_timeout 10s;", "client_body_timeout 10s;", "limit_conn callkit_per_address 200;",
                      "limit_conn_zone $binary_remote_addr zone=callkit_per_address:10m;"):
        assert directive in nginx, directive
