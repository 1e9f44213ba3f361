import { isIP } from "node:net";
import { bare, isThisMachine, ownHosts } from "./this-machine";

/**
 * Tells the host name a request was sent to (its `Host` header) when Anvil must not answer it as the admin `local`,
 * or null. Where nobody signs in, any page a browser shows can point a name of its own at this machine (DNS
 * rebinding) and then call Anvil as its own origin, as `local`. So a request there must name Anvil by an IP
 * address, a name of this machine (`localhost`, its host name, `HOST`, `CLUSTER_URL`'s), or an ALLOWED_ORIGINS
 * origin's host: names no other site can own. A request without `Host` (HTTP/1.0) comes from no browser. The names
 * are gathered once, not at each request.
 */
export function unknownHostNames(
  ownNames: readonly string[],
  allowedOrigins: readonly string[],
): (hostHeader: string | undefined) => string | null {
  const known = ownHosts(ownNames);
  for (const origin of allowedOrigins) {
    try {
      known.add(bare(new URL(origin).hostname));
    } catch {
      // Not an origin: ALLOWED_ORIGINS is checked at start, so nothing to add.
    }
  }
  return (hostHeader) => {
    if (hostHeader === undefined) return null;
    let host: string;
    try {
      host = bare(new URL(`http://${hostHeader}`).hostname);
    } catch {
      return hostHeader;
    }
    return isIP(host) !== 0 || isThisMachine(host, known) ? null : host;
  };
}
