import type { IncomingMessage, ServerResponse } from "node:http";

/** A `Vary` value with `name` among its names (added when missing). */
const varyWith = (vary: string, name: string): string =>
  new RegExp(`(^|,)\\s*${name}\\s*(,|$)`, "i").test(vary) ? vary : vary ? `${vary}, ${name}` : name;

/** Adds `name` to the answer's `Vary`, keeping the names already there. */
export function addVary(res: ServerResponse, name: string): void {
  res.setHeader("vary", varyWith(String(res.getHeader("vary") ?? ""), name));
}

/**
 * Keeps `name` in the answer's `Vary` whatever the handler sets later: tRPC sets its own (`trpc-accept, accept`) over
 * what was there.
 */
function keepInVary(res: ServerResponse, name: string): void {
  addVary(res, name);
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (header: string, value: number | string | readonly string[]) =>
    setHeader(header, header.toLowerCase() === "vary" ? varyWith(String(value), name) : value);
}

/** What a page's call to the API may carry: a Bearer token, a JSON body, an event stream's resume, an image's range. */
const ALLOWED_HEADERS = "authorization, content-type, last-event-id, range, if-range, if-none-match";

/** What a page may read of an answer besides the safelisted headers: a 429's or a 503's wait, an image's range. */
const EXPOSED_HEADERS = "retry-after, accept-ranges, content-range, etag";

/**
 * CORS for the pages of `ALLOWED_ORIGINS` (docs/API.md, "Users and sign-in"): they may act as the browser's user, and
 * `@anvil/client` runs in a browser, but without these headers the browser kept every answer from them. An
 * answer to such a page names its origin (never `*`: it may carry the browser's session cookie); a preflight is
 * answered here, before any sign-in (a browser sends none with it). Other origins get no CORS headers, so their
 * pages still cannot read Anvil's answers. Returns true when it answered the request (a preflight) itself.
 */
export function answerCors(req: IncomingMessage, res: ServerResponse, allowedOrigins: readonly string[]): boolean {
  const { origin } = req.headers;
  // On every answer, a page's or not: a cache (the browser's own, for an image an <img> read first) must not give an
  // answer without these headers to a page of an allowed origin, or one with them to another.
  if (allowedOrigins.length > 0) keepInVary(res, "origin");
  if (origin === undefined || !allowedOrigins.includes(origin)) return false;
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("access-control-allow-credentials", "true");
  res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  if (req.method !== "OPTIONS" || req.headers["access-control-request-method"] === undefined) return false;
  res.setHeader("access-control-allow-methods", "GET, HEAD, POST");
  res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
  res.setHeader("access-control-max-age", "600");
  res.writeHead(204).end();
  return true;
}
