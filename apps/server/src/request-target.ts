import type { IncomingMessage } from "node:http";

/**
 * The path a request asks for, or null when its request-target is not a URL at all (`GET //[ HTTP/1.1`): Node
 * passes any target on, and `new URL` throws on such a one.
 */
export const pathOf = (req: IncomingMessage): string | null => urlOf(req)?.pathname ?? null;

/** The request's URL (its host a placeholder), or null when its request-target is not a URL. */
export const urlOf = (req: IncomingMessage): URL | null => {
  try {
    return new URL(req.url ?? "/", "http://anvil");
  } catch {
    return null;
  }
};
