// CallKit Web JS SDK: 1:1 audio/video calls over /ws/calls/ (docs/sdk.md documents it all).
// ES module, no build step. The default UI (ui.js) uses only what this module exports.

import { Signaling, SignalingError } from "./signaling.js";
import { Peer } from "./peer.js";
import { MediaError, listDevices, nextCameraConstraints, openCamera, openLocalMedia, openMicrophone } from "./media.js";
import { readQuality } from "./quality.js";
import { billText, formatDuration, isMissed } from "./bill.js";
import { gettext } from "./i18n.js";
import { Call, CallState } from "./call.js";

export { Call, CallState };
export { billText, formatDuration, isMissed, listDevices, MediaError, SignalingError };
export { Tone, unlockAudioOnGesture } from "./tones.js";
export { gettext, interpolate, ngettext } from "./i18n.js";

/** Outcome events, one per bill status, emitted just before "ended". */
const OUTCOME_EVENTS = { completed: "completed", canceled: "canceled", rejected: "rejected", timeout: "timeout", busy: "busy", failed: "failed" };

const FAIL_AFTER_MS = 12000; // media that stays failed/disconnected this long ends the call as failed
const CONNECT_TIMEOUT_MS = 20000; // media that never connects within this ends the call as failed (server may say otherwise)
const QUALITY_EVERY_MS = 2000;
const DISCONNECTED_RESTART_MS = 4000; // "disconnected" this long: restart ICE before giving up
const ICE_REFRESH_WAIT_MS = 3000; // how long a new call waits for fresh TURN credentials before using the ones it has
const ICE_RETRY_MS = 5000; // a failed credential refresh is tried again after this (and never sooner than this)

/** @typedef {import("./call.js").Person} Person */
/** @typedef {import("./call.js").MediaState} MediaState */
/** @typedef {import("./call.js").CallInfo} CallInfo */
/** @typedef {import("./call.js").Bill} Bill */
/** @typedef {import("./call.js").Quality} Quality */

/**
 * Options of `new CallKit()`; every one may be left out.
 * @typedef {object} CallKitOptions
 * @property {string} [url]  the signaling socket; default `ws(s)://<this host>/ws/calls/`
 * @property {RTCIceServer[]} [iceServers]  default: the server's CALLKIT_ICE_SERVERS
 * @property {RTCIceTransportPolicy} [iceTransportPolicy]  default: the server's CALLKIT_ICE_TRANSPORT_POLICY
 * @property {typeof WebSocket} [WebSocket]  a WebSocket class (for tests)
 * @property {string} [tabId]  this tab's id; default: a random id kept in sessionStorage
 * @property {string} [token]  an embed token (docs/embedding.md); default: the session cookie signs in
 * @property {"en"|"zh-hans"} [language]  the language of the server's messages; default: the page's cookie / Accept-Language
 */

/**
 * The server's settings, from its `hello`.
 * @typedef {object} ServerConfig
 * @property {number} ring_timeout  seconds a call rings
 * @property {number} grace  seconds a side may be away mid-call
 * @property {RTCIceServer[]} ice_servers
 * @property {string|null} ice_expires_at  when the TURN credential in `ice_servers` expires (ISO 8601); null without TURN
 * @property {RTCIceTransportPolicy} ice_transport_policy
 * @property {number} connect_timeout  seconds media may take to connect after an answer
 */

/** @typedef {{id: string, label: string}} Device  A microphone, camera or speaker. */

/**
 * What `listDevices()` resolves with (`speakers` is empty where the browser cannot choose one).
 * @typedef {object} DeviceList
 * @property {Device[]} microphones
 * @property {Device[]} cameras
 * @property {Device[]} speakers
 * @property {{microphoneId: string|null, cameraId: string|null, speakerId: string|null}} selected
 */

