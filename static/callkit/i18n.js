// Translations for the SDK and the default UI. Pages load Django's JavaScript catalog
// (/jsi18n/) before the modules; without it (e.g. a host page using the SDK alone) text
// stays in English.

/** The translation of `text` in the page's language. */
export function gettext(text) {
  return typeof globalThis.gettext === "function" ? globalThis.gettext(text) : text;
}

/** `gettext` for a count: the singular or plural form that fits `n`. */
export function ngettext(singular, plural, n) {
  if (typeof globalThis.ngettext === "function") return globalThis.ngettext(singular, plural, n);
  return n === 1 ? singular : plural;
}

/** Fill "%(name)s" placeholders from `values`. */
export function interpolate(format, values) {
  return format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}
