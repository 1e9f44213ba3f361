/** The longest text from a backend that Anvil keeps (an error message, a model name). */
export const MAX_BACKEND_TEXT = 2_000;

// C0 controls except tab, line feed and carriage return, DEL, and C1 controls: none of them belongs in a message,
// and NUL cannot be stored in PostgreSQL text at all.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
// A surrogate half without its partner, which PostgreSQL's jsonb refuses.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text from a backend made safe to store and show: no control characters or NUL, no unpaired surrogates, at most
 * `max` characters, cut on a code point (never in the middle of an emoji) with an ellipsis.
 */
export const cleanText = (text: string, max = MAX_BACKEND_TEXT): string => {
  const clean = text.replace(CONTROL, "").replace(LONE_SURROGATE, "\ufffd").trim();
  if (clean.length <= max) return clean;
  const points = Array.from(clean);
  let out = "";
  for (const point of points) {
    if (out.length + point.length > max - 1) break;
    out += point;
  }
  return `${out}…`;
};
