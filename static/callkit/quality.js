// Network quality from getStats(): round-trip time, loss and jitter, each side, as 1 (bad) … 5.

/** Score one direction; `rtt` and `jitter` in seconds, `loss` as a fraction. */
export function qualityLevel({ rtt, loss, jitter }) {
  if (rtt == null && loss == null && jitter == null) return 0; // unknown yet
  const r = (rtt ?? 0) * 1000;
  const j = (jitter ?? 0) * 1000;
  const l = (loss ?? 0) * 100;
  if (r < 150 && l < 1 && j < 20) return 5;
  if (r < 250 && l < 3 && j < 40) return 4;
  if (r < 400 && l < 6 && j < 70) return 3;
  if (r < 700 && l < 12 && j < 120) return 2;
  return 1;
}

/**
 * Read both sides' quality from a stats report. `previous` is the last result (for loss deltas).
 * local: what we receive; remote: what the other side receives from us (RTCP reports).
 */
export function readQuality(report, previous = null) {
  let rtt = null;
  let received = 0;
  let lost = 0;
  let jitter = null;
  let remoteLoss = null;
  let remoteJitter = null;
  let remoteRtt = null;
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime;
    if (s.type === "inbound-rtp") {
      received += s.packetsReceived ?? 0;
      lost += s.packetsLost ?? 0;
      if (s.jitter != null) jitter = Math.max(jitter ?? 0, s.jitter);
    }
    if (s.type === "remote-inbound-rtp") {
      if (s.fractionLost != null) remoteLoss = Math.max(remoteLoss ?? 0, s.fractionLost);
      if (s.jitter != null) remoteJitter = Math.max(remoteJitter ?? 0, s.jitter);
      if (s.roundTripTime != null) remoteRtt = s.roundTripTime;
    }
  });
  const dReceived = received - (previous?.counters.received ?? 0);
  const dLost = lost - (previous?.counters.lost ?? 0);
  const loss = dReceived + dLost > 0 ? Math.max(0, dLost) / (dReceived + dLost) : null;
  const local = { rtt, loss, jitter };
  const remote = { rtt: remoteRtt ?? rtt, loss: remoteLoss, jitter: remoteJitter };
  return {
    local: { ...local, level: qualityLevel(local) },
    remote: { ...remote, level: qualityLevel(remote) },
    counters: { received, lost },
  };
}
