// The call's window: minimise to a floating window, full screen, picture-in-picture (a video
// one, or a Document Picture-in-Picture window with mute and hang up), and your own preview
// dragged to a corner or swapped with theirs.

import { gettext } from "../callkit.js";
import { $, action, icon, root, setIcon } from "./dom.js";
import { setError } from "./stage.js";

let kit = null;
let pipWindow = null;

/** Add the window actions to `actions` and wire the preview's drag and swap. */
export function initFloating(callkit, actions) {
  kit = callkit;
  Object.assign(actions, {
    minimise: () => minimise(),
    restore: () => restore(),
    fullscreen: () => toggleFullscreen(),
    pip: () => togglePip(),
  });
  document.addEventListener("fullscreenchange", renderFullscreen);
  initSelfView();
  initSiteHeader();
}

// The stage starts under the site's header, so Home, Search and History stay usable during a
// call (the UI contract); following one of them minimises the call to show the page.
function initSiteHeader() {
  const header = document.querySelector("body > header");
  if (!header || document.documentElement.classList.contains("embed")) return;
  const measure = () => root.style.setProperty("--ck-stage-top", `${Math.round(header.getBoundingClientRect().bottom)}px`);
  new ResizeObserver(measure).observe(header);
  window.addEventListener("resize", measure);
  measure();
  header.addEventListener("click", (event) => {
    if (event.target.closest("a[href]") && root.dataset.state === "incall" && root.dataset.layout === "stage") minimise(false);
  });
}

/** Shrink the call to a floating window; the page underneath is usable. */
export function minimise(focus = true) {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  root.dataset.layout = "floating";
  if (focus) action("restore").focus({ preventScroll: true });
}

/** Bring the call back to the whole window. */
export function restore() {
  root.dataset.layout = "stage";
  action("minimise").focus({ preventScroll: true });
}

async function toggleFullscreen() {
  if (document.fullscreenElement) return document.exitFullscreen();
  root.dataset.layout = "stage";
  return root.requestFullscreen({ navigationUI: "hide" });
}

function renderFullscreen() {
  const on = document.fullscreenElement === root;
  root.dataset.fullscreen = String(on);
  const button = action("fullscreen");
  button.setAttribute("aria-pressed", String(on));
  setIcon(button.querySelector("svg"), on ? "ck-fullscreen-exit" : "ck-fullscreen");
}

/** Leave full screen and picture-in-picture (the call ended). */
export function leaveWindows() {
  if (document.fullscreenElement === root) document.exitFullscreen().catch(() => {});
  if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
  pipWindow?.close();
  root.dataset.layout = "stage";
  root.dataset.swapped = "false";
}

// Picture-in-picture: where the browser has Document PiP, a small window with their video,
// mute and hang up (a call controlled from another tab); else the video element's own PiP.
async function togglePip() {
  if (pipWindow) return pipWindow.close();
  if (document.pictureInPictureElement) return document.exitPictureInPicture();
  if ("documentPictureInPicture" in window) return openDocumentPip();
  const remote = $("remote-video");
  remote.addEventListener("leavepictureinpicture", () => renderPip(false), { once: true });
  await remote.requestPictureInPicture();
  renderPip(true);
}

function renderPip(on) {
  root.dataset.pip = String(on);
  action("pip").setAttribute("aria-pressed", String(on));
}

async function openDocumentPip() {
  const win = await window.documentPictureInPicture.requestWindow({ width: 360, height: 300 });
  pipWindow = win;
  for (const sheet of document.querySelectorAll('link[rel="stylesheet"]')) {
    win.document.head.append(Object.assign(win.document.createElement("link"), { rel: "stylesheet", href: sheet.href }));
  }
  win.document.documentElement.dataset.theme = document.documentElement.dataset.theme || "";
  win.document.title = document.title;
  const box = win.document.createElement("section");
  box.id = "callkit";
  box.className = "ck ck-pip-window";
  box.dataset.state = "incall";
  box.dataset.layout = "pip";
  box.dataset.icons = root.dataset.icons;
  box.setAttribute("aria-label", gettext("Call"));
  const video = win.document.createElement("video");
  Object.assign(video, { autoplay: true, playsInline: true, muted: true }); // the sound stays in the call's tab
  video.className = "ck-remote";
  video.srcObject = $("remote-video").srcObject;
  const bar = win.document.createElement("div");
  bar.className = "ck-controls ck-pip-controls";
  const mic = pipButton(win, "mic");
  const hangup = pipButton(win, "hangup", gettext("Hang up"), "ck-hangup");
  hangup.classList.add("ck-danger");
  bar.append(mic, hangup);
  box.append(video, bar);
  win.document.body.append(box);
  video.play().catch(() => {});
  const sync = () => {
    const on = kit.currentCall?.localMedia.mic ?? true;
    mic.setAttribute("aria-label", on ? gettext("Mute microphone") : gettext("Unmute microphone"));
    mic.dataset.active = String(!on);
    mic.querySelector("use").setAttribute("href", `${root.dataset.icons}#${on ? "ck-mic" : "ck-mic-off"}`);
  };
  sync();
  const follow = () => {
    video.srcObject = $("remote-video").srcObject;
    sync();
  };
  kit.addEventListener("mediastate", sync);
  kit.addEventListener("remotestream", follow);
  mic.addEventListener("click", () => kit.setMicrophoneEnabled(!kit.currentCall.localMedia.mic).catch((e) => setError(e.message)));
  hangup.addEventListener("click", () => kit.hangup().catch((e) => setError(e.message)));
  win.addEventListener("pagehide", () => {
    kit.removeEventListener("mediastate", sync);
    kit.removeEventListener("remotestream", follow);
    pipWindow = null;
    renderPip(false);
  });
  renderPip(true);
}

function pipButton(win, name, label = "", iconId = "ck-mic") {
  const button = win.document.createElement("button");
  button.type = "button";
  button.className = "ck-round";
  button.dataset.pipAction = name;
  if (label) button.setAttribute("aria-label", label);
  button.append(win.document.importNode(icon(iconId), true));
  return button;
}

// Your own preview: drag it to any corner; a click (or Enter/Space) swaps big and small.
function initSelfView() {
  const self = $("self");
  let start = null;
  self.addEventListener("pointerdown", (event) => {
    start = { x: event.clientX, y: event.clientY, moved: false };
    self.setPointerCapture(event.pointerId);
  });
  self.addEventListener("pointermove", (event) => {
    if (!start) return;
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    if (!start.moved && Math.hypot(dx, dy) < 6) return;
    start.moved = true;
    self.classList.add("ck-dragging");
    self.style.transform = `translate(${dx}px, ${dy}px)`;
  });
  self.addEventListener("pointerup", (event) => {
    if (!start) return;
    const moved = start.moved;
    start = null;
    self.classList.remove("ck-dragging");
    if (!moved) return swap();
    const box = self.getBoundingClientRect();
    const stage = root.getBoundingClientRect();
    const right = box.left + box.width / 2 > stage.left + stage.width / 2;
    const bottom = box.top + box.height / 2 > stage.top + stage.height / 2;
    self.style.transform = "";
    self.dataset.corner = `${bottom ? "b" : "t"}${right ? "r" : "l"}`;
    event.preventDefault();
  });
  self.addEventListener("pointercancel", () => {
    start = null;
    self.classList.remove("ck-dragging");
    self.style.transform = "";
  });
  self.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      swap();
    }
  });
}

function swap() {
  if (root.dataset.state !== "incall" || root.dataset.media !== "video") return;
  root.dataset.swapped = String(root.dataset.swapped !== "true");
}
