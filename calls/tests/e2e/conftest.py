"""Chromium end-to-end fixtures: a real daphne on 127.0.0.1, Debian's Chromium with fake media,
one browser context per user. Pages expose their state in the DOM; tests wait on it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("CALLKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "pw"

# In-page helper: how much a counter of the inbound RTP stream of `kind` grew over `ms`.
STATS_JS = """
window.__ckInbound = async (kind) => {
  const report = await window.callkit.getStats();
  let found = null;
  report?.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === kind) found = s; });
  return found;
};
window.__ckGrowth = async (kind, field, ms) => {
  const a = await window.__ckInbound(kind);
  await new Promise((r) => setTimeout(r, ms));
  const b = await window.__ckInbound(kind);
  if (!a || !b || b[field] == null) return -1;
  return b[field] - (a[field] ?? 0);
};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    """Until something accepts connections on 127.0.0.1:`port`; fail if `proc` dies first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}") from None
            time.sleep(0.05)  # between connection attempts
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def database_url() -> str:
    """The suite's test database, for the server process to share."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER'] or 'root'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def terminate(proc: subprocess.Popen) -> None:
    """Ask a child process to stop; kill it if it has not within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class Server:
    """A daphne process serving the app on a free port."""

    def __init__(self, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "callkit_web.settings_test",
                    "DATABASE_URL": database_url(), "CALLKIT_SWEEP_INTERVAL": "1", **env}
        self.log = open(ROOT / f".e2e-daphne-{self.port}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "callkit_web.asgi:application"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, self.proc)
        except RuntimeError as exc:
            output = self.output()
            self.stop()
            raise RuntimeError(f"daphne did not start ({exc}): {output}") from None

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        """Die at once, as a crashed process does: no socket is closed politely."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        terminate(self.proc)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="package")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="package")
def browser(server):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread, which makes Django refuse
    # database calls from the (synchronous) test code; allow them while the browser is up.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield b
            b.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def users(django_db_blocker, transactional_db):
    from calls.models import User

    made = {}
    for username, name in [("alice", "Alice Liddell"), ("bob", "Bob Builder"), ("carol", "Carol Danvers")]:
        made[username] = User.objects.create_user(username=username, password=PASSWORD, display_name=name)
    return made


@pytest.fixture
def open_page(browser, server, users):
    """open_page('alice') -> a signed-in page on the home page, in its own browser context."""
    contexts = []

    def open_(username: str, srv: Server | None = None, init_script: str | None = None,
              base_url: str | None = None, locale: str = "en-US") -> Page:
        srv = srv or server
        context = browser.new_context(base_url=base_url or srv.url, locale=locale)
        contexts.append(context)
        if init_script:
            context.add_init_script(script=init_script)
        page = context.new_page()
        page.on("console", lambda msg: msg.type == "error" and print(f"[{username} console] {msg.text}"))
        page.goto("/accounts/login/")
        # By accessible name in English (the product's UI contract), by field in other languages.
        english = locale.startswith("en")
        (page.get_by_label("Username") if english else page.locator("#id_username")).fill(username)
        (page.get_by_label("Password") if english else page.locator("#id_password")).fill(PASSWORD)
        (page.get_by_role("button", name="Log in") if english else page.locator("form.login button")).click()
        greeting = "Hello, {}" if english else "{}"  # 你好，<name> in Chinese
        expect(page.get_by_role("heading", name=greeting.format(users[username].display_name))).to_be_visible()
        poll(page, "() => window.callkit?.connectionState === 'open'", what="the socket to open")
        page.evaluate(STATS_JS)
        return page

    def another_tab(page: Page) -> Page:
        """A second tab of the same signed-in browser (same cookies, its own socket)."""
        tab = page.context.new_page()
        tab.goto("/")
        poll(tab, "() => window.callkit?.connectionState === 'open'", what="the socket to open")
        tab.evaluate(STATS_JS)
        return tab

    open_.another_tab = another_tab
    yield open_
    for context in contexts:
        context.close()


def growth(page: Page, kind: str, field: str, ms: int = 400) -> float:
    return page.evaluate("([k, f, ms]) => window.__ckGrowth(k, f, ms)", [kind, field, ms])


def poll(page: Page, script: str, arg=None, timeout: float = 15, what: str = "condition"):
    """Evaluate `script` in the page until it returns something truthy (CSP forbids
    Playwright's string-eval waits, so the polling happens here)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(50)  # between polls of a condition


# A muted track still carries comfort noise at one LSB (audioLevel 1/32768): its energy grows
# by ~1e-9 a second, while the fake microphone's beep adds ~1e-3. Anything under this is silence.
SILENCE = {"totalAudioEnergy": 1e-6}


def wait_growing(page: Page, kind: str, field: str, timeout: float = 15) -> None:
    """Wait until the inbound `kind` stream's `field` grows across an interval."""
    poll(page, "async ([k, f, floor]) => (await window.__ckGrowth(k, f, 300)) > floor",
         [kind, field, SILENCE.get(field, 0)], timeout, f"{kind} {field} to grow")


def wait_still(page: Page, kind: str, field: str, timeout: float = 15) -> None:
    """Wait until the inbound `kind` stream's `field` stops growing across an interval."""
    poll(page, "async ([k, f, floor]) => { const g = await window.__ckGrowth(k, f, 1200); return g >= 0 && g <= floor; }",
         [kind, field, SILENCE.get(field, 0)], timeout, f"{kind} {field} to stop")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Overrides the socket tests' fixture: the server process has its own channel layer."""
    yield
