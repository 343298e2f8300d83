// Lookups into the call screen (templates/calls/_callkit.html) shared by the UI modules.

export const root = document.getElementById("callkit");
const SVG = "http://www.w3.org/2000/svg";

/** The first element marked data-ck="name". */
export const $ = (name) => root.querySelector(`[data-ck="${name}"]`);
/** Every element marked data-ck="name". */
export const $$ = (name) => root.querySelectorAll(`[data-ck="${name}"]`);
/** The first button with data-ck-action="name". */
export const action = (name) => root.querySelector(`[data-ck-action="${name}"]`);

/** Put `text` into every data-ck="name" element. */
export function setText(name, text) {
  for (const el of $$(name)) el.textContent = text;
}

/** An icon from the sprite: <svg class="ck-icon" aria-hidden="true"><use href="…#id"/></svg>. */
export function icon(id) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "ck-icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `${root.dataset.icons}#${id}`);
  svg.append(use);
  return svg;
}

/** Point an existing icon (an <svg> holding a <use>) at sprite symbol `id`. */
export function setIcon(svg, id) {
  svg?.querySelector("use")?.setAttribute("href", `${root.dataset.icons}#${id}`);
}

/** `fn()`, or null if it throws (storage may be denied to a cross-site iframe). */
export function attempt(fn) {
  try {
    return fn();
  } catch {
    return null;
  }
}

/** A person's initials for an avatar: "Bob Builder" → "BB", "王小明" → "王". */
export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/);
  const first = Array.from(words[0] || "?")[0];
  const last = words.length > 1 ? Array.from(words.at(-1))[0] : "";
  return (first + last).toUpperCase();
}

/** Attach a stream to a <video> (null detaches it). */
export function attach(element, stream) {
  if (element.srcObject !== stream) element.srcObject = stream;
  if (stream) element.play().catch(() => {});
}
