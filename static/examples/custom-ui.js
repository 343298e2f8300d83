// A call UI of its own, built on the CallKit SDK's public API alone (docs/sdk.md): a full-screen
// stage, a contact list, an icon-and-label control bar, and a call log fed by the SDK's bill
// ("ended") events. It shares no code with the default UI (static/callkit/ui.js).

import { CallKit, Tone, formatDuration, unlockAudioOnGesture } from "/static/callkit/callkit.js";

// Django's JavaScript catalog (a script loaded before this module) translates; without it, English.
const gettext = globalThis.gettext ?? ((text) => text);
const interpolate = globalThis.interpolate ?? ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
const format = (text, values) => interpolate(text, values, true); // named %(…)s placeholders

const kit = new CallKit();
window.callkit = kit; // for the console and the tests

const $ = (name) => document.querySelector(`[data-cx="${name}"]`);
const body = document.body;
const remoteVideo = $("remote");
const selfVideo = $("self");
const ringtone = new Tone("ringtone");
const ringback = new Tone("ringback");
const HELD_KEY = "cx.held"; // the call this tab held: after a reload, take it back here
let timer = null;
let toastTimer = null;
let movedBack = false;

unlockAudioOnGesture();

// --- what to show --------------------------------------------------------------------------

/** The stage's view for a call: idle, incoming, outgoing, active or elsewhere. */
function viewOf(call) {
  if (!call || call.state === "ended") return "idle";
  if (!call.thisDevice) return call.state === "ringing" && call.role === "callee" ? "incoming" : "elsewhere";
  return call.state === "ringing" && call.role === "caller" ? "outgoing" : "active";
}

function render(call = kit.currentCall) {
  const view = viewOf(call);
  body.dataset.view = view;
  for (const el of document.querySelectorAll("[data-for]")) el.hidden = !el.dataset.for.split(" ").includes(view);
  ringtone[view === "incoming" ? "start" : "stop"]();
  ringback[view === "outgoing" ? "start" : "stop"]();
  if (view === "active") startTimer();
  else stopTimer();
  if (view === "idle") {
    $("ask").hidden = true;
    $("their-connection").hidden = true;
    return;
  }
  const name = call.peer.name;
  body.dataset.media = call.media;
  $("peer").textContent = name;
  $("portrait").textContent = initial(name);
  $("phase").textContent = phase(call, view);
  if (view === "incoming") {
    $("ring-initial").textContent = initial(name);
    $("ring-title").textContent = format(gettext("%(name)s is calling"), { name });
    $("ring-desc").textContent = call.media === "video" ? gettext("Video call") : gettext("Audio call");
    $("answer-voice").hidden = call.media !== "video";
  }
  if (view === "elsewhere") {
    $("elsewhere").textContent = call.state === "ringing"
      ? format(gettext("You are calling %(name)s from another tab or device."), { name })
      : format(gettext("You are talking to %(name)s on another tab or device."), { name });
    $("move-here").hidden = call.state !== "active";
    if (call.state === "active" && sessionStorage.getItem(HELD_KEY) === call.id && !movedBack) {
      movedBack = true; // once per page load: this very tab was reloaded mid-call
      kit.rejoin().catch((error) => toast(error.message));
    }
  }
  renderSelf(call);
  renderThem(call);
}

function phase(call, view) {
  if (view === "outgoing") return gettext("Ringing…");
  if (view === "elsewhere") return gettext("On another device");
  const words = { connecting: gettext("Connecting…"), reconnecting: gettext("Reconnecting…"), failed: gettext("Connection lost") };
  return words[call.connection] ?? (call.media === "video" ? gettext("Video call") : gettext("Audio call"));
}

function renderSelf(call) {
  const { mic, camera } = call.localMedia;
  document.querySelector('[data-do="mute"]').setAttribute("aria-pressed", String(!mic));
  $("camera").setAttribute("aria-pressed", String(!camera));
  $("camera").hidden = call.media !== "video";
  $("flip").hidden = call.media !== "video";
  $("switch-type").hidden = call.state !== "active";
  $("switch-type-label").textContent = call.media === "video" ? gettext("Audio only") : gettext("Add video");
  body.dataset.selfCamera = camera ? "on" : "off";
}

function renderThem(call) {
  const name = call.peer.name;
  const { mic, camera } = call.remoteMedia;
  $("their-mic").hidden = mic;
  $("their-mic").textContent = format(gettext("%(name)s is muted"), { name });
  $("their-camera").hidden = camera || call.media !== "video";
  $("their-camera").textContent = format(gettext("%(name)s turned video off"), { name });
  body.dataset.theirCamera = camera ? "on" : "off";
}

function renderAway(call, sides) {
  const other = call.role === "caller" ? "callee" : "caller";
  $("their-connection").hidden = !sides.includes(other);
  $("their-connection").textContent = format(gettext("%(name)s lost their connection; waiting for them…"), { name: call.peer.name });
}

function initial(name) {
  return name.slice(0, 1).toUpperCase();
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

function play(element, stream) {
  if (element.srcObject !== stream) element.srcObject = stream;
  if (stream) element.play().catch(() => {}); // autoplay may wait for a click: the video element retries
}

function toast(text) {
  $("toast").textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => ($("toast").textContent = ""), 6000);
}

