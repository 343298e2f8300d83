// CallKit, part: connect while it rings (docs/protocol.md, "Connecting while it rings").
// Each ringing tab of the callee offers on a held peer connection (sending slots, no tracks); the
// caller answers each on its own held connection, by link; Accept only sets the tracks.
// Its methods join CallKit.prototype (callkit.js); `this` is the CallKit.

import { openLocalMedia } from "../media.js";
import { stopStream } from "./streams.js";

const MAX_LINKS = 32; // ringing tabs of one callee a caller answers (the server has the same cap)

/** Connect while it rings: prepared connections on both sides, released on Accept. */
export class Preconnect {

  /** A ringing tab of the callee: open the camera (self-preview) and offer on a held connection. */
  _prepareIncoming(call, media = null) {
    if (!this.config?.preconnect || this._prepared || call.role !== "callee" || call.state !== "ringing") return;
    const peer = this._newPeer({ polite: false, held: true });
    // `media`: the devices' promise, shared by every connection prepared for this call; marked
    // `dropped` when the call no longer needs them, so that a late camera is closed at once.
    const prepared = { call, peer, media, taken: false };
    this._prepared = prepared;
    peer.addEventListener("signal", (e) => {
      if (this._prepared === prepared) this.signaling.send({ ...e.detail, call_id: call.id });
    });
    peer.prepare(call.media === "video" ? ["audio", "video"] : ["audio"]);
    if (media) return; // prepared again (a new connection on either side): the devices stay open
    // Asked while it rings, so that neither a permission prompt nor the camera's start-up sits
    // between Accept and media. A failure here is reported by accept(), which tries again.
    prepared.media = openLocalMedia(call.media, { microphoneId: this.devices.microphoneId, cameraId: this.devices.cameraId });
    prepared.media.then(({ stream }) => {
      if (prepared.media.dropped) stopStream(stream);
      else if (this._prepared?.media === prepared.media) this._emit("preview", { call, stream });
    }, () => {});
  }

  /** Offer again on a new held connection, keeping the devices open (the old one is known by a stale link). */
  _prepareAgain(call) {
    const prepared = this._prepared;
    if (!prepared || prepared.call.id !== call.id || prepared.taken) return;
    this._prepared = null;
    prepared.peer.destroy();
    this._prepareIncoming(call, prepared.media);
  }

  /** What this tab prepared for `call`, if anything; it keeps signalling until _usePeer takes it over. */
  _preparedFor(call) {
    const prepared = this._prepared?.call.id === call.id ? this._prepared : null;
    if (prepared) prepared.taken = true;
    return prepared;
  }

  /** The prepared connection of `call` becomes the call's own: this part lets go of it. */
  _takePrepared(call) {
    const prepared = this._preparedFor(call);
    if (prepared) this._prepared = null;
    return prepared;
  }

  /** Close whatever was prepared for `call` while it rang (another tab answered, or it ended). */
  _dropPrepared(call) {
    const prepared = this._prepared;
    if (prepared && (!call || prepared.call.id === call.id)) {
      this._prepared = null;
      prepared.peer.destroy();
      prepared.media.dropped = true;
      prepared.media.then(({ stream }) => stopStream(stream), () => {});
    }
    if (!call || call.id === this._linksCall) this._dropLinks();
  }

  /** Close the caller's connections to ringing tabs that did not answer. */
  _dropLinks() {
    for (const peer of this._links?.values() ?? []) peer.destroy();
    this._links?.clear();
  }

  /** The peer connection an rtc.* message is for, or null (a stale or unknown one). */
  _peerFor(message) {
    const call = this.currentCall;
    if (!call || call.id !== message.call_id) return null;
    // Once answered, only the connection holding the other side reaches this one (the server
    // drops what losing ringing tabs send), whatever its link: it may have reconnected since.
    if (this._peer) return this._peer;
    if (this._prepared?.call === call) return this._prepared.peer;
    if (call.role === "caller" && call.state === "ringing" && call.thisDevice && message.link && this.config?.preconnect) {
      return this._linkPeer(call, message.link, message.type === "rtc.offer");
    }
    return null;
  }

  /** The caller's held connection to one ringing tab of the callee (made on its first offer). */
  _linkPeer(call, link, create) {
    if (this._linksCall !== call.id) this._dropLinks();
    this._links ??= new Map();
    this._linksCall = call.id;
    let peer = this._links.get(link);
    if (!peer && create && this._links.size < MAX_LINKS) {
      peer = this._newPeer({ polite: true, held: true });
      peer.addEventListener("signal", (e) => {
        // Once promoted (answered there), _usePeer's listener sends to the holder instead.
        if (this._links.get(link) === peer) this.signaling.send({ ...e.detail, call_id: call.id, link });
      });
      this._links.set(link, peer);
    }
    return peer ?? null;
  }

  /** The callee answered on `link`: keep that connection, close the other ringing tabs' ones. */
  _promoteLink(call, link) {
    const peer = link && this._linksCall === call.id ? this._links?.get(link) : null;
    if (peer) this._links.delete(link);
    this._dropPrepared(call);
    if (!peer) return false;
    if (call.localStream) peer.release(call.localStream); // media first, then the UI's events
    this._usePeer(call, peer);
    return true;
  }

  /** The caller's microphone and camera opened after the invite went out (ringing first). */
  _callerMediaOpened(callId, { stream, videoError }) {
    const pending = this._pendingStream;
    if (pending?.id !== callId || pending.stream) {
      stopStream(stream); // the call ended (or another began) while the devices opened
      return;
    }
    pending.stream = stream;
    if (videoError) this._emit("error", { code: videoError.code, message: videoError.message });
    const call = this.currentCall;
    if (call?.id !== callId) return;
    this._adoptPendingStream(call);
    if (this._peer && call.state === "active" && call.thisDevice) {
      this._peer.release(call.localStream);
      this._sendMediaStateIfChanged(call);
    }
  }

  /** The caller's microphone could not open after the invite went out: the call cannot go on. */
  _callerMediaFailed(callId) {
    if (this._pendingStream?.id === callId) this._pendingStream = null;
    const call = this.currentCall;
    if (call?.id !== callId || call.state === "ended") return;
    const message = call.state === "ringing"
      ? { type: "call.cancel", call_id: callId }
      : { type: "call.hangup", call_id: callId, reason: "failed" };
    this.signaling.request(message).catch(() => {});
  }
}

/** Whether the browser already lets this page use the microphone (and camera): then ring first. */
export async function mediaAllowed(media) {
  try {
    const names = media === "video" ? ["microphone", "camera"] : ["microphone"];
    const states = await Promise.all(names.map(permission));
    return states.every((status) => status.state === "granted");
  } catch {
    return false; // no Permissions API for these: ask first, as before
  }
}

const permissions = new Map();

/** A live PermissionStatus, asked for once: a click on Call then waits for no trip to the browser. */
function permission(name) {
  let status = permissions.get(name);
  if (!status) {
    status = navigator.permissions.query({ name }); // its .state follows the browser's changes
    permissions.set(name, status);
    status.catch(() => permissions.delete(name));
  }
  return status;
}
