import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The cookie the web app's login sets. */
export const SESSION_COOKIE = "anvil_token";

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

const cookieValue = (header: string | undefined, name: string): string | undefined => {
  for (const part of header?.split(";") ?? []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
};

/** True when no token is configured, or the request carries it as a Bearer header or the session cookie. */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer !== undefined && sameSecret(bearer.trim(), token)) return true;
  const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
  return cookie !== undefined && sameSecret(cookie, token);
}

/** Checks a login attempt's token. */
export const tokenMatches = (given: unknown, token: string): boolean =>
  typeof given === "string" && sameSecret(given, token);
