// A call as the SDK shows it to applications, and the protocol's types (docs/protocol.md).

import { billText } from "./bill.js";

/**
 * The server's call states; the SDK uses the same names.
 * @type {Readonly<{RINGING: "ringing", ACTIVE: "active", ENDED: "ended"}>}
 */
export const CallState = Object.freeze({ RINGING: "ringing", ACTIVE: "active", ENDED: "ended" });

/** @typedef {{id: number, username: string, name: string}} Person  A user, as the server names them. */
/** @typedef {{mic: boolean, camera: boolean}} MediaState  One side's microphone and camera (true: on). */
/** @typedef {"completed"|"canceled"|"rejected"|"timeout"|"busy"|"failed"} BillStatus  How a call ended. */

/**
 * The server's call object (docs/protocol.md), as last heard; once ended, it is the bill.
 * @typedef {object} CallInfo
 * @property {string} id
 * @property {Person} caller
 * @property {Person} callee
 * @property {"audio"|"video"} media  what the call is now
 * @property {"audio"|"video"} initial_media  what it started as
 * @property {"ringing"|"active"|"ended"} state
 * @property {BillStatus|null} status  null until ended
 * @property {"hangup"|"canceled"|"rejected"|"timeout"|"busy"|"failed"|"connection_lost"|null} end_reason
 * @property {number|null} ended_by  user id; null when the server ended it (timeout, busy)
 * @property {string} created_at  ISO 8601
 * @property {string|null} answered_at
 * @property {string|null} ended_at
 * @property {string|null} ring_deadline
 * @property {number} duration  whole seconds from answer to end; 0 if never answered
 * @property {{caller: MediaState, callee: MediaState}} media_state
 * @property {{to: "video", asked_by: number}|null} switch  a pending audio→video request
 * @property {Array<"caller"|"callee">} away  the sides whose connection dropped
 */

/** @typedef {CallInfo & {state: "ended", status: BillStatus}} Bill  An ended call: its bill. */

/**
 * One direction's network quality, read from getStats() every 2 s.
 * @typedef {object} Quality
 * @property {0|1|2|3|4|5} level  5 excellent … 1 bad; 0 unknown
 * @property {number|null} rtt  round-trip time, seconds
 * @property {number|null} loss  packet loss, 0…1
 * @property {number|null} jitter  seconds
 */

/** One call, as this tab sees it. Read-only for applications; the CallKit changes it. */
export class Call {
  /**
   * @param {CallInfo} info
   * @param {"caller"|"callee"} role
   * @param {boolean} thisDevice
   */
  constructor(info, role, thisDevice) {
    /** @type {string} */ this.id = info.id;
    /** @type {"caller"|"callee"} */ this.role = role;
    /** @type {"outgoing"|"incoming"} */ this.direction = role === "caller" ? "outgoing" : "incoming";
    /** @type {Person} */ this.peer = role === "caller" ? info.callee : info.caller;
    /** @type {boolean} whether this tab holds our side (media flows here) */ this.thisDevice = thisDevice;
    /** @type {"new"|"connecting"|"connected"|"reconnecting"|"failed"|"closed"} */ this.connection = "new";
    /** @type {MediaStream|null} */ this.localStream = null;
    /** @type {MediaStream|null} */ this.remoteStream = null;
    /** @type {MediaState} */ this.localMedia = { mic: true, camera: true };
    /** @type {MediaState} */ this.remoteMedia = { mic: true, camera: true };
    /** @type {{local: Quality, remote: Quality}|null} the last networkquality reading */ this.quality = null;
    /** @type {CallInfo} the raw call object of the protocol */ this.info = info;
  }

  /** @returns {"ringing"|"active"|"ended"} */
  get state() {
    return this.info.state;
  }

  /** @returns {"audio"|"video"} */
  get media() {
    return this.info.media;
  }

  /** When the call was answered, as a Date (null before). @returns {Date|null} */
  get answeredAt() {
    return this.info.answered_at ? new Date(this.info.answered_at) : null;
  }

  /** The bill once ended: {status, end_reason, duration, …}; null before. @returns {Bill|null} */
  get bill() {
    return this.info.state === "ended" ? this.info : null;
  }

  /** The bill's text for this side ("Video call · 02:15", "Missed call", …); "" before. @returns {string} */
  get billText() {
    return this.bill ? billText(this.bill, this.role) : "";
  }

  /** A pending audio→video request: {to, byMe}; null if none. @returns {{to: "video", byMe: boolean}|null} */
  get switchRequest() {
    const s = this.info.switch;
    if (!s) return null;
    const mine = this.role === "caller" ? this.info.caller.id : this.info.callee.id;
    return { to: s.to, byMe: s.asked_by === mine };
  }
}
