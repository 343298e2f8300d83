// A WebRTC peer connection that knows nothing of the transport: it emits "signal" events and
// takes .signal(message). Perfect negotiation (the polite side yields on offer collisions),
// ICE candidates buffered until the remote description is set, one idempotent destroy().
// Held (connect while it rings): negotiated with sending slots but no tracks, so ICE and DTLS
// connect and nothing is sent until release() sets the tracks (no renegotiation).

/**
 * @typedef {{type: "rtc.offer"|"rtc.answer", sdp: string} | {type: "rtc.candidate", candidate: RTCIceCandidateInit|null}} Signal
 */

export class Peer extends EventTarget {
  /**
   * @param {{polite: boolean, held?: boolean, iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy}} options
   */
  constructor({ polite, held = false, iceServers = [], iceTransportPolicy = "all" }) {
    super();
    this.polite = polite;
    /** @type {boolean} negotiating without sending until release() */
    this.held = held;
    this._lastOffer = null;
    this.destroyed = false;
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    this.remoteStream = new MediaStream();
    this._makingOffer = false;
    this._ignoreOffer = false;
    this._answerPending = false;
    this._pendingCandidates = [];
    this._restarts = 0;
    /** @type {MediaStream|null} */
    this.localStream = null;

    this.pc.onnegotiationneeded = () => this._offer();
    this.pc.onicecandidate = ({ candidate }) =>
      this._emit("signal", { type: "rtc.candidate", candidate: candidate ? candidate.toJSON() : null });
    this.pc.ontrack = ({ track }) => {
      // A track joins the stream once its media arrives: one that never will (a held slot the
      // other side leaves empty, e.g. it has no camera) would keep a <video> from playing the rest.
      const add = () => {
        if (this.destroyed || this.remoteStream.getTracks().includes(track)) return;
        this.remoteStream.addTrack(track);
        this._emit("track", { track, stream: this.remoteStream });
      };
      if (track.muted) track.addEventListener("unmute", add, { once: true });
      else add();
      track.onended = () => this.remoteStream.removeTrack(track);
    };
    this.pc.onconnectionstatechange = () =>
      this._emit("connectionstate", { state: this.pc.connectionState });
  }

  /**
   * The local media to send. The offering side calls start() to send it at once; the answering
   * side sends it when the first offer arrives, in the same answer (one round trip, no collision).
   */
  attach(stream) {
    this.localStream = stream;
  }

  /** Offer now: add the local tracks and make sure every kind in `kinds` can be received. */
  async start(kinds) {
    await this._attachLocal();
    for (const kind of kinds) this.ensureReceiving(kind);
  }

  async _attachLocal() {
    if (!this.localStream) return;
    const sending = new Set(this.pc.getSenders().map((s) => s.track).filter(Boolean));
    for (const track of this.localStream.getTracks()) {
      if (!sending.has(track)) await this.addTrack(track, this.localStream);
    }
  }

  /** Add a local track, reusing an idle transceiver of the same kind when there is one. */
  addTrack(track, stream) {
    const idle = this.pc.getTransceivers().find(
      (t) => t.receiver.track.kind === track.kind && !t.sender.track && !t.stopped && t.currentDirection !== "stopped",
    );
    if (idle) {
      idle.direction = "sendrecv";
      if (stream) idle.sender.setStreams(stream);
      return idle.sender.replaceTrack(track);
    }
    if (stream) this.pc.addTrack(track, stream);
    else this.pc.addTrack(track);
    return Promise.resolve();
  }

  /** Offer now with a sending slot per kind and no track: connect, send nothing (held). */
  prepare(kinds) {
    this.held = true;
    for (const kind of kinds) this.pc.addTransceiver(kind, { direction: "sendrecv" });
  }

  /** Start sending `stream` on the slots negotiated while held; a kind without one renegotiates. */
  async release(stream) {
    this.held = false;
    this.localStream = stream;
    const starting = []; // both kinds start at once: the first frame waits for neither the other
    for (const track of stream?.getTracks() ?? []) {
      if (this.pc.getSenders().some((sender) => sender.track === track)) continue; // sent already
      const slot = this.pc.getTransceivers().find(
        (t) => t.receiver.track.kind === track.kind && !t.sender.track && !t.stopped && t.currentDirection !== "stopped",
      );
      if (slot && slot.direction === "sendrecv") starting.push(slot.sender.replaceTrack(track));
      else await this.addTrack(track, stream);
    }
    await Promise.all(starting);
  }