/**
 * Every event a CallKit emits, each a CustomEvent with this `detail` (docs/sdk.md, "Events").
 * @typedef {object} CallKitEventMap
 * @property {CustomEvent<{user: Person}>} ready  the server said hello (also after each reconnect)
 * @property {CustomEvent<{state: "connecting"|"open"|"reconnecting"|"closed", previous: string}>} connection  the socket's state changed
 * @property {CustomEvent<{call: Call}>} incoming  someone calls (on every tab of yours)
 * @property {CustomEvent<{call: Call}>} ringing  your call rings at the other side
 * @property {CustomEvent<{call: Call}>} accepted  the call was answered
 * @property {CustomEvent<{call: Call}>} answeredelsewhere  you answered on another device
 * @property {CustomEvent<{call: Call, state: string, previous: string|null}>} statechange  `call.state` changed
 * @property {CustomEvent<{call: Call}>} connected  media connected for the first time
 * @property {CustomEvent<{call: Call, state: Call["connection"]}>} mediaconnection  `call.connection` changed
 * @property {CustomEvent<{call: Call}>} icerestart  an ICE restart began
 * @property {CustomEvent<{call: Call, stream: MediaStream}>} localstream  our stream to show
 * @property {CustomEvent<{call: Call, stream: MediaStream}>} remotestream  their stream to show
 * @property {CustomEvent<{call: Call, side: "local"|"remote", mic: boolean, camera: boolean}>} mediastate  a microphone or camera turned on or off
 * @property {CustomEvent<{call: Call, media: "audio"|"video"}>} calltypechanged  the call became audio or video
 * @property {CustomEvent<{call: Call, media: "video", byMe: boolean}>} switchrequested  a switch to video was asked
 * @property {CustomEvent<{call: Call}>} switchdeclined  the other side said no to video
 * @property {CustomEvent<{call: Call, local: Quality, remote: Quality}>} networkquality  every 2 s in a connected call
 * @property {CustomEvent<{call: Call, sides: Array<"caller"|"callee">}>} away  a side's connection dropped
 * @property {CustomEvent<{call: Call, sides: Array<"caller"|"callee">}>} back  a side's connection came back
 * @property {CustomEvent<{call: Call}>} moved  another tab of yours took the call over
 * @property {CustomEvent<{call: Call, bill: Bill}>} completed  outcome: answered, then hung up
 * @property {CustomEvent<{call: Call, bill: Bill}>} canceled  outcome: the caller gave up
 * @property {CustomEvent<{call: Call, bill: Bill}>} rejected  outcome: declined
 * @property {CustomEvent<{call: Call, bill: Bill}>} timeout  outcome: nobody answered
 * @property {CustomEvent<{call: Call, bill: Bill}>} busy  outcome: the callee was in another call
 * @property {CustomEvent<{call: Call, bill: Bill}>} failed  outcome: media never connected, or was lost
 * @property {CustomEvent<{call: Call, bill: Bill, text: string, missed: boolean}>} ended  the call ended; `text` is the bill as you read it
 * @property {CustomEvent<{call: Call}>} missed  a call tried you while you were in another (its bill, e.g. busy); the current call goes on
 * @property {CustomEvent<{code: string, message: string}>} error  something failed
 */


/**
 * The SDK's entry point: one per tab.
 *
 * Events (CustomEvent; their `detail` in CallKitEventMap and docs/sdk.md): ready, connection,
 * incoming, ringing, accepted, answeredelsewhere, statechange, connected, mediaconnection,
 * icerestart, localstream, remotestream, mediastate, calltypechanged, switchrequested,
 * switchdeclined, networkquality, away, back, moved, completed, canceled, rejected, timeout,
 * busy, failed, ended, missed, error.
 */
