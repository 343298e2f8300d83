// CallKit Web JS SDK: 1:1 audio/video calls over /ws/calls/ (docs/sdk.md documents it all).
// ES module, no build step. The default UI (ui.js) uses only what this module exports.
// The CallKit class is split by what it does: connection, placing and answering here; in-call
// controls, inbound messages, ICE servers and the media session in kit/*.js.

import { Signaling, SignalingError } from "./signaling.js";
import { MediaError, listDevices } from "./media.js";
import { billText, formatDuration, isMissed } from "./bill.js";
import { gettext } from "./i18n.js";
import { Call, CallState } from "./call.js";
import { stopStream } from "./kit/streams.js";
import { Controls } from "./kit/controls.js";
import { Inbound } from "./kit/inbound.js";
import { IceServers } from "./kit/ice.js";
import { MediaSession } from "./kit/media.js";
import { Preconnect, mediaAllowed } from "./kit/preconnect.js";

export { Call, CallState };
export { billText, formatDuration, isMissed, listDevices, MediaError, SignalingError };
export { Tone, unlockAudioOnGesture } from "./tones.js";
export { gettext, interpolate, ngettext } from "./i18n.js";

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
 * @property {boolean} preconnect  ringing tabs connect media before the answer (nothing is sent until then)
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
 * @property {CustomEvent<{call: Call, stream: MediaStream}>} preview  a call rings here and your devices are open for it (nothing is sent)
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
 * icerestart, localstream, remotestream, preview, mediastate, calltypechanged, switchrequested,
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
    mediaAllowed("video"); // asked now, so that a click on Call waits for no permission query
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
   * Call someone. Rings them at once when the microphone (and camera) may be used already, and
   * opens them meanwhile; else opens them first (the browser may ask), then rings.
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
    // Allowed already: ring first and open the devices meanwhile (the ring is not kept waiting
    // for the camera). Else ask first: no one is rung by a caller who cannot be heard.
    const ringFirst = await mediaAllowed(media);
    let opening, callMedia = media;
    if (!ringFirst) {
      const [opened] = await Promise.all([this._openMedia(media), this._freshIce()]);
      const { stream, videoError } = opened;
      if (videoError) this._emit("error", { code: videoError.code, message: `${videoError.message} ${gettext("The call goes on as audio.")}` });
      callMedia = stream.getVideoTracks().length ? media : "audio";
      opening = Promise.resolve({ stream, videoError: null });
    }
    const request = byName ? { type: "call.invite", to_username: username, media: callMedia } : { type: "call.invite", to, media: callMedia };
    if (timeout) request.timeout = timeout;
    const invited = this.signaling.request(request);
    if (ringFirst) {
      // After the invite has left: starting the camera takes the page's thread for a moment.
      opening = this._openMedia(media);
      opening.catch(() => {}); // reported as an "error" event; handled below once the call exists
      this._freshIce();
    }
    let ack;
    try {
      ack = await invited;
    } catch (error) {
      opening.then(({ stream }) => stopStream(stream), () => {});
      this._emit("error", { code: error.code, message: error.message });
      throw error;
    }
    // The call.ringing (or, if busy, call.ended) event follows the ack; the media joins the call
    // when both are there (the server keeps nothing flowing before the answer anyway).
    this._pendingStream = { id: ack.call_id, stream: null };
    if (this.currentCall?.id === ack.call_id && this.currentCall.role === "callee") {
      this.currentCall.thisDevice = true; // glare: this tab answered their call
    }
    await opening.then(
      (opened) => this._callerMediaOpened(ack.call_id, opened),
      (error) => {
        this._callerMediaFailed(ack.call_id); // rung already: the call is canceled
        throw error;
      },
    );
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
    // Connected while it rang (kit/preconnect.js): the devices are open, Accept only sets the tracks.
    // The prepared connection goes on signalling while the camera may still be opening.
    const prepared = this._preparedFor(call);
    let opened;
    try {
      opened = prepared
        ? await prepared.media.catch(() => this._openMedia(wanted))
        : (await Promise.all([this._openMedia(wanted), this._freshIce()]))[0];
    } catch (error) {
      this._dropPrepared(call);
      throw error;
    }
    const { stream, videoError } = opened;
    if (videoError) this._emit("error", { code: videoError.code, message: `${videoError.message} ${gettext("You answer with audio only.")}` });
    if (this.currentCall !== call || call.state !== "ringing") {
      stopStream(stream);
      this._dropPrepared(call);
      throw new SignalingError("invalid_state", gettext("The call is no longer ringing."));
    }
    if (wanted === "audio") {
      for (const track of stream.getVideoTracks()) {
        track.stop(); // answered without video: the preview's camera closes
        stream.removeTrack(track);
      }
    }
    call.localStream = stream;
    call.localMedia = { mic: true, camera: stream.getVideoTracks().length > 0 };
    this._emit("localstream", { call, stream });
    // We offer: send accept, then at once start the peer; the server relays our offer only
    // after it has processed the accept (messages on one socket are handled in order).
    const accepted = this.signaling.request({ type: "call.accept", call_id: call.id });
    call.thisDevice = true;
    if (prepared) {
      this._usePeer(call, prepared.peer);
      this._prepared = null;
    } else {
      this._startPeer(call, { polite: false, offer: true });
    }
    try {
      await accepted;
    } catch (error) {
      this._teardownMedia(call);
      call.thisDevice = false;
      this._emit("error", { code: error.code, message: error.message });
      throw error;
    }
    if (prepared) {
      // The server took our answer: media may flow now (not before: another tab may have won,
      // or the caller given up). An offer still unanswered goes again (it may have been lost).
      prepared.peer.release(stream);
      prepared.peer.resendOffer();
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

// The class is split by responsibility (style.md 12): each part's methods join the prototype,
// so `kit.setMicrophoneEnabled()` and the rest are CallKit methods as documented.
for (const part of [Controls, Inbound, IceServers, MediaSession, Preconnect]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name !== "constructor") Object.defineProperty(CallKit.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name));
  }
}
