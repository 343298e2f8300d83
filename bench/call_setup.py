"""Call setup time: Accept clicked -> first decoded remote video frame on each side, through the
real server in Chromium, next to the floor: two peer connections inside one page.

Run: .venv/bin/python bench/call_setup.py [--rounds 7]
Prints medians (ms) and the ratio to the floor measured in the same run."""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--no-sandbox",
    "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required",
]

# First presented remote frame, by the page's wall clock (both pages share the machine's clock).
ARM_FIRST_FRAME_JS = """() => {
  const video = document.querySelector('[data-ck="remote-video"]');
  window.__firstFrame = new Promise((resolve) =>
    video.requestVideoFrameCallback(() => resolve(performance.timeOrigin + performance.now())));
}"""

MARK_ACCEPT_JS = """() => document.addEventListener("click", (e) => {
  if (e.target.closest('[data-ck-action="accept"]')) window.__acceptAt = performance.timeOrigin + performance.now();
}, true)"""

# The floor: camera + microphone, two peer connections in one page, first decoded frame.
FLOOR_JS = """async () => {
  const t0 = performance.timeOrigin + performance.now();
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; video.playsInline = true;
  document.body.append(video);
  const first = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve(performance.timeOrigin + performance.now())));
  b.ontrack = (e) => { video.srcObject = e.streams[0]; };
  for (const t of stream.getTracks()) a.addTrack(t, stream);
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const t1 = await first;
  a.close(); b.close(); stream.getTracks().forEach((t) => t.stop()); video.remove();
  return t1 - t0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    tmp = tempfile.mkdtemp()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="callkit_web.settings", DJANGO_DEBUG="0",
               DJANGO_SECRET_KEY="bench", DJANGO_SECURE_COOKIES="0", DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "demo_users"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "callkit_web.asgi:application"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            pages = {}
            for name in ("alice", "bob"):
                context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
                page = context.new_page()
                page.goto("/accounts/login/")
                page.get_by_label("Username").fill(name)
                page.get_by_label("Password").fill("callkit-demo")
                page.get_by_role("button", name="Log in").click()
                page.get_by_role("heading", name="Hello").wait_for()
                page.evaluate(MARK_ACCEPT_JS)
                pages[name] = page
            alice, bob = pages["alice"], pages["bob"]
            floor, callee, caller = [], [], []
            for _ in range(args.rounds):
                floor.append(alice.evaluate(FLOOR_JS))
                alice.get_by_role("button", name="Video call Bob Builder").click()
                bob.get_by_role("alertdialog").get_by_role("button", name="Accept").wait_for()
                alice.evaluate(ARM_FIRST_FRAME_JS)
                bob.evaluate(ARM_FIRST_FRAME_JS)
                bob.get_by_role("button", name="Accept").click()
                t_accept = bob.evaluate("() => window.__acceptAt")
                callee.append(bob.evaluate("() => window.__firstFrame") - t_accept)
                caller.append(alice.evaluate("() => window.__firstFrame") - t_accept)
                alice.get_by_role("button", name="Hang up").click()
                for page in (alice, bob):
                    expect(page.get_by_role("status")).to_have_text(re.compile("Video call"))
                    page.get_by_role("button", name="Close").click()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)

    f = statistics.median(floor)
    print(f"call setup, {args.rounds} rounds, median ms (Accept click -> first remote frame)")
    print(f"{'measure':<44}{'median':>9}{'min':>9}{'max':>9}{'x floor':>9}")
    for label, values in [("floor: 2 peer connections in one page", floor),
                          ("callee (Bob) sees Alice", callee), ("caller (Alice) sees Bob", caller)]:
        m = statistics.median(values)
        print(f"{label:<44}{m:>9.0f}{min(values):>9.0f}{max(values):>9.0f}{m / f:>9.2f}")


if __name__ == "__main__":
    main()
