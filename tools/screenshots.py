"""The screenshot gallery (`make screenshots`): every page and call state, desktop and phone, light
and dark, English and 简体中文, as PNGs in docs/screenshots/ with a README listing them.

It serves the app from a fresh SQLite database with the demo users and their demo history; alice
shows the pages, and two Chromium users (bob calls carol, so alice's history stays as it was)
go through each call state, as a person would. Chinese needs a CJK font (`fonts-noto-cjk`). A state that
cannot be reached fails the run: the gallery never silently misses a picture.

    .venv/bin/python tools/screenshots.py [--only STATE[,STATE…]] [--combos desktop-light-en,…]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from calls.tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, terminate, wait_for_port  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "callkit-demo"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}

# (name, what it shows), in the order of a call's life; each function below makes one.
STATES = [
    ("login", "the login page"),
    ("home", "Home: recent contacts, then everyone"),
    ("search", "Search with results"),
    ("history", "History, grouped by day, every outcome"),
    ("history-empty", "History of someone with no calls yet"),
    ("video-outgoing", "Calling, video: your camera behind the callee's avatar"),
    ("video-incoming", "An incoming video call"),
    ("video-incall", "In a video call: their video fills the stage, yours in a corner"),
    ("video-incall-callee", "The same call on the callee's screen"),
    ("minimised", "A call minimised to its floating window, on another page"),
    ("bill", "The bill card after a call"),
    ("audio-outgoing", "Calling, audio"),
    ("audio-incoming", "An incoming audio call"),
    ("audio-incall", "In an audio call"),
]


def poll(page: Page, script: str, what: str, timeout: float = 20) -> None:
    """Until `script` is truthy in the page (CSP forbids Playwright's string waits)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)  # between polls of a condition


def state_is(page: Page, *states: str) -> str:
    return f"() => {list(states)!r}.includes(document.getElementById('callkit')?.dataset.state)"


class Gallery:
    """One language's signed-in pages, shot at each viewport and theme."""

    def __init__(self, browser, url: str, language: str, only: set[str]):
        self.url, self.language, self.only = url, language, only
        self.pages = {name: self._login(browser, name) for name in ("alice", "bob", "carol", "dana")}
        self.anonymous = browser.new_context(locale=LANGUAGES[language]).new_page()
        self.callee_id = self.pages["carol"].evaluate("() => window.callkit.user.id")
        self.combo = ""
        self.shot_names: list[str] = []

    def _login(self, browser, username: str) -> Page:
        context = browser.new_context(base_url=self.url, locale=LANGUAGES[self.language])
        context.grant_permissions(["camera", "microphone"])
        page = context.new_page()
        page.goto("/accounts/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("#id_password").press("Enter")
        poll(page, "() => window.callkit?.connectionState === 'open'", f"{username}'s socket")
        return page

    def shoot(self, page: Page, state: str) -> None:
        page.wait_for_timeout(350)  # let transitions and fades finish: a picture, not a condition
        name = f"{self.combo}-{state}.png"
        page.screenshot(path=str(OUT / name))
        self.shot_names.append(name)
        print("wrote", name, flush=True)

    def wanted(self, *states: str) -> bool:
        return not self.only or bool(self.only & set(states))

    def set_look(self, viewport: str, theme: str) -> None:
        self.combo = f"{viewport}-{theme}-{self.language}"
        for page in [*self.pages.values(), self.anonymous]:
            page.set_viewport_size(VIEWPORTS[viewport])
            page.emulate_media(color_scheme=theme)

    def go(self, page: Page, path: str) -> None:
        page.goto(path if path.startswith("http") else self.url + path)
        poll(page, "() => document.readyState === 'complete'", "the page to load")

    def run(self) -> None:
        alice, bob, carol = self.pages["alice"], self.pages["bob"], self.pages["carol"]
        if self.wanted("login"):
            self.go(self.anonymous, "/accounts/login/")
            self.shoot(self.anonymous, "login")
        for state, path, page in (("home", "/", alice), ("search", "/search/?q=b", alice),
                                  ("history", "/history/", alice), ("history-empty", "/history/", self.pages["dana"])):
            if self.wanted(state):
                self.go(page, path)
                self.shoot(page, state)
        if self.wanted("video-outgoing", "video-incoming", "video-incall", "video-incall-callee", "minimised", "bill"):
            self.video_call(bob, carol)
        if self.wanted("audio-outgoing", "audio-incoming", "audio-incall"):
            self.audio_call(bob, carol)

    def place(self, caller: Page, callee: Page, media: str) -> None:
        self.go(caller, "/")
        self.go(callee, "/")
        caller.locator(f'[data-call-user="{self.callee_id}"][data-call-media="{media}"]').first.click()
        poll(caller, state_is(caller, "outgoing"), "the caller's ringing")
        poll(callee, state_is(callee, "incoming"), "the callee's ringing")

    def answer(self, caller: Page, callee: Page) -> None:
        callee.evaluate("() => window.callkit.accept()")
        for page in (caller, callee):
            poll(page, state_is(page, "incall"), "the call to connect")

    def end(self, caller: Page, callee: Page) -> None:
        caller.evaluate("() => window.callkit.hangup()")
        for page in (caller, callee):
            poll(page, state_is(page, "ended", "idle"), "the call to end")

    def video_call(self, caller: Page, callee: Page) -> None:
        self.place(caller, callee, "video")
        self.shoot(caller, "video-outgoing")
        # Connect while it rings: the callee sees itself behind the incoming call.
        poll(callee, "() => document.querySelector('[data-ck=\"preview\"]').videoWidth > 0", "the callee's preview")
        self.shoot(callee, "video-incoming")
        self.answer(caller, callee)
        # Their video, not a black frame: wait until frames are decoded on both sides.
        for page in (caller, callee):
            poll(page, "() => [...document.querySelectorAll('#callkit video')].some((v) => v.videoWidth > 0 && !v.paused"
                       " && v.srcObject?.getVideoTracks().some((t) => !t.muted))", "remote frames")
        self.shoot(caller, "video-incall")
        self.shoot(callee, "video-incall-callee")
        if self.wanted("minimised"):
            caller.locator('#callkit [data-ck-action="minimise"]').click()
            self.go_htmx(caller, "/history/")
            poll(caller, "() => document.getElementById('callkit')?.dataset.layout === 'floating'", "the floating window")
            self.shoot(caller, "minimised")
            caller.locator('#callkit [data-ck-action="restore"]').click()
        self.end(caller, callee)
        caller.locator("#callkit .ck-card").hover()  # the card stays while pointed at
        self.shoot(caller, "bill")
        self.close_bills(caller, callee)

    def go_htmx(self, page: Page, path: str) -> None:
        """Move to another page the way the app's navigation does, keeping the call."""
        page.evaluate("(path) => window.htmx.ajax('GET', path, {target: '#main', swap: 'innerHTML'})", path)
        poll(page, f"() => location.pathname === {path!r} || document.querySelector('[data-history-live]')",
             "the page to change")

    def close_bills(self, *pages: Page) -> None:
        for page in pages:
            page.locator('#callkit [data-ck-action="dismiss"]').click()  # the bill card's Close
            poll(page, state_is(page, "idle"), "the bill card to close")

    def audio_call(self, caller: Page, callee: Page) -> None:
        self.place(caller, callee, "audio")
        self.shoot(caller, "audio-outgoing")
        self.shoot(callee, "audio-incoming")
        self.answer(caller, callee)
        self.shoot(caller, "audio-incall")
        self.end(caller, callee)
        self.close_bills(caller, callee)


def serve(tmp: Path) -> tuple[subprocess.Popen, str]:
    """Migrate a fresh database, add the demo users and history, and start daphne on it."""
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp / 'gallery.sqlite3'}",
           "CALLKIT_RING_TIMEOUT": "120", "CALLKIT_DECLINE_COOLDOWN": "0"}
    env.pop("REDIS_URL", None)
    newcomer = ("from calls.models import User; User.objects.create_user("
                f"'dana', password={PASSWORD!r}, display_name='Dana Scully')")
    for command in (["migrate", "-v", "0"], ["demo_users", "--history"], ["shell", "-c", newcomer]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "callkit_web.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def write_readme(names: list[str]) -> None:
    lines = ["# Screenshot gallery", "",
             "Made by `make screenshots` (`tools/screenshots.py`): every page and call state at 1280×800",
             "(desktop) and 390×844 (phone), light and dark, English and 简体中文. File names are",
             "`<viewport>-<theme>-<language>-<state>.png`.", "",
             "| state | what it shows |", "|---|---|"]
    lines += [f"| `{state}` | {what} |" for state, what in STATES]
    lines += ["", "## Files", ""]
    lines += [f"- [{name}]({name})" for name in sorted(names)]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated states (default: all)")
    parser.add_argument("--combos", default="", help="comma-separated <viewport>-<theme>-<language> (default: all)")
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    unknown = only - {s for s, _ in STATES}
    if unknown:
        parser.error(f"unknown states: {', '.join(sorted(unknown))}")
    combos = [f"{v}-{t}-{lang}" for lang in LANGUAGES for v in VIEWPORTS for t in THEMES]
    if args.combos:
        combos = [c for c in combos if c in args.combos.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    if not only and not args.combos:
        for old in OUT.glob("*.png"):
            old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for language in LANGUAGES:
                    wanted = [c for c in combos if c.endswith(f"-{language}")]
                    if not wanted:
                        continue
                    gallery = Gallery(browser, url, language, only)
                    for combo in wanted:
                        viewport, theme, _ = combo.split("-")
                        gallery.set_look(viewport, theme)
                        gallery.run()
                browser.close()
        finally:
            terminate(proc)
    write_readme([p.name for p in OUT.glob("*.png")])


if __name__ == "__main__":
    if not re.match(r"3\.(1[1-9])", sys.version.split()[0]):
        sys.exit("Python 3.11+ is needed")
    main()
