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

/**
 * Why a request's `Host` header cannot be read as a host, or null (HTTP asks a 400 for it, whatever the path). tRPC
 * builds each call's URL from it: one carrying a user name (`Host: x@127.0.0.1`, which names a host of this
 * machine, so the host check lets it by) made `new Request` throw, a 500, and one that is no host at all
 * (`localhost:abc`) got tRPC's bare "Invalid URL", or the host check's advice to allow an origin that cannot be.
 */
export const unreadableHost = (req: IncomingMessage): string | null => {
  const { host } = req.headers;
  if (host === undefined) return null;
  try {
    // Without an `@` the URL has no user name; only a host and a port leave the path "/" with no query or fragment.
    const { pathname, search, hash } = new URL(`http://${host}`);
    if (!host.includes("@") && pathname === "/" && search === "" && hash === "") return null;
  } catch {
    // Not a host at all: refused below.
  }
  return `The request's Host header ${JSON.stringify(host)} is not a host name or address with an optional port`;
};
