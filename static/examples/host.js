// The host side of the embed's postMessage API. The part a site needs is the first ten lines;
// the rest wires this demo page's buttons and event list.
const params = new URLSearchParams(location.search);
const CALLKIT = new URL(params.get("server") ?? "http://127.0.0.1:8000").origin; // where CallKit runs
const frame = document.getElementById("callkit");
frame.src = `${CALLKIT}/embed/?${new URLSearchParams({ token: params.get("token") ?? "", lang: params.get("lang") ?? "en" })}`;
const send = (command, args = {}) => frame.contentWindow.postMessage({ target: "callkit", command, ...args }, CALLKIT);
window.addEventListener("message", (event) => {
  if (event.origin !== CALLKIT || event.source !== frame.contentWindow || event.data?.source !== "callkit") return;
  onCallKitEvent(event.data); // ready, incoming, ringing, connected, ended (with the bill), error, result, …
});

// --- this demo's page ------------------------------------------------------------------------

window.hostEvents = [];
window.callkitHost = { send };

function onCallKitEvent(data) {
  window.hostEvents.push(data);
  const item = document.createElement("li");
  item.dataset.type = data.type;
  const who = data.call?.peer?.name ? ` ${data.call.peer.name}` : "";
  const bill = data.bill ? ` ${data.bill.status} ${data.bill.duration}s` : "";
  item.textContent = `${data.type}${who}${bill}${data.error ? ` ${data.error.code}` : ""}`;
  document.getElementById("events").append(item);
}

document.getElementById("dial").addEventListener("submit", (event) => {
  event.preventDefault();
  send("call", { user: document.getElementById("who").value, media: event.submitter?.value ?? "video" });
});
for (const button of document.querySelectorAll("[data-command]")) {
  button.addEventListener("click", () => send(button.dataset.command));
}
