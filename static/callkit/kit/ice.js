// CallKit, part: iCE servers: short-lived TURN credentials, renewed before they expire.
// Its methods join CallKit.prototype (callkit.js); `this` is the CallKit.

import { ICE_REFRESH_WAIT_MS, ICE_RETRY_MS } from "./constants.js";

/** ICE servers: short-lived TURN credentials, renewed before they expire. */
export class IceServers {

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
}
