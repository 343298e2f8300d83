// Ringtone (incoming) and ringback (outgoing), synthesised with WebAudio: no audio files.

let context = null;

function audioContext() {
  if (!context) {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctx) return null;
    context = new Ctx();
  }
  return context;
}

/**
 * Let tones play: browsers start audio only after a user gesture, so resume the context on the
 * first click or key press anywhere on the page.
 * @param {EventTarget} [target]  where to listen; the document by default
 * @returns {void}
 */
export function unlockAudioOnGesture(target = globalThis.document) {
  const unlock = () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume();
  };
  target?.addEventListener("pointerdown", unlock, { capture: true });
  target?.addEventListener("keydown", unlock, { capture: true });
}

const PATTERNS = {
  // Two-tone warble, 1 s on / 2 s off.
  ringtone: { freqs: [440, 480], on: 1.0, off: 2.0, gain: 0.15, warble: true },
  // North American ringback: 440 + 480 Hz, 2 s on / 4 s off.
  ringback: { freqs: [440, 480], on: 2.0, off: 4.0, gain: 0.08, warble: false },
};

/** A call tone that repeats until stopped: "ringtone" for an incoming call, "ringback" while calling. */
export class Tone {
  /** @param {"ringtone"|"ringback"} kind */
  constructor(kind) {
    this.pattern = PATTERNS[kind];
    /** @type {"ringtone"|"ringback"} */ this.kind = kind;
    /** @type {boolean} */ this.playing = false;
    this._timer = null;
    this._nodes = [];
  }

  /** Play the tone over and over (a no-op if playing, or without WebAudio). @returns {void} */
  start() {
    if (this.playing) return;
    const ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    this.playing = true;
    const cycle = () => {
      if (!this.playing) return;
      this._burst(ctx);
      this._timer = setTimeout(cycle, (this.pattern.on + this.pattern.off) * 1000);
    };
    cycle();
  }

  _burst(ctx) {
    const { freqs, on, gain, warble } = this.pattern;
    const t0 = ctx.currentTime;
    const out = ctx.createGain();
    out.gain.setValueAtTime(0, t0);
    out.gain.linearRampToValueAtTime(gain, t0 + 0.02);
    out.gain.setValueAtTime(gain, t0 + on - 0.02);
    out.gain.linearRampToValueAtTime(0, t0 + on);
    out.connect(ctx.destination);
    for (const f of freqs) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      if (warble) {
        // Alternate the two tones 20 times a second, like a phone's bell.
        const lfo = ctx.createOscillator();
        const depth = ctx.createGain();
        lfo.frequency.value = 20;
        depth.gain.value = 20;
        lfo.connect(depth).connect(osc.frequency);
        lfo.start(t0);
        lfo.stop(t0 + on);
      }
      osc.connect(out);
      osc.start(t0);
      osc.stop(t0 + on);
      this._nodes.push(osc);
    }
    this._nodes.push(out);
  }

  /** Stop at once, mid-burst too. @returns {void} */
  stop() {
    this.playing = false;
    clearTimeout(this._timer);
    for (const node of this._nodes.splice(0)) {
      try {
        if (node.stop) node.stop();
        node.disconnect();
      } catch {
        /* already stopped */
      }
    }
  }
}
