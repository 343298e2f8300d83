// Media stream helpers shared by the SDK's parts.

/** Stop every track of `stream` (null is fine). */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
