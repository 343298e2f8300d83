// How a call's bill reads to each side (product.md, "Outcomes and how they read").

import { gettext } from "./i18n.js";

/** "mm:ss", or "h:mm:ss" past an hour. */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

const CALLER = {
  canceled: () => gettext("Canceled"),
  rejected: () => gettext("Declined"),
  timeout: () => gettext("No answer"),
  busy: () => gettext("Busy"),
  failed: () => gettext("Call failed"),
};
const CALLEE = {
  canceled: () => gettext("Missed call"),
  rejected: () => gettext("Declined"),
  timeout: () => gettext("Missed call"),
  busy: () => gettext("Missed call"),
  failed: () => gettext("Call failed"),
};

/**
 * The bill's text for one side: "Video call · 02:15", "Missed call", …
 * @param {{status: string, media: string, duration: number}} call
 * @param {"caller"|"callee"} role
 */
export function billText(call, role) {
  if (call.status === "completed") {
    const kind = call.media === "video" ? gettext("Video call") : gettext("Audio call");
    return `${kind} · ${formatDuration(call.duration)}`;
  }
  const text = (role === "caller" ? CALLER : CALLEE)[call.status];
  return text ? text() : gettext("Call ended");
}

/** Whether the bill is a missed call for this side. */
export function isMissed(call, role) {
  return role === "callee" && ["canceled", "timeout", "busy"].includes(call.status);
}
