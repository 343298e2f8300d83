// The default call UI, built only on the SDK's public API (callkit.js). It lives in the page
// shell (templates/calls/_callkit.html), so a call survives htmx navigation between pages.

import { CallKit, Tone, billText, formatDuration, gettext, interpolate, unlockAudioOnGesture } from "./callkit.js";

const root = document.getElementById("callkit");
// On the embed page the socket proves who it is with the page's token (an iframe sends no cookies).
const kit = new CallKit({ token: document.body.dataset.token || undefined, language: document.body.dataset.lang || undefined });
window.callkit = kit; // for the console, custom scripts and tests
export { kit };
const ringtone = new Tone("ringtone");
const ringback = new Tone("ringback");
// The call id this tab held (survives a reload, not a new tab). A cross-site iframe may be
// denied storage (third-party storage blocked): then a reload simply does not auto-rejoin.
const held = {
  get: () => attempt(() => sessionStorage.getItem("callkit.held")),
  set: (id) => attempt(() => sessionStorage.setItem("callkit.held", id)),
  clear: () => attempt(() => sessionStorage.removeItem("callkit.held")),
};

function attempt(fn) {
  try {
    return fn();
  } catch {
    return null;
  }
}

const $ = (name) => root.querySelector(`[data-ck="${name}"]`);
const $$ = (name) => root.querySelectorAll(`[data-ck="${name}"]`);
const action = (name) => root.querySelector(`[data-ck-action="${name}"]`);
const video = { remote: $("remote-video"), local: $("local-video"), preview: $("preview") };
let timer = null;
let autoRejoined = false;
let titleTimer = null;
const baseTitle = () => document.title.replace(/^📞 .*? · /, "");

unlockAudioOnGesture();

// --- rendering -----------------------------------------------------------------------------

function show(view) {
  root.hidden = view === "idle" && !$("status").textContent;
  root.dataset.state = view;
  for (const el of root.querySelectorAll("[data-view]")) el.hidden = el.dataset.view !== view;
  action("dismiss").hidden = view !== "ended";
}

function setText(name, text) {
  for (const el of $$(name)) el.textContent = text;
}

function incomingLabel(media) {
  return media === "video" ? gettext("Incoming video call") : gettext("Incoming audio call");
}

function isCallingText(name) {
  return interpolate(gettext("%(name)s is calling"), { name });
}

function renderCall(call) {
  setText("peer-name", call.peer.name);
  $("avatar").textContent = call.peer.name.slice(0, 1).toUpperCase();
  setText("media-label", call.media === "video" ? gettext("Video call") : gettext("Audio call"));
  setText("incoming-label", incomingLabel(call.media));
  root.dataset.media = call.media;
  const switchType = action("switch-type");
  switchType.textContent = call.media === "video" ? gettext("Switch to audio") : gettext("Switch to video");
  action("camera").hidden = call.media !== "video";
  action("switch-camera").hidden = call.media !== "video";
  renderLocalMedia(call);
  renderRemoteMedia(call);
}

function renderLocalMedia(call) {
  const mic = action("mic");
  mic.textContent = call.localMedia.mic ? gettext("Mute microphone") : gettext("Unmute microphone");
  mic.setAttribute("aria-pressed", String(!call.localMedia.mic));
  const cam = action("camera");
  cam.textContent = call.localMedia.camera ? gettext("Turn camera off") : gettext("Turn camera on");
  cam.setAttribute("aria-pressed", String(!call.localMedia.camera));
  root.dataset.localCamera = call.localMedia.camera ? "on" : "off";
}

function renderRemoteMedia(call) {
  $("remote-mic-off").hidden = call.remoteMedia.mic;
  $("remote-camera-off").hidden = call.remoteMedia.camera || call.media !== "video";
  root.dataset.remoteCamera = call.remoteMedia.camera ? "on" : "off";
}

function viewFor(call) {
  if (!call || call.state === "ended") return "ended";
  if (!call.thisDevice) {
    if (call.state === "ringing" && call.role === "callee") return "incoming";
    return "elsewhere";
  }
  if (call.state === "ringing") return "outgoing";
  return "incall";
}

function render(call) {
  stopAlerts();
  if (!call) return show("idle");
  renderCall(call);
  const view = viewFor(call);
  if (view === "incoming") startAlerts(call);
  if (view === "outgoing") ringback.start();
  if (view === "elsewhere") {
    const heldHere = held.get() === call.id;
    $("elsewhere-label").textContent = call.state === "ringing"
      ? interpolate(gettext("Calling %(name)s on another device."), { name: call.peer.name })
      : interpolate(gettext("In a call with %(name)s on another device."), { name: call.peer.name });
    action("join").hidden = call.state !== "active";
    if (heldHere && call.state === "active" && !autoRejoined) {
      autoRejoined = true; // once per page load: this very tab was reloaded mid-call
      rejoin();
    }
  }
  if (view === "incall") startTimer();
  else stopTimer();
  if (view !== "ended") setStatus("");
  show(view);
}