export class CallKit extends EventTarget {
  /** @param {CallKitOptions} [options] */
  constructor(options = {}) {
    super();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    /** @type {string} This tab's own id: the server tells us by it whether this tab still holds a call. */
    this.tabId = options.tabId ?? tabId();
    this._base = options.url ?? `${scheme}//${location.host}/ws/calls/`;
    /** @type {CallKitOptions} */ this.options = options;
    this._token = options.token ?? null;
    this._tokenTimer = null;
    /** @type {string} the socket's URL, with `?tab=` (and `lang=` when given) */
    this.url = this._socketUrl();
    this.signaling = new Signaling({
      url: this.url, protocols: () => this._protocols(), maxDelay: () => this._reconnectCap(), WebSocket: options.WebSocket,
    });
    /** @type {Person|null} */ this.user = null;
    /** @type {Call|null} */ this.currentCall = null;
    /** @type {ServerConfig|null} the server's settings, from its hello */ this.config = null;
    /** @type {DeviceList["selected"]} chosen with use…(); null: the default */
    this.devices = { microphoneId: null, cameraId: null, speakerId: null };
    this._peer = null;
    this._failTimer = null;
    this._qualityTimer = null;
    this._lastQuality = null;
    this._clockOffset = 0; // server time − local time, in ms
    this._iceTimer = null;
    this.signaling.addEventListener("message", (e) => this._onMessage(e.detail));
    this.signaling.addEventListener("state", (e) => this._emit("connection", e.detail));
  }

  // --- connection -------------------------------------------------------------------------

  /** The longest wait between reconnects: a third of the grace period while this tab shows a live
   * call (it must be back before its side is given up, e.g. once Redis returns), else 10 s. */
  _reconnectCap() {
    const live = this.currentCall && this.currentCall.state !== "ended";
    const grace = this.config?.grace;
    return live && grace ? Math.max(500, Math.min(10000, (grace * 1000) / 3)) : 10000;
  }

  _socketUrl() {
    const params = new URLSearchParams({ tab: this.tabId });
    if (this.options.language) params.set("lang", this.options.language);
    return `${this._base}${this._base.includes("?") ? "&" : "?"}${params}`;
  }

  /**
   * Use another embed token from now on (the next reconnect shows it). The SDK renews its own
   * token while connected; a host page only needs this after a long time offline.
   * @param {string} token
   * @returns {void}
   */
  setToken(token) {
    this._token = token;
  }

  /** An embed shows its token as a WebSocket subprotocol, never in the URL (URLs get logged). */
  _protocols() {
    return this._token ? ["callkit.v1", `callkit.token.${this._token.replaceAll(":", ".")}`] : [];
  }

  /** Keep the embed token fresh: renew it when 80% of its life has passed. */
  _scheduleTokenRenewal(expiresAt) {
    clearTimeout(this._tokenTimer);
    if (!this._token || !expiresAt) return;
    const lifeMs = expiresAt * 1000 - (Date.now() + this._clockOffset);
    if (lifeMs <= 0) return; // expired: only the next hello (after a reconnect) can bring one
    this._tokenTimer = setTimeout(async () => {
      try {
        const fresh = await this.signaling.request({ type: "token.refresh" });
        this.setToken(fresh.token);
        this._scheduleTokenRenewal(fresh.expires_at);
      } catch (error) {
        // Refused (the user was revoked, the session is over): the server closes the socket.
        // Otherwise (offline, no answer) try again within the token's remaining life.
        if (error.code !== "token_refused") this._scheduleTokenRenewal(expiresAt);
      }
    }, Math.max(1000, lifeMs * 0.8));
  }

  /** Connect to the server; resolves with the signed-in user once the server said hello. @returns {Promise<Person>} */
  async connect() {
    const hello = await this.signaling.open();
    return hello.user;
  }

  /** Close the connection for good (a live call goes on being billed by the server). @returns {void} */
  disconnect() {
    clearTimeout(this._iceTimer);
    clearTimeout(this._tokenTimer);
    this.signaling.close();
  }

  /** The state of the socket. @returns {"connecting"|"open"|"reconnecting"|"closed"} */
  get connectionState() {
    return this.signaling.state;
  }

  // --- placing and answering --------------------------------------------------------------

