// Local media: getUserMedia with clear error codes, device lists, and camera switching.

import { gettext } from "./i18n.js";

export class MediaError extends Error {
  constructor(code, message, cause) {
    super(message);
    this.code = code; // "permission_denied" | "no_device" | "device_busy" | "unsupported" | "media_error"
    this.cause = cause;
  }
}

// Functions, not strings: the catalog may load after this module is evaluated.
const MESSAGES = {
  permission_denied: () => gettext("Access to the microphone or camera was denied. Allow it in the browser's site settings."),
  no_device: () => gettext("No microphone or camera was found."),
  device_busy: () => gettext("The microphone or camera is in use by another application."),
  unsupported: () => gettext("This browser cannot use a microphone or camera here (a secure https:// page is needed)."),
  media_error: () => gettext("The microphone or camera could not be started."),
};

/** Turn a getUserMedia failure into a MediaError with a code. */
export function mediaError(error) {
  const code =
    {
      NotAllowedError: "permission_denied",
      SecurityError: "permission_denied",
      NotFoundError: "no_device",
      OverconstrainedError: "no_device",
      NotReadableError: "device_busy",
      AbortError: "device_busy",
    }[error?.name] ?? "media_error";
  return new MediaError(code, MESSAGES[code](), error);
}

/**
 * Open the microphone (and camera for video). A video call with no usable camera goes on as
 * audio: the result says so with `videoError`.
 * @returns {Promise<{stream: MediaStream, videoError: MediaError|null}>}
 */
export async function openLocalMedia(media, { microphoneId, cameraId, facingMode } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) throw new MediaError("unsupported", MESSAGES.unsupported());
  const audio = microphoneId ? { deviceId: { exact: microphoneId } } : true;
  if (media === "video") {
    const video = cameraId ? { deviceId: { exact: cameraId } } : facingMode ? { facingMode } : true;
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio, video }), videoError: null };
    } catch (error) {
      const failure = mediaError(error);
      if (failure.code === "permission_denied") throw failure;
      try {
        return { stream: await navigator.mediaDevices.getUserMedia({ audio }), videoError: failure };
      } catch (audioError) {
        throw mediaError(audioError);
      }
    }
  }
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio }), videoError: null };
  } catch (error) {
    throw mediaError(error);
  }
}

/** Open just a camera track. */
export async function openCamera(constraints = true) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: constraints });
    return stream.getVideoTracks()[0];
  } catch (error) {
    throw mediaError(error);
  }
}

/** Open just a microphone track. */
export async function openMicrophone(deviceId) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: deviceId ? { deviceId: { exact: deviceId } } : true });
    return stream.getAudioTracks()[0];
  } catch (error) {
    throw mediaError(error);
  }
}

/** Microphones, cameras and speakers the page may use. */
export async function listDevices() {
  const devices = navigator.mediaDevices?.enumerateDevices ? await navigator.mediaDevices.enumerateDevices() : [];
  const pick = (kind) =>
    devices.filter((d) => d.kind === kind).map((d, i) => ({ id: d.deviceId, label: d.label || `${kind} ${i + 1}` }));
  return {
    microphones: pick("audioinput"),
    cameras: pick("videoinput"),
    speakers: "setSinkId" in HTMLMediaElement.prototype ? pick("audiooutput") : [],
  };
}

/**
 * The constraints for "the other camera": the opposite facingMode where the current camera has
 * one, else the next camera in the list.
 */
export async function nextCameraConstraints(currentTrack) {
  const settings = currentTrack?.getSettings?.() ?? {};
  if (settings.facingMode === "user" || settings.facingMode === "environment") {
    return { facingMode: { exact: settings.facingMode === "user" ? "environment" : "user" } };
  }
  const { cameras } = await listDevices();
  if (cameras.length < 2) return null;
  const index = cameras.findIndex((c) => c.id === settings.deviceId);
  return { deviceId: { exact: cameras[(index + 1) % cameras.length].id } };
}