function setStatus(text) {
  $("status").textContent = text;
}

function setError(text) {
  $("error").textContent = text;
}

function startTimer() {
  if (timer) return;
  const tick = () => ($("timer").textContent = formatDuration(kit.elapsedMs() / 1000));
  tick();
  timer = setInterval(tick, 500);
}

function stopTimer() {
  clearInterval(timer);
  timer = null;
}

function startAlerts(call) {
  ringtone.start();
  const title = baseTitle();
  let on = false;
  titleTimer = setInterval(() => {
    on = !on;
    document.title = on ? `📞 ${isCallingText(call.peer.name)} · ${title}` : title;
  }, 1000);
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    const note = new Notification(isCallingText(call.peer.name), {
      body: incomingLabel(call.media), tag: `callkit-${call.id}`, requireInteraction: true,
    });
    note.onclick = () => {
      window.focus();
      note.close();
    };
    kit.addEventListener("statechange", () => note.close(), { once: true });
    kit.addEventListener("answeredelsewhere", () => note.close(), { once: true });
  }
}

function stopAlerts() {
  ringtone.stop();
  ringback.stop();
  if (titleTimer) {
    clearInterval(titleTimer);
    titleTimer = null;
    document.title = baseTitle();
  }
}

function askNotificationPermission() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

function attach(element, stream) {
  if (element.srcObject !== stream) element.srcObject = stream;
  if (stream) element.play().catch(() => {});
}

let rejoining = false;
async function rejoin() {
  if (rejoining) return;
  rejoining = true;
  try {
    await kit.rejoin();
  } catch (error) {
    setError(error.message);
  } finally {
    rejoining = false;
  }
}

// --- SDK events ----------------------------------------------------------------------------

kit.addEventListener("moved", () => held.clear()); // before render: no auto-rejoin
for (const type of ["incoming", "ringing", "accepted", "answeredelsewhere", "statechange", "back", "moved"]) {
  kit.addEventListener(type, (e) => render(e.detail.call));
}
kit.addEventListener("ready", () => render(kit.currentCall));
kit.addEventListener("answeredelsewhere", () => {
  stopAlerts();
  show("idle");
  setStatus(gettext("Answered on another device"));
  root.hidden = false;
});
kit.addEventListener("moved", () => {
  attach(video.remote, null);
  attach(video.local, null);
});
kit.addEventListener("localstream", (e) => {
  attach(video.local, e.detail.stream);
  attach(video.preview, e.detail.stream);
  if (e.detail.call.thisDevice || e.detail.call.state === "ringing") held.set(e.detail.call.id);
});
kit.addEventListener("remotestream", (e) => attach(video.remote, e.detail.stream));
kit.addEventListener("connected", (e) => {
  $("connection").textContent = "";
  held.set(e.detail.call.id);
  render(e.detail.call);
});
kit.addEventListener("mediaconnection", (e) => {
  const words = { connecting: gettext("Connecting…"), reconnecting: gettext("Reconnecting…"), failed: gettext("Connection lost") };
  $("connection").textContent = words[e.detail.state] ?? "";
});
kit.addEventListener("mediastate", (e) => (e.detail.side === "local" ? renderLocalMedia(e.detail.call) : renderRemoteMedia(e.detail.call)));
kit.addEventListener("calltypechanged", (e) => {
  $("switch-request").hidden = true;
  $("switch-waiting").hidden = true;
  render(e.detail.call);
});
kit.addEventListener("switchrequested", (e) => {
  $("switch-request").hidden = e.detail.byMe;
  $("switch-waiting").hidden = !e.detail.byMe;
});
kit.addEventListener("switchdeclined", (e) => {
  $("switch-request").hidden = true;
  $("switch-waiting").hidden = true;
  if (e.detail.call.switchRequest === null) setStatus(gettext("Video was declined"));
});
kit.addEventListener("away", (e) => {
  const other = e.detail.call.role === "caller" ? "callee" : "caller";
  $("away").hidden = !e.detail.sides.includes(other);
});
kit.addEventListener("back", (e) => {
  const other = e.detail.call.role === "caller" ? "callee" : "caller";
  $("away").hidden = !e.detail.sides.includes(other);
});
kit.addEventListener("networkquality", (e) => {
  const words = ["–", gettext("Bad"), gettext("Poor"), gettext("Fair"), gettext("Good"), gettext("Excellent")];
  const labels = { local: gettext("Your network: %(quality)s"), remote: gettext("Their network: %(quality)s") };
  for (const side of ["local", "remote"]) {
    const el = $(`quality-${side}`);
    el.dataset.level = String(e.detail[side].level);
    el.textContent = interpolate(labels[side], { quality: words[e.detail[side].level] });
  }
});
kit.addEventListener("ended", (e) => {
  const { call } = e.detail;
  held.clear();
  stopAlerts();
  stopTimer();
  attach(video.remote, null);
  attach(video.local, null);
  attach(video.preview, null);
  $("switch-request").hidden = true;
  setStatus(billText(call.bill, call.role));
  show("ended");
  root.hidden = false;
});
kit.addEventListener("ended", () => refreshHistory());
kit.addEventListener("error", (e) => {
  // Signed out elsewhere (or the password changed): this page needs a login now; reloading gets it.
  if (e.detail.code === "signed_out") location.reload();
  else setError(e.detail.message);
});
kit.addEventListener("connection", (e) => {
  root.dataset.connection = e.detail.state;
});

