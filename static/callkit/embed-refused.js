// The refused embed page (a bad or expired token): tell the host page, as an `error` event
// (docs/embedding.md), so it can mint a new token instead of showing a dead frame.

const allowed = JSON.parse(document.body.dataset.origins || "[]");
const framer = location.ancestorOrigins?.[0] ?? (document.referrer ? new URL(document.referrer).origin : null);
if (window.parent !== window && framer && allowed.includes(framer)) {
  const message = document.querySelector("[data-refusal]")?.textContent.trim() ?? "";
  window.parent.postMessage({ source: "callkit", version: 1, type: "error", code: "token_refused", message }, framer);
}
