// CallKit, part: inbound messages: hello/sync, call events, rejoin and the end of a call.
// Its methods join CallKit.prototype (callkit.js); `this` is the CallKit.

import { isMissed } from "../bill.js";
import { Call } from "../call.js";
import { stopStream } from "./streams.js";
import { OUTCOME_EVENTS } from "./constants.js";

/** Inbound messages: hello/sync, call events, rejoin and the end of a call. */
export class Inbound {

  _onMessage(message) {
    switch (message.type) {
      case "hello":
      case "sync":
        return this._onHello(message);
      case "rtc.offer":
      case "rtc.answer":
      case "rtc.candidate":
        this._peerFor(message)?.signal(message);
        return;
      case "error":
        // A late rtc.* for a connection that is gone (another tab answered, a reconnect): nothing
        // for the user to act on. (Requests with a ref get their errors through their promise.)
        if (message.code === "not_in_call" && message.ref == null) return;
        return this._emit("error", { code: message.code, message: message.message });
      case "pong":
        return;
      case "ice.servers":
        return this._onIceServers(message);
      default:
        if (message.type.startsWith("call.")) this._onCallEvent(message);
    }
  }

  _onHello(message) {
    if (message.type === "hello") {
      this.user = message.user;
      this.config = message.config;
      if (message.server_time) this._clockOffset = Date.parse(message.server_time) - Date.now();
      if (message.config.token) {
        this.setToken(message.config.token); // reconnects show the newest token
        this._scheduleTokenRenewal(message.config.token_expires_at);
      }
      // A hello after a reconnect brings a fresh credential: a live media connection takes it too.
      this._onIceServers({ ice_servers: message.config.ice_servers, expires_at: message.config.ice_expires_at });
    }
    const current = this.currentCall;
    const live = message.call;
    if (live && current && current.id === live.id) {
      const previous = current.state;
      this._update(current, live);
      if (live.state === "ended") {
        if (previous !== "ended") this._onEnded(current, previous);
      } else if (current.thisDevice) {
        this._afterReconnect(current, previous, live, message.this_tab === true);
      } else if (live.state === "ringing" && current.role === "callee" && message.type === "hello") {
        // A new connection has a new link: the caller knows the prepared one by the old.
        this._prepareAgain(current);
        this._prepareIncoming(current);
      }
    } else if (live && live.state !== "ended") {
      const call = this._adopt(live, message.role, false);
      if (live.state === "ringing" && message.role === "callee") {
        this._emit("incoming", { call });
        this._prepareIncoming(call);
      }
      else this._emit("statechange", { call, state: call.state, previous: null });
    } else if (!live && current && current.state !== "ended") {
      // Our call ended while the socket was down: fetch its bill (the answer comes back here).
      this.signaling.request({ type: "sync", call_id: current.id }).catch(() => {});
    }
    if (message.type === "hello") this._emit("ready", { user: this.user });
  }

  /** Our socket came back while this tab held `call`: take it back, unless another tab has. */
  _afterReconnect(call, previous, live, thisTab) {
    const mediaUp = this._peer?.pc.connectionState === "connected";
    const stillOurs = thisTab || live.away.includes(call.role) || live.state === "ringing";
    this._emitState(call, previous);
    if (live.state === "ringing" && call.role === "caller") {
      this._dropLinks(); // the ringing tabs prepare again with this new connection (call.resumed)
    }
    if (!stillOurs) {
      call.thisDevice = false; // another tab of ours took the call over
      this._teardownMedia(call);
      this._emit("moved", { call });
    } else if (live.state === "ringing" || mediaUp) {
      this._request({ type: "call.resume", call_id: call.id }).catch(() => {});
    } else {
      // Media never connected or died meanwhile (e.g. answered while we were offline): afresh.
      this.rejoin().catch(() => {});
      if (previous === "ringing") this._emit("accepted", { call });
    }
  }

