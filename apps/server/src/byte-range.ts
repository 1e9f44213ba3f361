/** What a request's `Range` asks of a representation of `size` bytes (RFC 9110 14.2). */
export type RangeAsked =
  /** No range, or one this server ignores (malformed, another unit, several ranges): the whole representation. */
  | { kind: "whole" }
  /** Bytes `start` to `end`, both counted, within the representation. */
  | { kind: "part"; start: number; end: number }
  /** A well-formed range that lies wholly past the end: 416. */
  | { kind: "unsatisfiable" };

// One range of the bytes unit: `a-b`, `a-` or `-n` (RFC 9110 14.1.2); the unit is case-insensitive.
const ONE_RANGE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i;

/**
 * Reads `header` against a representation of `size` bytes. Only a single range is served: a client asking for
 * several gets the whole image (RFC 9110 allows it, and multipart/byteranges for one image gains nothing).
 */
export function rangeAsked(header: string | undefined, size: number): RangeAsked {
  const match = header === undefined ? null : ONE_RANGE.exec(header.trim());
  if (!match) return { kind: "whole" };
  const [, first = "", last = ""] = match;
  if (first === "") {
    if (last === "") return { kind: "whole" };
    // A suffix: the last n bytes, all of them when n is more than there are.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  // a-b with b < a is invalid (RFC 9110 14.1.1), and an invalid range is ignored, not refused.
  if (end < start && last !== "") return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "part", start, end: Math.min(end, size - 1) };
}

/**
 * Whether an `If-Range` lets the range apply: only when it names the image's strong `etag` exactly (RFC 9110
 * 13.1.5: a weak tag or a date never matches here; images carry no Last-Modified). No `If-Range` lets it apply.
 */
export const ifRangeHolds = (header: string | undefined, etag: string): boolean =>
  header === undefined || header.trim() === etag;

/** Whether an `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2), or is `*`. */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = header.split(",").map((tag) => tag.trim().replace(/^W\//, ""));
  return tags.includes("*") || tags.includes(etag);
}
