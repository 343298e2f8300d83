// The default call UI, built only on the SDK's public API (callkit.js). It lives in the page
// shell (templates/calls/_callkit.html), so a call survives htmx navigation between pages.
// This module wires SDK events to the parts in ui/: stage (views and text), controls (the
// buttons), floating (minimise, full screen, PiP, the self view), billcard, attention.

import { CallKit, billText, gettext, interpolate } from "./callkit.js";
import { attach, attempt, root, $, action } from "./ui/dom.js";
import {
  initStage, renderCall, renderCountdown, renderLocalMedia, renderNotice, renderQuality, renderRemoteMedia,
  setError, setStatus, show, startTimer, stopTimer, viewFor,
} from "./ui/stage.js";
import { focusIncoming, initControls } from "./ui/controls.js";
import { initFloating, leaveWindows } from "./ui/floating.js";
import { closeCard, initBillCard, noteMissed, showBill } from "./ui/billcard.js";
import { askNotificationPermission, initBanner, startIncoming, startOutgoing, stopAlerts } from "./ui/attention.js";

// On the embed page the socket proves who it is with the page's token (an iframe sends no cookies).
const kit = new CallKit({ token: document.body.dataset.token || undefined, language: document.body.dataset.lang || undefined });
window.callkit = kit; // for the console, custom scripts and tests
export { kit };
// The call id this tab held (survives a reload, not a new tab). A cross-site iframe may be
// denied storage (third-party storage blocked): then a reload simply does not auto-rejoin.
const held = {
  get: () => attempt(() => sessionStorage.getItem("callkit.held")),
  set: (id) => attempt(() => sessionStorage.setItem("callkit.held", id)),
  clear: () => attempt(() => sessionStorage.removeItem("callkit.held")),
};
// Kept here: Document PiP may show the remote stream elsewhere, these stay the call's elements.
const video = { remote: $("remote-video"), local: $("local-video"), preview: $("preview") };
const actions = { join: () => rejoin(), "dismiss-elsewhere": () => show("idle") };
let autoRejoined = false;
let shownCallId = null;
let countdown = null;

initStage(kit);
initControls(kit, actions);
initFloating(kit, actions);
initBillCard(kit, actions);
initBanner();

// --- rendering -----------------------------------------------------------------------------

function render(call) {
  stopAlerts();
  clearInterval(countdown);
  if (!call) return show("idle");
  if (call.id !== shownCallId && call.state !== "ended") {
    shownCallId = call.id;
    setError(""); // an error from before this call is not about it
    closeCard();
  }
  renderCall(call);
  const view = viewFor(call);
  if (view !== "incoming") delete root.dataset.preview;
  if (view === "incoming") startIncoming(call);
  if (view === "outgoing") {
    startOutgoing();
    renderCountdown(call);
    countdown = setInterval(() => renderCountdown(call), 1000);
  }
  if (view === "elsewhere") renderElsewhere(call);
  if (view === "incall") startTimer();
  else stopTimer();
  if (view === "ended") return;
  setStatus("");
  if (view !== "incall") $("call-status").textContent = "";
  show(view);
  renderNotice();
  if (view === "incoming") focusIncoming();
}

function renderElsewhere(call) {
  $("elsewhere-label").textContent = call.state === "ringing"
    ? interpolate(gettext("Calling %(name)s on another device."), { name: call.peer.name })
    : interpolate(gettext("In a call with %(name)s on another device."), { name: call.peer.name });
  action("join").hidden = call.state !== "active";
  if (held.get() === call.id && call.state === "active" && !autoRejoined) {
    autoRejoined = true; // once per page load: this very tab was reloaded mid-call
    rejoin();
  }
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
kit.addEventListener("answeredelsewhere", (e) => {
  stopAlerts();
  setError("");
  showBill(e.detail.call, gettext("Answered on another device"), false, { callBack: false });
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
kit.addEventListener("preview", (e) => {
  attach(video.preview, e.detail.stream);
  root.dataset.preview = "on";
});
kit.addEventListener("connected", (e) => {
  held.set(e.detail.call.id);
  render(e.detail.call);
});
kit.addEventListener("mediaconnection", () => renderNotice());
kit.addEventListener("connection", () => renderNotice());
kit.addEventListener("away", () => renderNotice());
kit.addEventListener("mediastate", (e) => (e.detail.side === "local" ? renderLocalMedia(e.detail.call) : renderRemoteMedia(e.detail.call)));
kit.addEventListener("calltypechanged", (e) => {
  $("switch-request").hidden = true;
  $("switch-waiting").hidden = true;
  $("call-status").textContent = "";
  if (e.detail.call.media === "audio") root.dataset.swapped = "false";
  render(e.detail.call);
});
kit.addEventListener("switchrequested", (e) => {
  $("switch-request").hidden = e.detail.byMe;
  $("switch-waiting").hidden = !e.detail.byMe;
});
kit.addEventListener("switchdeclined", (e) => {
  $("switch-request").hidden = true;
  $("switch-waiting").hidden = true;
  if (e.detail.call.switchRequest === null) $("call-status").textContent = gettext("Video was declined");
});
kit.addEventListener("networkquality", (e) => renderQuality(e.detail.local, e.detail.remote));
kit.addEventListener("ended", (e) => {
  const { call } = e.detail;
  held.clear();
  stopAlerts();
  stopTimer();
  clearInterval(countdown);
  leaveWindows();
  attach(video.remote, null);
  attach(video.local, null);
  attach(video.preview, null);
  $("switch-request").hidden = true;
  $("devices").hidden = true;
  showBill(call, billText(call.bill, call.role), e.detail.missed);
  refreshHistory();
});
kit.addEventListener("missed", (e) => {
  noteMissed(e.detail.call);
  updateBadge();
});
kit.addEventListener("error", (e) => {
  // Signed out elsewhere (or the password changed): this page needs a login now; reloading gets it.
  if (e.detail.code === "signed_out") location.reload();
  else setError(e.detail.message);
});

// Call buttons anywhere on any page (they come and go with htmx swaps).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-call-user]");
  if (!button) return;
  setError("");
  askNotificationPermission();
  try {
    await kit.call(Number(button.dataset.callUser), { media: button.dataset.callMedia });
  } catch (error) {
    setError(error.message);
  }
});
// While the stage covers the page, the page under it is inert: Tab stays in the call (the
// site header above the stage stays usable: its links minimise the call).
const page = document.querySelector("main");
new MutationObserver(() => {
  const covered = root.dataset.layout === "stage" && ["outgoing", "incoming", "elsewhere", "incall"].includes(root.dataset.state);
  if (page && page.inert !== covered) page.inert = covered;
}).observe(root, { attributes: true, attributeFilter: ["data-state", "data-layout", "hidden"] });
// Their small picture (when swapped) swaps back on a click.
video.remote.addEventListener("click", () => {
  if (root.dataset.swapped === "true") root.dataset.swapped = "false";
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
  if (badge && window.htmx) window.htmx.ajax("GET", badge.dataset.url, { target: badge, swap: "outerHTML" });
}

try {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
} catch {
  /* no Intl time zone: times stay in UTC */
}

kit.connect().catch((error) => setError(error.message));
