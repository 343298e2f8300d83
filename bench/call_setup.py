"""Call setup time in Chromium through real daphne servers, next to in-page floors measured in the same run.

Run:  .venv/bin/python bench/call_setup.py [--rounds 9]
      .venv/bin/python bench/call_setup.py --root /tmp/old-tree --modes off   (another tree's server:
                                                                             to bisect a regression)
Each round measures, on one machine clock:
- floor: offer -> first decoded frame between two peer connections in one page, the stream already
  open (what a call costs once nothing but the negotiation is left);
- floor with camera: the same, getUserMedia included (the floor of a call that opens its camera
  on Accept, as one without pre-connect does);
- ring: the caller's click -> the callee's page in its incoming state;
- on / off: Accept clicked -> the first remote video frame presented on each side, with
  CALLKIT_PRECONNECT on and off (two servers, interleaved round by round). The callee answers a
  second after its incoming screen shows, as a person would: a connection prepared while it rang
  has had that long, and the off path is given the same.
Prints medians (ms) and ratios to the floors."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calls.tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, terminate, wait_for_port  # noqa: E402

# Every click's time, and the moment this page's call UI turned to "incoming" (DOM change).
MARKS_JS = """() => {
  const now = () => performance.timeOrigin + performance.now();
  document.addEventListener("click", () => { window.__clickAt = now(); }, true);
  const root = document.querySelector(".ck");
  window.__ringAt = null;
  if (root) new MutationObserver(() => {
    if (root.dataset.state === "incoming" && window.__ringAt === null) window.__ringAt = now();
  }).observe(root, { attributes: true, attributeFilter: ["data-state"] });
}"""

# First presented remote frame, by the page's wall clock (both pages share the machine's clock).
ARM_FIRST_FRAME_JS = """() => {
  const video = document.querySelector('[data-ck="remote-video"]');
  window.__firstFrame = new Promise((resolve, reject) => {
    video.requestVideoFrameCallback(() => resolve(performance.timeOrigin + performance.now()));
    setTimeout(() => reject(new Error("no remote frame within 15 s")), 15000);
  });
}"""

# Two peer connections in one page; with camera=false the stream is opened before the clock starts.
FLOOR_JS = """async (camera) => {
  const now = () => performance.timeOrigin + performance.now();
  const open = () => navigator.mediaDevices.getUserMedia({audio: true, video: true});
  if (!camera && !window.__floorStream) window.__floorStream = await open();
  const t0 = now();
  const stream = camera ? await open() : window.__floorStream;
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; video.playsInline = true;
  document.body.append(video);
  const first = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve(now())));
  b.ontrack = (e) => { video.srcObject = e.streams[0]; };
  for (const t of stream.getTracks()) a.addTrack(t, stream);
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const t1 = await first;
  a.close(); b.close(); video.remove();
  if (camera) stream.getTracks().forEach((t) => t.stop());
  return t1 - t0;
}"""


class Server:
    """A daphne serving `root`'s tree on its own SQLite database (or DATABASE_URL), demo users made."""

    def __init__(self, root: Path, preconnect: bool):
        self.tmp = tempfile.mkdtemp()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="callkit_web.settings", DJANGO_DEBUG="0",
                   DJANGO_SECRET_KEY="bench", DJANGO_SECURE_COOKIES="0",
                   CALLKIT_PRECONNECT="1" if preconnect else "0", CALLKIT_INVITES_PER_MINUTE="1000",
                   DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{self.tmp}/bench.sqlite3"))
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "demo_users"], cwd=root, env=env, check=True,
                       capture_output=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                                      "callkit_web.asgi:application"], cwd=root, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        terminate(self.proc)


def sign_in(browser, server: Server, name: str):
    page = browser.new_context(base_url=server.url).new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill("callkit-demo")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello").wait_for()
    page.wait_for_function("() => !window.callkit || window.callkit.connectionState === 'open'")
    page.evaluate(MARKS_JS)
    return page


