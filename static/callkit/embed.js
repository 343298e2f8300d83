// The embed page's side of the postMessage API (docs/embedding.md): the host page sends
// commands, this frame sends events. Both directions are pinned to one origin from
// CALLKIT_EMBED_ORIGINS: the page that framed us.

import { kit } from "./ui.js";

const allowed = JSON.parse(document.body.dataset.origins || "[]");
const VERSION = 1;

/** The framing page's origin, if it is one we may talk to (Chromium and Safari tell us it). */
function hostOrigin() {
  if (window.parent === window) return null;
  const framer = location.ancestorOrigins?.[0] ?? (document.referrer ? new URL(document.referrer).origin : null);
  return framer && allowed.includes(framer) ? framer : null;
}

const host = hostOrigin();

function post(type, detail = {}) {
  if (host) window.parent.postMessage({ source: "callkit", version: VERSION, type, ...detail }, host);
}

/** What the host may know about a call. */
function summary(call) {
  return {
    id: call.id, role: call.role, media: call.media, state: call.state,
    peer: { id: call.peer.id, username: call.peer.username, name: call.peer.name },
    thisDevice: call.thisDevice,
  };
}

// --- events: this frame → host -------------------------------------------------------------

kit.addEventListener("ready", (e) => post("ready", { user: e.detail.user }));
kit.addEventListener("incoming", (e) => post("incoming", { call: summary(e.detail.call) }));
kit.addEventListener("ringing", (e) => post("ringing", { call: summary(e.detail.call) }));
kit.addEventListener("connected", (e) => post("connected", { call: summary(e.detail.call) }));
kit.addEventListener("answeredelsewhere", (e) => post("answeredelsewhere", { call: summary(e.detail.call) }));
kit.addEventListener("ended", (e) => post("ended", {
  call: summary(e.detail.call), bill: structuredClone(e.detail.bill), text: e.detail.text, missed: e.detail.missed,
}));
kit.addEventListener("missed", (e) => post("missed", { call: summary(e.detail.call), text: e.detail.call.billText }));
kit.addEventListener("mediastate", (e) => post("mediastate", {
  call: summary(e.detail.call), side: e.detail.side,
  media: e.detail.side === "local" ? e.detail.call.localMedia : e.detail.call.remoteMedia,
}));
kit.addEventListener("error", (e) => post("error", { code: e.detail.code, message: e.detail.message }));
kit.addEventListener("connection", (e) => {
  post("connection", { state: e.detail.state });
  const label = document.querySelector("[data-embed-connection]");
  if (label) label.dataset.state = e.detail.state;
});

// --- commands: host → this frame -----------------------------------------------------------

const commands = {
  // `user`: a username (string) or a user id (number).
  call: (m) => kit.call(m.user, { media: m.media === "audio" ? "audio" : "video" }),
  accept: (m) => kit.accept(m.media ? { media: m.media } : {}),
  reject: () => kit.reject(),
  cancel: () => kit.cancel(),
  hangup: () => kit.hangup(),
  mute: () => kit.setMicrophoneEnabled(false),
  unmute: () => kit.setMicrophoneEnabled(true),
  cameraOff: () => kit.setCameraEnabled(false),
  cameraOn: () => kit.setCameraEnabled(true),
  switchCamera: () => kit.switchCamera(),
  switchCallType: (m) => kit.switchCallType(m.media),
  getState: () => (kit.currentCall ? summary(kit.currentCall) : null),
};

window.addEventListener("message", async (event) => {
  // Only the page that framed us, from an allowed origin; anything else is not a command.
  if (!host || event.origin !== host || event.source !== window.parent) return;
  const message = event.data;
  if (!message || typeof message !== "object" || message.target !== "callkit") return;
  const id = typeof message.id === "string" || typeof message.id === "number" ? message.id : null;
  const run = Object.hasOwn(commands, message.command) ? commands[message.command] : null;
  if (!run) {
    post("result", { id, ok: false, error: { code: "unknown_command", message: `Unknown command: ${String(message.command).slice(0, 40)}` } });
    return;
  }
  try {
    const value = await run(message);
    post("result", { id, ok: true, value: value && typeof value === "object" && "id" in value ? summary(value) : value ?? null });
  } catch (error) {
    post("result", { id, ok: false, error: { code: error.code ?? "failed", message: error.message } });
  }
});

// --- the frame's own dialer ----------------------------------------------------------------

document.querySelector("[data-embed-dial]")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const media = event.submitter?.value === "audio" ? "audio" : "video";
  try {
    await kit.call(form.elements.to.value.trim(), { media });
  } catch {
    /* the SDK's error event has shown it and told the host */
  }
});
