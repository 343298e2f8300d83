// The stage: which view shows (ringing, incoming, in a call, the bill) and what it says.

import { formatDuration, gettext, interpolate } from "../callkit.js";
import { $, $$, action, initials, root, setIcon, setText } from "./dom.js";

let kit = null;
let timer = null;
let levels = null;

/** Bind the stage to the SDK instance it shows. */
export function initStage(callkit) {
  kit = callkit;
}

/** Which view a call needs on this tab. */
export function viewFor(call) {
  if (!call || call.state === "ended") return "ended";
  if (!call.thisDevice) {
    if (call.state === "ringing" && call.role === "callee") return "incoming";
    return "elsewhere";
  }
  return call.state === "ringing" ? "outgoing" : "incall";
}

/** Show `view`; #callkit hides when idle with nothing to say. */
export function show(view) {
  const idle = view === "idle";
  root.dataset.state = view;
  for (const el of root.querySelectorAll("[data-view]")) el.hidden = el.dataset.view !== view;
  if (view !== "incall" && view !== "outgoing") root.dataset.layout = "stage";
  root.hidden = idle && !$("error").textContent && $("missed").hidden;
  if (view !== "incall") delete root.dataset.chrome;
}

/** The bill text or another short status (role=status, on the bill card). */
export function setStatus(text) {
  $("status").textContent = text;
}

/** An error, shown where the user looks: on the stage in a call, as a card otherwise. */
export function setError(text) {
  $("error").textContent = text;
  if (text && root.hidden) root.hidden = false;
  if (!text && root.dataset.state === "idle") show("idle");
}

function incomingLabel(media) {
  return media === "video" ? gettext("Incoming video call") : gettext("Incoming audio call");
}

/** Names, avatars, media, labels and toggles for `call`. */
export function renderCall(call) {
  setText("peer-name", call.peer.name);
  setText("avatar", initials(call.peer.name));
  setText("media-label", call.media === "video" ? gettext("Video call") : gettext("Audio call"));
  setText("incoming-label", incomingLabel(call.media));
  root.dataset.media = call.media;
  $("answer-audio").hidden = call.media !== "video";
  setIcon(action("accept").querySelector("svg"), call.media === "video" ? "ck-video" : "ck-phone");
  const toAudio = call.media === "video";
  const switchType = action("switch-type");
  switchType.querySelector("[data-name]").textContent = toAudio ? gettext("Switch to audio") : gettext("Switch to video");
  switchType.querySelector(".ck-label").textContent = toAudio ? gettext("Audio") : gettext("Video");
  setIcon(switchType.querySelector("svg"), toAudio ? "ck-phone" : "ck-video");
  renderLocalMedia(call);
  renderRemoteMedia(call);
}

/** The mic and camera toggles: their name changes (the contract); no aria-pressed. */
export function renderLocalMedia(call) {
  const { mic, camera } = call.localMedia;
  toggle(action("mic"), mic, [gettext("Mute microphone"), gettext("Mute"), "ck-mic"], [gettext("Unmute microphone"), gettext("Unmute"), "ck-mic-off"]);
  toggle(action("camera"), camera, [gettext("Turn camera off"), gettext("Camera off"), "ck-video"], [gettext("Turn camera on"), gettext("Camera on"), "ck-video-off"]);
  root.dataset.localCamera = camera ? "on" : "off";
}

function toggle(button, on, [onName, onLabel, onIcon], [offName, offLabel, offIcon]) {
  // The name is the button's (screen-reader-only) text: an aria-label would also match a
  // search for the device menus' labels ("Microphone", "Camera").
  button.querySelector("[data-name]").textContent = on ? onName : offName;
  button.querySelector(".ck-label").textContent = on ? onLabel : offLabel;
  setIcon(button.querySelector("svg"), on ? onIcon : offIcon);
  button.dataset.active = String(!on); // drawn light while the device is off
}

/** Their microphone and camera, as pills and as their avatar over the video. */
export function renderRemoteMedia(call) {
  $("remote-mic-off").hidden = call.remoteMedia.mic;
  $("remote-camera-off").hidden = call.remoteMedia.camera || call.media !== "video";
  root.dataset.remoteCamera = call.remoteMedia.camera ? "on" : "off";
}

/** The one line on the stage about the connection: ours, the media's, or theirs. */
export function renderNotice() {
  const call = kit.currentCall;
  let text = "";
  const live = call && call.state !== "ended" && (call.thisDevice || call.state === "active");
  if (live && ["reconnecting", "connecting"].includes(kit.connectionState)) {
    text = gettext("Reconnecting…"); // our own socket is down; media may still flow
  } else if (call && call.thisDevice && call.state === "active") {
    const other = call.role === "caller" ? "callee" : "caller";
    if (call.connection === "failed") text = gettext("Connection lost");
    else if (call.connection === "reconnecting" || call.info.away?.includes(other)) text = gettext("Reconnecting…");
    else if (call.connection !== "connected") text = gettext("Connecting…");
  }
  $("connection").textContent = text;
  root.dataset.connection = kit.connectionState;
}

/** Start the call timer (in the top bar and on the floating window). */
export function startTimer() {
  if (timer) return;
  const tick = () => {
    const text = formatDuration(kit.elapsedMs() / 1000);
    $("timer").textContent = text;
    $("float-timer").textContent = text;
  };
  tick();
  timer = setInterval(tick, 500);
  startLevels();
}

export function stopTimer() {
  clearInterval(timer);
  timer = null;
  stopLevels();
}

/** Seconds left before an unanswered call gives up, under "Waiting for an answer…". */
export function renderCountdown(call) {
  const ringFor = Number(call.info.ring_timeout ?? kit.config?.ring_timeout ?? 0);
  const started = Date.parse(call.info.created_at);
  if (!ringFor || Number.isNaN(started)) return ($("countdown").textContent = "");
  const left = Math.max(0, Math.ceil(ringFor - (Date.now() - started) / 1000));
  $("countdown").textContent = interpolate(gettext("%(seconds)s s"), { seconds: left });
}

/** Network quality: bars for the worse side; the words for screen readers and tests. */
export function renderQuality(local, remote) {
  const words = ["–", gettext("Bad"), gettext("Poor"), gettext("Fair"), gettext("Good"), gettext("Excellent")];
  const labels = { local: gettext("Your network: %(quality)s"), remote: gettext("Their network: %(quality)s") };
  for (const [side, q] of Object.entries({ local, remote })) {
    const el = $(`quality-${side}`);
    el.dataset.level = String(q.level);
    el.textContent = interpolate(labels[side], { quality: words[q.level] });
  }
  const worst = Math.min(local.level || 5, remote.level || 5);
  $("bars").dataset.level = String(local.level || remote.level ? worst : 0);
}

// Audio level ring (them) and meter (you) in audio calls, from getStats.
function startLevels() {
  if (levels) return;
  levels = setInterval(async () => {
    if (root.dataset.media !== "audio") return;
    const report = await kit.getStats().catch(() => null);
    let theirs = 0;
    let mine = 0;
    report?.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") theirs = s.audioLevel ?? 0;
      if (s.type === "media-source" && s.kind === "audio") mine = s.audioLevel ?? 0;
    });
    const scale = (x) => Math.min(1, Math.sqrt(x) * 1.6).toFixed(2);
    $("level-remote").style.setProperty("--ck-level", scale(theirs));
    $("meter-local").style.setProperty("--ck-level", scale(mine));
  }, 300);
}

function stopLevels() {
  clearInterval(levels);
  levels = null;
}

export { $$ };