def one_call(alice, bob, expect, answer_after: int) -> tuple[float, float, float | None]:
    """A video call answered `answer_after` ms after it shows: (callee ms, caller ms, ring ms or None)."""
    bob.evaluate("() => { window.__ringAt = null; }")  # MARKS_JS notes the next ring
    alice.get_by_role("button", name="Video call Bob Builder").click()
    clicked = alice.evaluate("() => window.__clickAt")
    accept = bob.get_by_role("alertdialog").get_by_role("button", name="Accept")
    accept.wait_for()
    ring_at = bob.evaluate("() => window.__ringAt")
    if answer_after:
        bob.wait_for_timeout(answer_after)  # the person reading the incoming screen
    alice.evaluate(ARM_FIRST_FRAME_JS)
    bob.evaluate(ARM_FIRST_FRAME_JS)
    accept.click()
    accepted = bob.evaluate("() => window.__clickAt")
    callee = bob.evaluate("() => window.__firstFrame") - accepted
    caller = alice.evaluate("() => window.__firstFrame") - accepted
    alice.get_by_role("button", name="Hang up").click()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text(re.compile("Video call"))
        page.get_by_role("button", name="Close").click()
    return callee, caller, (ring_at - clicked) if ring_at else None


def measure(rounds: int, root: Path, modes: list[str], answer_after: int = 1000) -> dict[str, list[float]]:
    from playwright.sync_api import expect, sync_playwright

    servers = {mode: Server(root, preconnect=mode == "on") for mode in modes}
    results: dict[str, list[float]] = {"floor": [], "floor with camera": [], "ring": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pairs = {mode: (sign_in(browser, srv, "alice"), sign_in(browser, srv, "bob"))
                     for mode, srv in servers.items()}
            floor_page = pairs[modes[0]][0]
            for _ in range(rounds):
                results["floor"].append(floor_page.evaluate(FLOOR_JS, False))
                results["floor with camera"].append(floor_page.evaluate(FLOOR_JS, True))
                for mode, (alice, bob) in pairs.items():
                    try:
                        callee, caller, ring = one_call(alice, bob, expect, answer_after)
                    except Exception:
                        for name, page in (("alice", alice), ("bob", bob)):  # what each saw, to tell why
                            page.screenshot(path=f"{tempfile.gettempdir()}/call_setup-{mode}-{name}.png")
                        raise
                    results.setdefault(f"{mode}: callee sees caller", []).append(callee)
                    results.setdefault(f"{mode}: caller sees callee", []).append(caller)
                    if ring is not None:
                        results["ring"].append(ring)
            browser.close()
    finally:
        for srv in servers.values():
            srv.stop()
    return results


def report(results: dict[str, list[float]], rounds: int) -> None:
    floor = statistics.median(results["floor"])
    with_camera = statistics.median(results["floor with camera"])
    print(f"call setup, {rounds} rounds, median ms (Accept click -> first remote frame; ring: click -> incoming)")
    print(f"{'measure':<34}{'median':>8}{'min':>8}{'max':>8}{'x floor':>9}{'x floor+camera':>16}")
    for label, values in results.items():
        if not values:
            continue
        m = statistics.median(values)
        ratios = "" if label == "ring" else f"{m / floor:>9.2f}{m / with_camera:>16.2f}"
        print(f"{label:<34}{m:>8.0f}{min(values):>8.0f}{max(values):>8.0f}{ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree whose server to run (default: this one)")
    parser.add_argument("--modes", default="on,off", help="servers to run: on, off or both (CALLKIT_PRECONNECT)")
    parser.add_argument("--answer-after", type=int, default=1000, metavar="MS",
                        help="how long the callee looks at the incoming screen before Accept (default 1000)")
    args = parser.parse_args()
    results = measure(args.rounds, args.root.resolve(), args.modes.split(","), args.answer_after)
    report(results, args.rounds)


if __name__ == "__main__":
    main()
