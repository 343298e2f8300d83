// CallKit, part: the media session: the peer connection, its failures and ICE restarts, quality, local tracks.
// Its methods join CallKit.prototype (callkit.js); `this` is the CallKit.

import { SignalingError } from "../signaling.js";
import { Peer } from "../peer.js";
import { openCamera, openLocalMedia } from "../media.js";
import { readQuality } from "../quality.js";
import { gettext } from "../i18n.js";
import { stopStream } from "./streams.js";
import { FAIL_AFTER_MS, CONNECT_TIMEOUT_MS, QUALITY_EVERY_MS, DISCONNECTED_RESTART_MS } from "./constants.js";

/** The media session: the peer connection, its failures and ICE restarts, quality, local tracks. */
export class MediaSession {

  _startPeer(call, { polite, offer }) {
    const peer = this._newPeer({ polite });
    this._usePeer(call, peer);
    peer.attach(call.localStream);
    if (offer) peer.start(call.media === "video" ? ["audio", "video"] : ["audio"]);
  }

  /** A peer connection with the server's ICE settings; `held`: it sends nothing until released. */
  _newPeer({ polite, held = false }) {
    return new Peer({
      polite,
      held,
      iceServers: this.options.iceServers ?? this.config?.ice_servers ?? [],
      iceTransportPolicy: this.options.iceTransportPolicy ?? this.config?.ice_transport_policy ?? "all",
    });
  }

  /** Make `peer` the call's media connection. */
  _usePeer(call, peer) {
    clearTimeout(this._failTimer);
    this._failTimer = null;
    this._iceRestarted = false;
    if (this._peer && this._peer !== peer) this._peer.destroy();
    this._peer = peer;
    this._armFailTimer(call, peer, (this.config?.connect_timeout ?? CONNECT_TIMEOUT_MS / 1000) * 1000);
    call.connection = "connecting";
    call.remoteStream = peer.remoteStream;
    peer.addEventListener("signal", (e) => {
      if (this._peer === peer) this.signaling.send({ ...e.detail, call_id: call.id });
    });
    peer.addEventListener("track", () => this._emit("remotestream", { call, stream: peer.remoteStream }));
    peer.addEventListener("connectionstate", (e) => this._onPeerState(call, peer, e.detail.state));
    peer.addEventListener("error", (e) => this._emit("error", { code: "media_error", message: String(e.detail.error?.message ?? e.detail.error) }));
    // A connection prepared while it rang may have its tracks and be connected already.
    if (peer.remoteStream.getTracks().length) this._emit("remotestream", { call, stream: peer.remoteStream });
    if (["connected", "disconnected", "failed"].includes(peer.pc.connectionState)) {
      this._onPeerState(call, peer, peer.pc.connectionState); // e.g. it failed while it rang: restart ICE now
    }
  }

  _onPeerState(call, peer, state) {
    if (this._peer !== peer) return;
    const previous = call.connection;
    if (state === "connected") {
      clearTimeout(this._failTimer);
      this._failTimer = null;
      call.connection = "connected";
      if (previous !== "connected") {
        if (previous !== "reconnecting") this._emit("connected", { call });
        this._startQuality(call);
      }
      this._iceRestarted = false; // a later outage may restart ICE again
    } else if (state === "disconnected" || state === "failed") {
      call.connection = state === "failed" ? "failed" : "reconnecting";
      // Restart ICE at once when it failed, or when it stays disconnected for a few seconds;
      // if media is still down after FAIL_AFTER_MS, the call ends as failed.
      if (state === "failed") this._restartIceOnce(peer);
      else {
        clearTimeout(this._disconnectTimer);
        this._disconnectTimer = setTimeout(() => {
          if (this._peer === peer && peer.pc.connectionState === "disconnected") this._restartIceOnce(peer);
        }, DISCONNECTED_RESTART_MS);
      }
      this._armFailTimer(call, peer, FAIL_AFTER_MS);
    }
    this._emit("mediaconnection", { call, state: call.connection });
  }

  _restartIceOnce(peer) {
    if (this._iceRestarted) return;
    this._iceRestarted = true;
    peer.restartIce();
    this._emit("icerestart", { call: this.currentCall });
  }

  /** Gather new ICE candidates and renegotiate the media path (e.g. after a network change). @returns {void} */
  restartIce() {
    this._require("active");
    if (!this._peer) throw new SignalingError("invalid_state", gettext("There is no media connection on this tab."));
    this._peer.restartIce();
    this._emit("icerestart", { call: this.currentCall });
  }

