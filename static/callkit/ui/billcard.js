// After a call: the bill as a card (who, outcome, time, Call back, Close) that closes by itself
// unless the user is on it; and missed-call notices for calls that tried you during a call.

import { gettext, interpolate } from "../callkit.js";
import { $, icon, initials, root, setIcon, setText } from "./dom.js";
import { setError, setStatus, show } from "./stage.js";

const CLOSE_AFTER_MS = 12000;
let closeTimer = null;
let lastPeer = null;
let kit = null;
const pendingMissed = [];

/** Add the card's actions to `actions`; the card stays while hovered or focused. */
export function initBillCard(callkit, actions) {
  kit = callkit;
  Object.assign(actions, {
    dismiss: () => closeCard(),
    "call-back-audio": () => callBack(lastPeer, "audio"),
    "call-back-video": () => callBack(lastPeer, "video"),
  });
  const card = root.querySelector('[data-view="ended"]');
  for (const type of ["pointerenter", "focusin"]) card.addEventListener(type, () => clearTimeout(closeTimer));
  card.addEventListener("keydown", (e) => e.key === "Escape" && closeCard());
  card.addEventListener("pointerleave", () => !card.matches(":focus-within") && scheduleClose());
  card.addEventListener("focusout", (e) => !card.contains(e.relatedTarget) && !card.matches(":hover") && scheduleClose());
}

function time(date) {
  return date.toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Show the bill card for an ended `call` (text: the bill as this side reads it). */
export function showBill(call, text, missed, { callBack = true } = {}) {
  lastPeer = call.peer;
  $("call-back").hidden = !callBack;
  setStatus(text);
  setText("peer-name", call.peer.name);
  setText("avatar", initials(call.peer.name));
  root.dataset.missed = String(missed);
  const outgoing = call.role === "caller";
  setIcon($("outcome-icon"), missed ? "ck-missed" : outgoing ? "ck-outgoing" : "ck-incoming");
  if (!callBack) setIcon($("outcome-icon"), "ck-check");
  const ended = call.info.ended_at ? new Date(call.info.ended_at) : new Date();
  const stamp = $("bill-time");
  stamp.dateTime = ended.toISOString();
  stamp.textContent = time(ended);
  show("ended");
  flushMissed();
  scheduleClose();
}

function scheduleClose() {
  clearTimeout(closeTimer);
  closeTimer = setTimeout(closeCard, CLOSE_AFTER_MS);
}

/** Close the bill card (Close, or by itself). */
export function closeCard() {
  clearTimeout(closeTimer);
  if (root.dataset.state !== "ended") return;
  setStatus("");
  setError("");
  show("idle");
}

async function callBack(peer, media) {
  if (!peer) return;
  closeCard();
  await kit.call(peer.id, { media });
}

/** A call that tried you while you were in another: noted now, shown when your call ends. */
export function noteMissed(call) {
  pendingMissed.push({ peer: call.peer, media: call.media, at: call.info.ended_at ? new Date(call.info.ended_at) : new Date() });
  if (!kit.currentCall || kit.currentCall.state === "ended") flushMissed();
}

function flushMissed() {
  const list = $("missed");
  while (pendingMissed.length) list.append(missedItem(pendingMissed.shift()));
  list.hidden = list.children.length === 0;
  if (!list.hidden) root.hidden = false;
}

function missedItem({ peer, media, at }) {
  const item = document.createElement("li");
  const text = document.createElement("span");
  const kind = media === "video" ? gettext("Missed video call") : gettext("Missed audio call");
  text.textContent = `${interpolate(gettext("%(kind)s from %(name)s"), { kind, name: peer.name })} · ${time(at)}`;
  const outcome = icon("ck-missed");
  outcome.classList.add("ck-outcome");
  const back = button(icon(media === "video" ? "ck-video" : "ck-phone"), interpolate(gettext("Call back %(name)s"), { name: peer.name }));
  back.addEventListener("click", () => {
    item.remove();
    tidyMissed();
    callBack(peer, media).catch((e) => setError(e.message));
  });
  const close = button(icon("ck-close"), gettext("Dismiss"));
  close.addEventListener("click", () => {
    item.remove();
    tidyMissed();
  });
  item.append(outcome, text, back, close);
  return item;
}

function button(svg, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "ck-icon-button";
  b.setAttribute("aria-label", label);
  b.append(svg);
  return b;
}

function tidyMissed() {
  const list = $("missed");
  list.hidden = list.children.length === 0;
  if (root.dataset.state === "idle") show("idle");
}
