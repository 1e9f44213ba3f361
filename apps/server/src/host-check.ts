import { isIP } from "node:net";
import { bare, isThisMachine, ownHosts } from "./this-machine";

/**
 * The host name a request was sent to (its `Host` header) when Anvil must not answer it as the admin `local`, or
 * null. Where nobody signs in, any page a browser shows can point a name of its own at this machine (DNS
 * rebinding) and then call Anvil as its own origin, as `local`. So a request there must name Anvil by an IP
 * address, a name of this machine (`localhost`, its host name, `HOST`, `CLUSTER_URL`'s), or an ALLOWED_ORIGINS
 * origin's host: names no other site can own. A request without `Host` (HTTP/1.0) comes from no browser.
 */
export function unknownHostName(
  hostHeader: string | undefined,
  ownNames: readonly string[],
  allowedOrigins: readonly string[],
): string | null {
  if (hostHeader === undefined) return null;
  let host: string;
  try {
    host = bare(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return hostHeader;
  }
  if (isIP(host) !== 0 || isThisMachine(host, ownHosts(ownNames))) return null;
  const allowed = allowedOrigins.some((origin) => {
    try {
      return bare(new URL(origin).hostname) === host;
    } catch {
      return false;
    }
  });
  return allowed ? null : host;
}
