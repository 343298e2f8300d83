// The SDK's timings and tables, shared by callkit.js and its parts in kit/.

/** Outcome events, one per bill status, emitted just before "ended". */
export const OUTCOME_EVENTS = { completed: "completed", canceled: "canceled", rejected: "rejected", timeout: "timeout", busy: "busy", failed: "failed" };
export const FAIL_AFTER_MS = 12000; // media that stays failed/disconnected this long ends the call as failed
export const CONNECT_TIMEOUT_MS = 20000; // media that never connects within this ends the call as failed (server may say otherwise)
export const QUALITY_EVERY_MS = 2000;
export const DISCONNECTED_RESTART_MS = 4000; // "disconnected" this long: restart ICE before giving up
export const ICE_REFRESH_WAIT_MS = 3000; // how long a new call waits for fresh TURN credentials before using the ones it has
export const ICE_RETRY_MS = 5000; // a failed credential refresh is tried again after this (and never sooner than this)
