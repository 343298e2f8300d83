// CallKit, part: in-call controls: microphone, camera, devices, call type, stats and the timer.
// Its methods join CallKit.prototype (callkit.js); `this` is the CallKit.

import { MediaError, listDevices, nextCameraConstraints, openCamera, openMicrophone } from "../media.js";
import { gettext } from "../i18n.js";

/** In-call controls: microphone, camera, devices, call type, stats and the timer. */
export class Controls {

  /** Mute (false) or unmute (true) the microphone; the other side is told. @param {boolean} enabled */
  setMicrophoneEnabled(enabled) {
    const call = this._require();
    for (const track of call.localStream?.getAudioTracks() ?? []) track.enabled = enabled;
    call.localMedia = { ...call.localMedia, mic: enabled };
    this._emit("mediastate", { call, side: "local", ...call.localMedia });
    if (call.state === "active") this._sendMediaState(call, { mic: enabled });
  }

  /** Turn the camera off (false) or on (true); the other side is told. @param {boolean} enabled */
  setCameraEnabled(enabled) {
    const call = this._require();
    for (const track of call.localStream?.getVideoTracks() ?? []) track.enabled = enabled;
    call.localMedia = { ...call.localMedia, camera: enabled };
    this._emit("mediastate", { call, side: "local", ...call.localMedia });
    if (call.state === "active") this._sendMediaState(call, { camera: enabled });
  }

  /** Switch between front and back camera where there are both, else to the next camera. @returns {Promise<void>} */
  async switchCamera() {
    const call = this._require();
    const current = call.localStream?.getVideoTracks()[0];
    if (!current) throw new MediaError("no_device", gettext("There is no camera in this call."));
    const constraints = await nextCameraConstraints(current);
    if (!constraints) throw new MediaError("no_device", gettext("There is no other camera."));
    await this._replaceLocalTrack(call, await openCamera(constraints));
  }

  /**
   * Change the call type. "audio": at once, for both. "video": asks the other side, who answers
   * with answerSwitch(); "calltypechanged" follows if they agree, "switchdeclined" if not.
   * @param {"audio"|"video"} media
   * @returns {Promise<object>} the server's ack
   */
  switchCallType(media) {
    const call = this._require("active");
    return this._request({ type: "call.switch", call_id: call.id, media });
  }

  /**
   * Agree to (true) or decline (false) the other side's request to switch to video.
   * @param {boolean} accept
   * @returns {Promise<object>} the server's ack
   */
  answerSwitch(accept) {
    const call = this._require("active");
    return this._request({ type: "call.switch_answer", call_id: call.id, accept });
  }

  /** Microphones, cameras and speakers, with the ones in use. @returns {Promise<DeviceList>} */
  async listDevices() {
    return { ...(await listDevices()), selected: { ...this.devices } };
  }

  /** Use this microphone (now, and for the next calls). @param {string} deviceId @returns {Promise<void>} */
  async useMicrophone(deviceId) {
    this.devices.microphoneId = deviceId;
    const call = this.currentCall;
    if (call?.localStream && call.state !== "ended") {
      const track = await openMicrophone(deviceId);
      track.enabled = call.localMedia.mic;
      await this._replaceLocalTrack(call, track);
    }
  }

  /** Use this camera (now, and for the next calls). @param {string} deviceId @returns {Promise<void>} */
  async useCamera(deviceId) {
    this.devices.cameraId = deviceId;
    const call = this.currentCall;
    if (call?.localStream?.getVideoTracks().length && call.state !== "ended") {
      const track = await openCamera({ deviceId: { exact: deviceId } });
      track.enabled = call.localMedia.camera;
      await this._replaceLocalTrack(call, track);
    }
  }

  /**
   * Play the other side through this speaker, on `element` (where the browser supports it).
   * @param {string} deviceId
   * @param {HTMLMediaElement} [element]  the element playing the remote stream
   * @returns {Promise<void>}
   */
  async useSpeaker(deviceId, element) {
    this.devices.speakerId = deviceId;
    if (element && typeof element.setSinkId === "function") await element.setSinkId(deviceId);
  }

  /** The peer connection's stats report (null when there is no media connection). @returns {Promise<RTCStatsReport|null>} */
  async getStats() {
    return this._peer ? this._peer.getStats() : null;
  }

  /** Milliseconds the current call has been answered for (0 before), by the server's clock. @returns {number} */
  elapsedMs() {
    const at = this.currentCall?.answeredAt;
    if (!at) return 0;
    const end = this.currentCall.state === "ended" && this.currentCall.info.ended_at
      ? Date.parse(this.currentCall.info.ended_at)
      : Date.now() + this._clockOffset;
    return Math.max(0, end - at.getTime());
  }
}