/** One line in the call log, from a call's bill. */
function logBill(call, text, missed) {
  const item = document.createElement("li");
  item.className = "cx-entry";
  item.dataset.status = call.bill.status;
  item.dataset.missed = String(missed);
  const direction = document.createElement("span");
  direction.className = "cx-direction";
  direction.dataset.direction = call.direction;
  direction.textContent = call.direction === "outgoing" ? gettext("Outgoing") : gettext("Incoming");
  const who = document.createElement("strong");
  who.textContent = call.peer.name;
  const what = document.createElement("span");
  what.className = "cx-bill";
  what.textContent = text;
  const when = document.createElement("time");
  const ended = call.bill.ended_at ? new Date(call.bill.ended_at) : new Date();
  when.dateTime = ended.toISOString();
  when.textContent = ended.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  item.append(direction, who, what, when);
  $("log").prepend(item);
  $("log-empty").hidden = true;
}

// --- SDK events ----------------------------------------------------------------------------

for (const type of ["incoming", "ringing", "accepted", "statechange", "connected", "mediaconnection", "calltypechanged"]) {
  kit.addEventListener(type, (e) => render(e.detail.call));
}
kit.addEventListener("ready", () => render());
kit.addEventListener("answeredelsewhere", (e) => {
  render(e.detail.call);
  toast(gettext("Answered on another device"));
});
kit.addEventListener("moved", (e) => {
  sessionStorage.removeItem(HELD_KEY);
  play(remoteVideo, null);
  play(selfVideo, null);
  render(e.detail.call);
});
// Connect while it rings: your camera is open already; show yourself beside the incoming call.
kit.addEventListener("preview", (e) => play(selfVideo, e.detail.stream));
kit.addEventListener("localstream", (e) => {
  play(selfVideo, e.detail.stream);
  sessionStorage.setItem(HELD_KEY, e.detail.call.id);
});
kit.addEventListener("remotestream", (e) => play(remoteVideo, e.detail.stream));
kit.addEventListener("mediastate", (e) => (e.detail.side === "local" ? renderSelf(e.detail.call) : renderThem(e.detail.call)));
kit.addEventListener("switchrequested", (e) => {
  const name = e.detail.call.peer.name;
  if (e.detail.byMe) {
    $("phase").textContent = format(gettext("Asking %(name)s to turn on video…"), { name });
  } else {
    $("ask-title").textContent = format(gettext("%(name)s wants to turn on video"), { name });
    $("ask").hidden = false;
  }
});
kit.addEventListener("switchdeclined", (e) => {
  $("ask").hidden = true;
  if (e.detail.call.switchRequest === null) toast(format(gettext("%(name)s kept the call audio only"), { name: e.detail.call.peer.name }));
  render(e.detail.call);
});
kit.addEventListener("calltypechanged", () => ($("ask").hidden = true));
kit.addEventListener("away", (e) => renderAway(e.detail.call, e.detail.sides));
kit.addEventListener("back", (e) => {
  renderAway(e.detail.call, e.detail.sides);
  render(e.detail.call);
});
kit.addEventListener("networkquality", (e) => {
  const words = [gettext("unknown"), gettext("bad"), gettext("poor"), gettext("fair"), gettext("good"), gettext("excellent")];
  const level = e.detail.local.level;
  $("bars").dataset.level = String(level);
  $("bars").setAttribute("aria-label", format(gettext("Connection: %(quality)s"), { quality: words[level] }));
});
kit.addEventListener("ended", (e) => {
  const { call, text, missed } = e.detail;
  sessionStorage.removeItem(HELD_KEY);
  play(remoteVideo, null);
  play(selfVideo, null);
  logBill(call, text, missed);
  $("summary").textContent = format(gettext("%(name)s: %(bill)s"), { name: call.peer.name, bill: text });
  render(call);
});
kit.addEventListener("error", (e) => toast(e.detail.message));
kit.addEventListener("connection", (e) => {
  body.dataset.connection = e.detail.state;
  const words = { open: gettext("Online"), connecting: gettext("Connecting…"), reconnecting: gettext("Reconnecting…"), closed: gettext("Offline") };
  $("presence").textContent = words[e.detail.state] ?? "";
});

// --- what the user does --------------------------------------------------------------------

const actions = {
  answer: () => kit.accept(),
  "answer-voice": () => kit.accept({ media: "audio" }),
  decline: () => kit.reject(),
  mute: () => kit.setMicrophoneEnabled(!kit.currentCall.localMedia.mic),
  camera: () => kit.setCameraEnabled(!kit.currentCall.localMedia.camera),
  flip: () => kit.switchCamera(),
  "switch-type": () => kit.switchCallType(kit.currentCall.media === "video" ? "audio" : "video"),
  "allow-video": () => kit.answerSwitch(true),
  "refuse-video": () => kit.answerSwitch(false),
  "move-here": () => kit.rejoin(),
  end: () => kit.end(),
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-do], button[data-call]");
  if (!button) return;
  try {
    if (button.dataset.call) {
      $("summary").textContent = "";
      await kit.call(Number(button.dataset.call), { media: button.dataset.media });
    } else {
      if (button.closest('[data-cx="ask"]')) $("ask").hidden = true;
      await actions[button.dataset.do]();
    }
  } catch (error) {
    toast(error.message);
  }
});

$("filter").addEventListener("input", (event) => {
  const query = event.target.value.trim().toLowerCase();
  for (const item of document.querySelectorAll("[data-search]")) item.hidden = !item.dataset.search.includes(query);
});

kit.connect().catch((error) => toast(error.message));