  /** End the call as failed if media is not connected within `ms` (unless already counting). */
  _armFailTimer(call, peer, ms) {
    if (this._failTimer) return;
    this._failTimer = setTimeout(() => {
      this._failTimer = null;
      // Ask the connection itself: it may have recovered without telling (ICE restart on a live path).
      if (this._peer === peer && call.state === "active" && peer.pc.connectionState !== "connected") {
        call.connection = "failed";
        this._emit("mediaconnection", { call, state: "failed" });
        this.signaling.request({ type: "call.hangup", call_id: call.id, reason: "failed" }).catch(() => {});
      }
    }, ms);
  }

  _startQuality(call) {
    clearInterval(this._qualityTimer);
    this._lastQuality = null;
    this._qualityTimer = setInterval(async () => {
      if (!this._peer) return;
      const report = await this._peer.getStats();
      const quality = readQuality(report, this._lastQuality);
      this._lastQuality = quality;
      call.quality = { local: quality.local, remote: quality.remote };
      this._emit("networkquality", { call, local: quality.local, remote: quality.remote });
    }, QUALITY_EVERY_MS);
  }

  async _applyCallType(call, media) {
    if (call.thisDevice && call.localStream) {
      if (media === "audio") {
        for (const track of call.localStream.getVideoTracks()) {
          track.stop();
          call.localStream.removeTrack(track);
        }
        if (this._peer) await this._peer.replaceTrack("video", null);
        call.localMedia = { ...call.localMedia, camera: false };
      } else if (!call.localStream.getVideoTracks().length) {
        try {
          const track = await openCamera(this.devices.cameraId ? { deviceId: { exact: this.devices.cameraId } } : true);
          if (!this._holds(call)) {
            track.stop(); // the call ended (or moved) while the camera opened
            return;
          }
          call.localStream.addTrack(track);
          if (this._peer) await this._peer.addTrack(track, call.localStream);
          call.localMedia = { ...call.localMedia, camera: true };
        } catch (error) {
          this._emit("error", { code: error.code ?? "media_error", message: error.message });
          call.localMedia = { ...call.localMedia, camera: false };
          this._sendMediaState(call, { camera: false });
        }
      }
      this._emit("localstream", { call, stream: call.localStream });
    }
    this._emit("calltypechanged", { call, media });
  }

  /** Whether media for `call` still belongs on this tab (checked after every await). */
  _holds(call) {
    return this.currentCall === call && call.state !== "ended" && call.thisDevice;
  }

  async _replaceLocalTrack(call, track) {
    if (!this._holds(call) || !call.localStream) {
      track.stop(); // the call ended (or moved) while the device opened
      return;
    }
    const stream = call.localStream;
    for (const old of stream.getTracks().filter((t) => t.kind === track.kind)) {
      stream.removeTrack(old);
      old.stop();
    }
    stream.addTrack(track);
    if (this._peer) await this._peer.replaceTrack(track.kind, track);
    this._emit("localstream", { call, stream });
  }

  async _openMedia(media) {
    try {
      return await openLocalMedia(media, { microphoneId: this.devices.microphoneId, cameraId: this.devices.cameraId });
    } catch (error) {
      this._emit("error", { code: error.code ?? "media_error", message: error.message });
      throw error;
    }
  }

  _adoptPendingStream(call) {
    if (this._pendingStream?.id !== call.id || !this._pendingStream.stream) return; // still opening
    call.localStream = this._pendingStream.stream;
    if (call.media === "audio") {
      for (const track of call.localStream.getVideoTracks()) {
        track.stop(); // an audio call (theirs, answered for us at glare): our camera stays off
        call.localStream.removeTrack(track);
      }
    }
    call.localMedia = { mic: true, camera: call.localStream.getVideoTracks().length > 0 };
    this._pendingStream = null;
    if (call.state === "ended") stopStream(call.localStream);
    else this._emit("localstream", { call, stream: call.localStream });
  }

  /** One teardown for a call's media; safe to call twice. */
  _teardownMedia(call) {
    clearTimeout(this._failTimer);
    this._failTimer = null;
    clearTimeout(this._disconnectTimer);
    clearInterval(this._qualityTimer);
    this._qualityTimer = null;
    if (this._peer) {
      this._peer.destroy();
      this._peer = null;
    }
    this._dropPrepared(call);
    if (this._pendingStream?.id === call.id) {
      stopStream(this._pendingStream.stream);
      this._pendingStream = null;
    }
    stopStream(call.localStream);
  }

  /** Once answered, tell the other side of a mute or camera-off chosen before. */
  _sendMediaStateIfChanged(call) {
    const fields = {};
    if (!call.localMedia.mic) fields.mic = false;
    if (!call.localMedia.camera && call.media === "video") fields.camera = false;
    if (Object.keys(fields).length) this._sendMediaState(call, fields);
  }

  _sendMediaState(call, fields) {
    this.signaling.request({ type: "call.media", call_id: call.id, ...fields }).catch((error) =>
      this._emit("error", { code: error.code, message: error.message }),
    );
  }
}