  _onCallEvent(message) {
    const info = message.call;
    let call = this.currentCall;
    let previous = null;
    let wasHere = false;
    if (!call || call.id !== info.id) {
      if (message.type === "call.ended" && call && call.state !== "ended") {
        // Another call's bill while we are in this one: it tried us (busy) and we missed it.
        if (isMissed(info, message.role)) this._emit("missed", { call: new Call(info, message.role, false) });
        return;
      }
      call = this._adopt(info, message.role, message.this_device);
    } else {
      previous = call.state;
      wasHere = call.thisDevice;
      if (previous === "ended") return; // a late event for a call that has ended
      if (!this._update(call, info)) return; // an older state than we have (out-of-order events)
    }
    call.thisDevice = message.this_device;

    switch (message.type) {
      case "call.ringing":
        this._adoptPendingStream(call);
        return this._emit("ringing", { call });
      case "call.incoming":
        this._emit("incoming", { call });
        return this._prepareIncoming(call);
      case "call.accepted":
        if (call.role === "caller" && call.thisDevice && !this._peer) {
          // The connection prepared with the tab that answered, else one that waits for its offer.
          if (!this._promoteLink(call, message.link)) this._startPeer(call, { polite: true, offer: false });
          this._sendMediaStateIfChanged(call);
        } else if (call.role === "callee" && call.thisDevice && !this._peer && (this._pendingStream?.id === call.id || call.localStream)) {
          // Glare: we called them as they called us; the server answered their call for us.
          this._adoptPendingStream(call);
          if (call.media === "audio") {
            for (const track of call.localStream?.getVideoTracks() ?? []) {
              track.stop(); // their call is audio: our camera stays off
              call.localStream.removeTrack(track);
            }
            call.localMedia = { ...call.localMedia, camera: false };
          }
          // It may have rung here long enough to prepare a connection: use it, not a second one.
          const prepared = this._takePrepared(call);
          if (prepared) {
            prepared.media.then(({ stream }) => stopStream(stream), () => {}); // our own call's stream is used
            this._usePeer(call, prepared.peer);
            if (call.localStream) prepared.peer.release(call.localStream);
            prepared.peer.resendOffer();
          } else {
            this._startPeer(call, { polite: false, offer: true });
          }
          this._sendMediaStateIfChanged(call);
        }
        this._emitState(call, previous);
        return this._emit("accepted", { call });
      case "call.answered_elsewhere":
        this._dropPrepared(call);
        this._emitState(call, previous);
        return this._emit("answeredelsewhere", { call });
      case "call.media": {
        const other = call.role === "caller" ? "callee" : "caller";
        call.remoteMedia = { ...info.media_state[other] };
        return this._emit("mediastate", { call, side: "remote", ...call.remoteMedia });
      }
      case "call.switched":
        return this._applyCallType(call, info.media);
      case "call.switch_requested":
        return this._emit("switchrequested", { call, media: info.switch.to, byMe: call.switchRequest?.byMe ?? false });
      case "call.switch_declined":
        return this._emit("switchdeclined", { call });
      case "call.away":
        return this._emit("away", { call, sides: info.away });
      case "call.resumed":
        if (call.state === "ringing" && call.role === "callee" && message.side === "caller") {
          this._prepareAgain(call); // the caller's new connection knows nothing of what we prepared
        }
        if (message.side === call.role) {
          if (wasHere && !call.thisDevice) {
            // Another tab of ours took the call over.
            this._teardownMedia(call);
            return this._emit("moved", { call });
          }
        } else if (message.fresh && call.thisDevice && call.state === "active") {
          // The other side restarted its media (a reload): meet its offer with a new peer.
          if (this._peer) this._peer.destroy();
          this._peer = null;
          this._startPeer(call, { polite: true, offer: false });
        }
        return this._emit("back", { call, sides: info.away });
      case "call.ended":
        return this._onEnded(call, previous);
      default:
        return undefined;
    }
  }

  /**
   * Take over a live call on this tab (after a reload, or from another tab): the call moves
   * here and media restarts, while the timer goes on.
   * @returns {Promise<Call>}
   */
  async rejoin() {
    const call = this._require("active");
    await this._request({ type: "call.resume", call_id: call.id, fresh: true });
    call.thisDevice = true;
    const [{ stream }] = await Promise.all([this._openMedia(call.media), this._freshIce()]);
    if (!this._holds(call)) {
      stopStream(stream); // it ended, or another tab took it, while the camera opened
      return call;
    }
    if (call.localStream !== stream) stopStream(call.localStream);
    call.localStream = stream;
    call.localMedia = { ...call.localMedia, camera: stream.getVideoTracks().length > 0 };
    this._emit("localstream", { call, stream });
    if (this._peer) this._peer.destroy();
    this._startPeer(call, { polite: false, offer: true });
    return call;
  }

  _onEnded(call, previous) {
    this._teardownMedia(call);
    call.connection = "closed";
    this._emitState(call, previous);
    const outcome = OUTCOME_EVENTS[call.info.status];
    if (outcome) this._emit(outcome, { call, bill: call.bill });
    this._emit("ended", { call, bill: call.bill, text: call.billText, missed: isMissed(call.info, call.role) });
  }
}