  /** Answer with sending slots (no tracks) for every kind offered, so release() needs no renegotiation. */
  _openSlots() {
    for (const t of this.pc.getTransceivers()) {
      if (!t.stopped && t.direction === "recvonly") t.direction = "sendrecv";
    }
  }

  /** Send our current offer again (it may have been lost while it rang); ignored if already answered. */
  resendOffer() {
    if (this.pc.signalingState === "have-local-offer" && this.pc.localDescription) {
      this._emit("signal", { type: "rtc.offer", sdp: this.pc.localDescription.sdp });
    }
  }

  /** Make sure we can receive `kind` even without a local track of that kind. */
  ensureReceiving(kind) {
    const has = this.pc.getTransceivers().some((t) => t.receiver.track.kind === kind);
    if (!has) this.pc.addTransceiver(kind, { direction: "recvonly" });
  }

  /** Swap the local track of a kind without renegotiation (null stops sending). */
  async replaceTrack(kind, track) {
    const sender = this.pc.getSenders().find((s) => (s.track ? s.track.kind : this._kindOf(s)) === kind);
    if (sender) await sender.replaceTrack(track);
    else if (track) await this.addTrack(track);
  }

  _kindOf(sender) {
    const transceiver = this.pc.getTransceivers().find((t) => t.sender === sender);
    return transceiver ? transceiver.receiver.track.kind : null;
  }

  /** Take a signal from the other side. */
  async signal(message) {
    if (this.destroyed) return;
    try {
      if (message.type === "rtc.candidate") {
        if (!this.pc.remoteDescription) {
          this._pendingCandidates.push(message.candidate);
          return;
        }
        await this._addCandidate(message.candidate);
        return;
      }
      const description = { type: message.type === "rtc.offer" ? "offer" : "answer", sdp: message.sdp };
      if (description.type === "offer" && message.sdp === this._lastOffer) {
        // Sent again (our answer may have been lost): answer again, the same answer.
        if (this.pc.localDescription?.type === "answer") this._emit("signal", { type: "rtc.answer", sdp: this.pc.localDescription.sdp });
        return;
      }
      const readyForOffer =
        !this._makingOffer && (this.pc.signalingState === "stable" || this._answerPending);
      const collision = description.type === "offer" && !readyForOffer;
      this._ignoreOffer = !this.polite && collision;
      if (this._ignoreOffer) return;
      this._answerPending = description.type === "answer";
      await this.pc.setRemoteDescription(description);
      this._answerPending = false;
      await this._flushCandidates();
      if (description.type === "offer") {
        this._lastOffer = message.sdp;
        if (this.held) this._openSlots();
        else await this._attachLocal();
        await this.pc.setLocalDescription();
        this._emit("signal", { type: "rtc.answer", sdp: this.pc.localDescription.sdp });
      }
    } catch (error) {
      this._emit("error", { error });
    }
  }

  async _addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      if (!this._ignoreOffer) this._emit("error", { error });
    }
  }

  async _flushCandidates() {
    const pending = this._pendingCandidates.splice(0);
    for (const candidate of pending) await this._addCandidate(candidate);
  }

  async _offer() {
    if (this.destroyed) return;
    try {
      this._makingOffer = true;
      await this.pc.setLocalDescription();
      this._emit("signal", { type: "rtc.offer", sdp: this.pc.localDescription.sdp });
    } catch (error) {
      this._emit("error", { error });
    } finally {
      this._makingOffer = false;
    }
  }

  /** Ask for new ICE candidates over the same call (after the connection failed). */
  restartIce() {
    this._restarts += 1;
    this.pc.restartIce();
  }

  get restarts() {
    return this._restarts;
  }

  getStats() {
    return this.pc.getStats();
  }

  /** Close everything; safe to call more than once. */
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this._emit("close", {});
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