// --- user actions --------------------------------------------------------------------------

const actions = {
  accept: () => kit.accept(),
  reject: () => kit.reject(),
  cancel: () => kit.cancel(),
  hangup: () => kit.hangup(),
  join: () => rejoin(),
  mic: () => kit.setMicrophoneEnabled(!kit.currentCall.localMedia.mic),
  camera: () => kit.setCameraEnabled(!kit.currentCall.localMedia.camera),
  "switch-camera": () => kit.switchCamera(),
  "switch-type": () => kit.switchCallType(kit.currentCall.media === "video" ? "audio" : "video"),
  "switch-agree": () => kit.answerSwitch(true),
  "switch-decline": () => kit.answerSwitch(false),
  devices: () => toggleDevices(),
  dismiss: () => {
    setStatus("");
    setError("");
    show("idle");
  },
};

root.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-ck-action]");
  if (!button) return;
  setError("");
  try {
    await actions[button.dataset.ckAction]?.();
  } catch (error) {
    setError(error.message);
  }
});

// Call buttons anywhere on any page (they come and go with htmx swaps).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-call-user]");
  if (!button) return;
  setError("");
  setStatus("");
  askNotificationPermission();
  try {
    await kit.call(Number(button.dataset.callUser), { media: button.dataset.callMedia });
  } catch (error) {
    setError(error.message);
    root.hidden = false;
  }
});

async function toggleDevices() {
  const panel = $("devices");
  const open = panel.hidden;
  panel.hidden = !open;
  action("devices").setAttribute("aria-expanded", String(open));
  if (!open) return;
  const { microphones, cameras, speakers, selected } = await kit.listDevices();
  fill("microphone", microphones, selected.microphoneId);
  fill("camera", cameras, selected.cameraId);
  fill("speaker", speakers, selected.speakerId);
  $("speaker-choice").hidden = speakers.length === 0;
}

function fill(kind, devices, selectedId) {
  const select = root.querySelector(`[data-ck-device="${kind}"]`);
  select.replaceChildren(
    ...devices.map((d) => {
      const option = document.createElement("option");
      option.value = d.id;
      option.textContent = d.label;
      option.selected = d.id === selectedId;
      return option;
    }),
  );
}

root.addEventListener("change", async (event) => {
  const kind = event.target.dataset?.ckDevice;
  if (!kind) return;
  try {
    if (kind === "microphone") await kit.useMicrophone(event.target.value);
    if (kind === "camera") await kit.useCamera(event.target.value);
    if (kind === "speaker") await kit.useSpeaker(event.target.value, video.remote);
  } catch (error) {
    setError(error.message);
  }
});

// --- the page around the call UI: live history rows, the missed-call badge, the time zone ---

/** A call just ended: add its row to an open history page and update the badge. */
function refreshHistory() {
  const htmx = window.htmx;
  if (!htmx) return;
  const list = document.querySelector("[data-history-live]");
  if (list) {
    const newest = list.querySelector("[data-entry-id]")?.dataset.entryId ?? "0";
    const url = `${list.dataset.newUrl}&newer_than=${encodeURIComponent(newest)}`;
    htmx.ajax("GET", url, { target: list, swap: "afterbegin" }).then(() => {
      list.parentElement?.querySelector(".empty")?.remove();
      // The user is looking at these rows: they are seen (a POST; showing them changed nothing).
      const badge = document.getElementById("missed-badge");
      if (badge) htmx.ajax("POST", list.dataset.seenUrl, { source: list, target: badge, swap: "outerHTML" });
    });
  } else {
    updateBadge();
  }
}

function updateBadge() {
  const badge = document.getElementById("missed-badge");
  if (badge) window.htmx.ajax("GET", badge.dataset.url, { target: badge, swap: "outerHTML" });
}

try {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
} catch {
  /* no Intl time zone: times stay in UTC */
}

kit.connect().catch((error) => setError(error.message));
