// The buttons of the call screen: what each does, the devices panel, and controls that rest.

import { $, action, root } from "./dom.js";
import { setError } from "./stage.js";

const REST_AFTER_MS = 3500;
let restTimer = null;

/** Wire every [data-ck-action] button to `actions[name]`; a failure shows as an error. */
export function initControls(kit, actions) {
  Object.assign(actions, {
    accept: () => kit.accept(),
    "accept-audio": () => kit.accept({ media: "audio" }),
    reject: () => kit.reject(),
    cancel: () => kit.cancel(),
    hangup: () => kit.hangup(),
    mic: () => kit.setMicrophoneEnabled(!kit.currentCall.localMedia.mic),
    camera: () => kit.setCameraEnabled(!kit.currentCall.localMedia.camera),
    "switch-camera": () => kit.switchCamera(),
    "switch-type": () => kit.switchCallType(kit.currentCall.media === "video" ? "audio" : "video"),
    "switch-agree": () => kit.answerSwitch(true),
    "switch-decline": () => kit.answerSwitch(false),
    devices: () => toggleDevices(kit),
  });
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
  root.addEventListener("change", (event) => chooseDevice(kit, event.target));
  initIncomingKeys(kit);
  initResting();
}

// Incoming: focus goes to Accept, so Enter answers. Escape deliberately does nothing: a
// reject cannot be undone and tells the caller "Declined", and Escape is the key people press
// to close whatever else is open (a menu, a tooltip); a call is declined only with Reject.
function initIncomingKeys(kit) {
  const dialog = root.querySelector('[data-view="incoming"]');
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") event.preventDefault();
    if (event.key === "Enter" && !event.target.closest("button")) {
      event.preventDefault();
      kit.accept().catch((error) => setError(error.message));
    }
  });
}

/** Move focus into the incoming dialog (its Accept button) when it appears. */
export function focusIncoming() {
  const accept = action("accept");
  if (document.activeElement !== accept) accept.focus({ preventScroll: true });
}

// During a video call the top bar and controls fade after a few still seconds; a pointer
// move, a touch, a key or focus inside brings them back.
function initResting() {
  const wake = () => {
    if (root.dataset.chrome === "hidden") delete root.dataset.chrome;
    clearTimeout(restTimer);
    restTimer = setTimeout(rest, REST_AFTER_MS);
  };
  for (const type of ["pointermove", "pointerdown", "keydown", "focusin"]) root.addEventListener(type, wake);
  new MutationObserver(wake).observe(root, { attributes: true, attributeFilter: ["data-state", "data-media", "data-layout"] });
}

function rest() {
  // Keyboard focus keeps them (a keyboard user must see where they are); a clicked button does not.
  const busy = !!root.querySelector(":focus-visible") || !$("devices").hidden || !$("switch-request").hidden;
  if (root.dataset.state === "incall" && root.dataset.media === "video" && root.dataset.layout === "stage" && !busy) {
    root.dataset.chrome = "hidden";
  }
}

async function toggleDevices(kit) {
  const panel = $("devices");
  const open = panel.hidden;
  panel.hidden = !open;
  action("devices").setAttribute("aria-expanded", String(open));
  action("devices").dataset.active = String(open);
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

async function chooseDevice(kit, target) {
  const kind = target.dataset?.ckDevice;
  if (!kind) return;
  try {
    if (kind === "microphone") await kit.useMicrophone(target.value);
    if (kind === "camera") await kit.useCamera(target.value);
    if (kind === "speaker") await kit.useSpeaker(target.value, $("remote-video"));
  } catch (error) {
    setError(error.message);
  }
}
