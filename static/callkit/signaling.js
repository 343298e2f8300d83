// The socket to /ws/calls/: one per tab, reconnecting with backoff. Requests carry a `ref` and
// resolve on their `ack` (or reject on their `error`); everything else is emitted as "message".

import { gettext } from "./i18n.js";

export class SignalingError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class Signaling extends EventTarget {
  /** @param {{url: string, protocols?: () => string[], maxDelay?: () => number, WebSocket?: typeof WebSocket}} options */
  constructor({ url, protocols = () => [], maxDelay = () => 10000, WebSocket: Impl = globalThis.WebSocket }) {
    super();
    this.url = url;
    this.protocols = protocols; // asked at every (re)connect: an embed's token changes over time
    this.maxDelay = maxDelay; // the longest wait before a reconnect, in ms, asked before each one
    this.Impl = Impl;
    this.ws = null;
    this.state = "closed"; // "connecting" | "open" | "reconnecting" | "closed"
    this.attempt = 0;
    this._pending = new Map(); // ref -> {resolve, reject, timer}
    this._nextRef = 1;
    this._wanted = false;
    this._retryTimer = null;
  }

  /** Open the socket (and keep it open until close()). Resolves with the first hello. */
  open() {
    this._wanted = true;
    const first = new Promise((resolve, reject) => {
      const onHello = (e) => {
        if (e.detail.type !== "hello") return;
        this.removeEventListener("message", onHello);
        this.removeEventListener("refused", onRefused);
        resolve(e.detail);
      };
      const onRefused = () => {
        this.removeEventListener("message", onHello);
        reject(new SignalingError("refused", gettext("The server refused the connection (signed out?).")));
      };
      this.addEventListener("message", onHello);
      this.addEventListener("refused", onRefused);
    });
    this._connect();
    return first;
  }

  _connect() {
    clearTimeout(this._retryTimer);
    this._setState(this.attempt ? "reconnecting" : "connecting");
    const protocols = this.protocols();
    const ws = protocols.length ? new this.Impl(this.url, protocols) : new this.Impl(this.url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this._setState("open");
    };
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._failPending("disconnected", "The connection to the server was lost.");
      if (!opened && this.attempt === 0 && this.state === "connecting") {
        // Refused at the handshake on the very first try: most likely not signed in.
        this._emit("refused", {});
      }
      if (event.code === 4401) {
        // Signed out (logout, a new password, deactivation, an embed's session over): a new
        // socket would be refused too, so stop instead of retrying.
        this._wanted = false;
        this._emit("signedout", {});
      }
      if (!this._wanted) {
        this._setState("closed");
        return;
      }
      // 4429: this user or address holds too many sockets already; do not add to the pile soon.
      if (event && event.code === 4429) this.attempt = Math.max(this.attempt, 6);
      this.attempt += 1;
      this._setState("reconnecting");
      this._retryTimer = setTimeout(() => this._connect(), this.retryDelay());
    };
  }

  /** How long to wait before the next reconnect: doubling from 0.5 s up to maxDelay(), ±25 %. */
  retryDelay() {
    return Math.min(this.maxDelay(), 250 * 2 ** Math.min(this.attempt, 6)) * (0.75 + Math.random() / 2);
  }

  _receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const pending = message.ref && this._pending.get(message.ref);
    if (pending) {
      this._pending.delete(message.ref);
      clearTimeout(pending.timer);
      if (message.type === "error") pending.reject(new SignalingError(message.code, message.message));
      else pending.resolve(message);
      // Its requester has the answer; an ack or error concerns nobody else.
      if (message.type === "ack" || message.type === "error") return;
    }
    this._emit("message", message);
  }

  /** Send a message; false if the socket is not open. */
  send(message) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send a request and wait for its answer. */
  request(message, timeoutMs = 10000) {
    const ref = `r${this._nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, ref })) {
        reject(new SignalingError("disconnected", gettext("Not connected to the server.")));
        return;
      }
      const timer = setTimeout(() => {
        this._pending.delete(ref);
        reject(new SignalingError("timeout", gettext("The server did not answer in time.")));
      }, timeoutMs);
      this._pending.set(ref, { resolve, reject, timer });
    });
  }

  /** Drop the current socket (the next one opens after the backoff) — used by tests and on network change. */
  drop() {
    if (this.ws) this.ws.close();
  }

  close() {
    this._wanted = false;
    clearTimeout(this._retryTimer);
    if (this.ws) this.ws.close();
    else this._setState("closed");
  }

  _failPending(code, text) {
    for (const { reject, timer } of this._pending.values()) {
      clearTimeout(timer);
      reject(new SignalingError(code, text));
    }
    this._pending.clear();
  }

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this._emit("state", { state, previous });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
