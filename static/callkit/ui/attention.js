// Getting the user's attention: ringtone and ringback, a flashing title, a system notification
// when the tab is hidden, and the first-visit banner that makes both possible with one click.

import { Tone, gettext, interpolate, unlockAudioOnGesture } from "../callkit.js";
import { attempt } from "./dom.js";

const ringtone = new Tone("ringtone");
const ringback = new Tone("ringback");
const BANNER_KEY = "callkit.attention";
let titleTimer = null;
let note = null;
const baseTitle = () => document.title.replace(/^📞 .*? · /, "");

function isCallingText(name) {
  return interpolate(gettext("%(name)s is calling"), { name });
}

/** Ring, flash the title, and notify a hidden tab: someone calls. */
export function startIncoming(call) {
  ringtone.start();
  const title = baseTitle();
  let on = false;
  titleTimer = setInterval(() => {
    on = !on;
    document.title = on ? `📞 ${isCallingText(call.peer.name)} · ${title}` : title;
  }, 1000);
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    const body = call.media === "video" ? gettext("Incoming video call") : gettext("Incoming audio call");
    note = new Notification(isCallingText(call.peer.name), { body, tag: `callkit-${call.id}`, requireInteraction: true });
    note.onclick = () => {
      window.focus();
      note?.close();
    };
  }
}

/** Ringback while our call rings at the other side. */
export function startOutgoing() {
  ringback.start();
}

/** Silence everything and restore the title. */
export function stopAlerts() {
  ringtone.stop();
  ringback.stop();
  note?.close();
  note = null;
  if (titleTimer) {
    clearInterval(titleTimer);
    titleTimer = null;
    document.title = baseTitle();
  }
}

/** Ask for notifications when a user places a call (a gesture; harmless if answered). */
export function askNotificationPermission() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

// A user who only receives calls never clicks a call button: the banner asks once, and the
// click on it is also the gesture that lets the page play the ringtone later.
export function initBanner() {
  unlockAudioOnGesture();
  const banner = document.querySelector("[data-ck-attention]");
  if (!banner || document.documentElement.classList.contains("embed")) return;
  const wanted = "Notification" in window && Notification.permission === "default";
  if (!wanted || attempt(() => localStorage.getItem(BANNER_KEY))) return;
  banner.hidden = false;
  const done = (value) => {
    attempt(() => localStorage.setItem(BANNER_KEY, value));
    banner.hidden = true;
  };
  banner.addEventListener("click", async (event) => {
    const choice = event.target.closest("[data-ck-attention]")?.dataset.ckAttention;
    if (choice === "dismiss") done("dismissed");
    if (choice === "enable") {
      done("asked");
      await Notification.requestPermission().catch(() => {});
    }
  });
}