  /**
   * Call someone. Opens the microphone (and camera) first, then rings them.
   * @param {number|string|{id: number}|{username: string}} user  a user id (number), `{id}`, a username (string), or `{username}`
   * @param {{media?: "audio"|"video", timeout?: number}} [options]
   * @returns {Promise<Call>}
   */
  async call(user, { media = "video", timeout } = {}) {
    // A user object, a user id, or a username (what a host site knows its users by).
    // A username is always a string and an id always a number: a username of digits is a name.
    const username = typeof user === "string" ? user : typeof user === "object" && user.id == null ? user.username : null;
    const byName = typeof username === "string";
    const to = byName ? null : typeof user === "object" ? Number(user.id) : Number(user);
    const current = this.currentCall;
    const samePeer = current && (byName ? current.peer.username === username : current.peer.id === to);
    if (current && current.state === "ringing" && current.role === "callee" && samePeer) {
      return this.accept({ media }); // they are calling us right now: calling back is answering
    }
    if (current && current.state !== "ended") {
      throw new SignalingError("already_in_call", gettext("You are already in a call."));
    }
    const [{ stream, videoError }] = await Promise.all([this._openMedia(media), this._freshIce()]);
    if (videoError) this._emit("error", { code: videoError.code, message: `${videoError.message} ${gettext("The call goes on as audio.")}` });
    const callMedia = stream.getVideoTracks().length ? media : "audio";
    const request = byName ? { type: "call.invite", to_username: username, media: callMedia } : { type: "call.invite", to, media: callMedia };
    if (timeout) request.timeout = timeout;
    let ack;
    try {
      ack = await this.signaling.request(request);
    } catch (error) {
      stopStream(stream);
      this._emit("error", { code: error.code, message: error.message });
      throw error;
    }
    // The call.ringing (or, if busy, call.ended) event follows the ack; keep the media for it.
    this._pendingStream = { id: ack.call_id, stream };
    // (If they called us at the same moment, the ack names their call: "accepted" follows.)
    if (this.currentCall?.id === ack.call_id && this.currentCall.role === "caller") {
      this._adoptPendingStream(this.currentCall);
    } else if (this.currentCall?.id === ack.call_id) {
      this.currentCall.thisDevice = true; // glare: this tab answered their call
    }
    return this._waitForCall(ack.call_id);
  }

  /**
   * Answer the incoming call on this tab.
   * @param {{media?: "audio"|"video"}} [options]  `media: "audio"` answers a video call without camera
   * @returns {Promise<Call>}
   */
  async accept({ media } = {}) {
    const call = this._require("ringing", "callee");
    const wanted = media ?? call.media;
    const [{ stream, videoError }] = await Promise.all([this._openMedia(wanted), this._freshIce()]);
    if (videoError) this._emit("error", { code: videoError.code, message: `${videoError.message} ${gettext("You answer with audio only.")}` });
    if (this.currentCall !== call || call.state !== "ringing") {
      stopStream(stream);
      throw new SignalingError("invalid_state", gettext("The call is no longer ringing."));
    }
    call.localStream = stream;
    call.localMedia = { mic: true, camera: stream.getVideoTracks().length > 0 };
    this._emit("localstream", { call, stream });
    // We offer: send accept, then at once start the peer; the server relays our offer only
    // after it has processed the accept (messages on one socket are handled in order).
    const accepted = this.signaling.request({ type: "call.accept", call_id: call.id });
    call.thisDevice = true;
    this._startPeer(call, { polite: false, offer: true });
    try {
      await accepted;
    } catch (error) {
      this._teardownMedia(call);
      call.thisDevice = false;
      this._emit("error", { code: error.code, message: error.message });
      throw error;
    }
    this._sendMediaStateIfChanged(call);
    return call;
  }

  /** Decline the incoming call (stops it ringing on every tab). @returns {Promise<object>} the server's ack */
  reject() {
    const call = this._require("ringing", "callee");
    return this._endRequest(call, { type: "call.reject", call_id: call.id });
  }

  /** Give up calling before an answer. @returns {Promise<object>} the server's ack */
  cancel() {
    const call = this._require("ringing", "caller");
    return this._endRequest(call, { type: "call.cancel", call_id: call.id });
  }

  /** End an answered call. @returns {Promise<object>} the server's ack */
  hangup() {
    const call = this._require("active");
    return this._endRequest(call, { type: "call.hangup", call_id: call.id });
  }

