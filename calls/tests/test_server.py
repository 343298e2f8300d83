"""A real daphne process serves pages and static files with DJANGO_DEBUG on and off."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@pytest.fixture
def daphne(tmp_path):
    procs = []

    def start(debug: bool) -> str:
        port = free_port()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="callkit_web.settings",
                   DJANGO_SECRET_KEY="smoke-test-key", DJANGO_DEBUG="1" if debug else "0",
                   DJANGO_ALLOWED_HOSTS="127.0.0.1",
                   # Its own database: this test is about serving, and must not touch the suite's.
                   DATABASE_URL=f"sqlite:///{tmp_path / 'smoke.sqlite3'}")
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "callkit_web.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait for the port to accept connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.05)
        raise AssertionError("daphne did not start")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("debug", [True, False])
def test_daphne_alone_serves_pages_and_static_files(daphne, debug):
    base = daphne(debug)
    status, body, _ = get(base + "/accounts/login/")
    assert status == 200 and b'<label for="id_username">Username</label>' in body
    status, body, headers = get(base + "/static/css/app.css")
    assert status == 200 and b"--ck-font" in body and headers["Content-Type"].startswith("text/css")
    status, _, _ = get(base + "/static/css/missing.css")
    assert status == 404
    status, body, _ = get(base + "/")
    assert status == 200 and b"Log in" in body  # redirected to the login page