  /** Ask the server to end `call`; if its "ended" push got lost, fetch the bill. */
  async _endRequest(call, message) {
    const ack = await this._request(message);
    setTimeout(() => {
      if (this.currentCall === call && call.state !== "ended") {
        this.signaling.request({ type: "sync", call_id: call.id }).catch(() => {});
      }
    }, 2000);
    return ack;
  }

  /** End whatever the current call is doing: cancel, reject or hang up. @returns {Promise<object|void>} */
  end() {
    const call = this.currentCall;
    if (!call || call.state === "ended") return Promise.resolve();
    if (call.state === "active") return this.hangup();
    return call.role === "caller" ? this.cancel() : this.reject();
  }

  // --- in-call controls -------------------------------------------------------------------

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

  // --- inbound messages -------------------------------------------------------------------

  _onMessage(message) {
    switch (message.type) {
      case "hello":
      case "sync":
        return this._onHello(message);
      case "rtc.offer":
      case "rtc.answer":
      case "rtc.candidate":
        if (this._peer && this.currentCall?.id === message.call_id) this._peer.signal(message);
        return;
      case "error":
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
      }
    } else if (live && live.state !== "ended") {
      const call = this._adopt(live, message.role, false);
      if (live.state === "ringing" && message.role === "callee") this._emit("incoming", { call });
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
        return this._emit("incoming", { call });
      case "call.accepted":
        if (call.role === "caller" && call.thisDevice && !this._peer) {
          this._startPeer(call, { polite: true, offer: false });
          this._sendMediaStateIfChanged(call);
        } else if (call.role === "callee" && call.thisDevice && !this._peer && this._pendingStream?.id === call.id) {
          // Glare: we called them as they called us; the server answered their call for us.
          this._adoptPendingStream(call);
          if (call.media === "audio") {
            for (const track of call.localStream?.getVideoTracks() ?? []) {
              track.stop(); // their call is audio: our camera stays off
              call.localStream.removeTrack(track);
            }
            call.localMedia = { ...call.localMedia, camera: false };
          }
          this._startPeer(call, { polite: false, offer: true });
          this._sendMediaStateIfChanged(call);
        }
        this._emitState(call, previous);
        return this._emit("accepted", { call });
      case "call.answered_elsewhere":
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

  // --- ICE servers: short-lived TURN credentials, renewed before they expire ------------------

  /**
   * Ask the server for fresh ICE servers (a new TURN credential); a live media connection
   * switches to them for its next ICE restart. Resolves with `{ice_servers, expires_at}`.
   * @returns {Promise<{ice_servers: RTCIceServer[], expires_at: string|null}>}
   */
  async refreshIceServers() {
    const reply = await this.signaling.request({ type: "ice.refresh" }, ICE_REFRESH_WAIT_MS);
    return { ice_servers: reply.ice_servers, expires_at: reply.expires_at };
  }

  /** Before a new call: fresh credentials when the server hands out TURN ones (never fails the call). */
  _freshIce() {
    if (!this.config?.ice_expires_at || this.options.iceServers) return Promise.resolve();
    return this.refreshIceServers().catch(() => {}); // keep the ones we have, still valid for a while
  }

  _onIceServers(message) {
    if (!this.config) return;
    this.config = { ...this.config, ice_servers: message.ice_servers, ice_expires_at: message.expires_at };
    const pc = this._peer?.pc;
    if (pc && !this.options.iceServers) {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: message.ice_servers });
      } catch {
        // A closing connection refuses; the next call starts with the fresh servers anyway.
      }
    }
    this._scheduleIceRefresh();
  }

  /** Renew the TURN credential when a tenth of its lifetime is left (or after `delay` ms). */
  _scheduleIceRefresh(delay) {
    clearTimeout(this._iceTimer);
    this._iceTimer = null;
    const expires = this.config?.ice_expires_at;
    if (!expires || this.options.iceServers) return;
    const left = Date.parse(expires) - (Date.now() + this._clockOffset);
    this._iceTimer = setTimeout(() => {
      // On failure try again soon; a socket that reconnects gets fresh ones in its hello anyway.
      this.refreshIceServers().catch(() => {
        if (this.signaling.state !== "closed") this._scheduleIceRefresh(ICE_RETRY_MS);
      });
    }, delay ?? Math.max(ICE_RETRY_MS, left * 0.9));
  }

  // --- media ----------------------------------------------------------------------------

  _startPeer(call, { polite, offer }) {
    clearTimeout(this._failTimer);
    this._failTimer = null;
    this._iceRestarted = false;
    if (this._peer) this._peer.destroy();
    const peer = new Peer({
      polite,
      iceServers: this.options.iceServers ?? this.config?.ice_servers ?? [],
      iceTransportPolicy: this.options.iceTransportPolicy ?? this.config?.ice_transport_policy ?? "all",
    });
    this._peer = peer;
    this._armFailTimer(call, peer, (this.config?.connect_timeout ?? CONNECT_TIMEOUT_MS / 1000) * 1000);
    peer.attach(call.localStream);
    call.connection = "connecting";
    call.remoteStream = peer.remoteStream;
    peer.addEventListener("signal", (e) => {
      if (this._peer === peer) this.signaling.send({ ...e.detail, call_id: call.id });
    });
    peer.addEventListener("track", () => this._emit("remotestream", { call, stream: peer.remoteStream }));
    peer.addEventListener("connectionstate", (e) => this._onPeerState(call, peer, e.detail.state));
    peer.addEventListener("error", (e) => this._emit("error", { code: "media_error", message: String(e.detail.error?.message ?? e.detail.error) }));
    if (offer) peer.start(call.media === "video" ? ["audio", "video"] : ["audio"]);
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
    if (this._pendingStream?.id !== call.id) return;
    call.localStream = this._pendingStream.stream;
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

  // --- helpers ----------------------------------------------------------------------------

  _adopt(info, role, thisDevice) {
    if (this.currentCall && this.currentCall.state !== "ended" && this.currentCall.id !== info.id) {
      this._teardownMedia(this.currentCall);
    }
    const call = new Call(info, role, thisDevice);
    const other = role === "caller" ? "callee" : "caller";
    call.remoteMedia = { ...info.media_state[other] };
    this.currentCall = call;
    return call;
  }

  /** Take the server's newer snapshot; an ended call stays ended (late events may arrive). */
  _update(call, info) {
    const rank = { ringing: 1, active: 2, ended: 3 };
    if (rank[info.state] < rank[call.info.state]) return false; // a late event: keep what we know
    call.info = info;
    return true;
  }

  _emitState(call, previous) {
    if (call.state !== previous) this._emit("statechange", { call, state: call.state, previous });
  }

  _waitForCall(callId) {
    const done = (call) => call && call.id === callId && ["ringing", "active", "ended"].includes(call.state) && (call.state !== "ringing" || call.role === "caller");
    if (done(this.currentCall)) return Promise.resolve(this.currentCall);
    const events = ["ringing", "accepted", "ended", "statechange"];
    return new Promise((resolve) => {
      const check = () => {
        if (!done(this.currentCall)) return;
        for (const type of events) this.removeEventListener(type, check);
        resolve(this.currentCall);
      };
      for (const type of events) this.addEventListener(type, check);
    });
  }

  _require(state, role) {
    const call = this.currentCall;
    if (!call || call.state === "ended") throw new SignalingError("no_call", gettext("There is no call."));
    if (state && call.state !== state) throw new SignalingError("invalid_state", gettext("That is not possible at this stage of the call."));
    if (role && call.role !== role) throw new SignalingError("invalid_state", role === "caller" ? gettext("Only the caller can do that.") : gettext("Only the person called can do that."));
    return call;
  }

  async _request(message) {
    try {
      return await this.signaling.request(message);
    } catch (error) {
      this._emit("error", { code: error.code, message: error.message });
      throw error;
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** A random id for this tab, kept in sessionStorage so that it survives reloads. */
function tabId() {
  const key = "callkit.tab";
  try {
    let id = sessionStorage.getItem(key);
    if (!id) {
      id = crypto.randomUUID().replaceAll("-", "");
      sessionStorage.setItem(key, id);
    }
    return id;
  } catch {
    return crypto.randomUUID().replaceAll("-", "");
  }
}

function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
