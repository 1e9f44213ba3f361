import { isIPv4 } from "node:net";
import { hostname, networkInterfaces } from "node:os";

/**
 * A host as this machine's own names and addresses are listed: lower case, without an IPv6 address's brackets or
 * a name's final dot (`localhost.` is `localhost`), an IPv4-mapped IPv6 address as the IPv4 address it maps
 * (`[::ffff:7f00:1]` is `127.0.0.1`).
 */
export const bare = (host: string): string => {
  const name = host
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(name);
  if (!mapped) return name.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  const [high = 0, low = 0] = mapped.slice(1).map((group) => parseInt(group, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
};

/** The names and addresses of this machine, as {@link bare} writes them. */
export const ownHosts = (names: readonly string[] = []): Set<string> => {
  const own = new Set(["localhost", "127.0.0.1", "::1", "0.0.0.0", "::", hostname(), ...names].map(bare));
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) own.add(bare(address.address));
  }
  return own;
};

/**
 * Whether `host` (as {@link bare} writes it) is this machine: one of `own`, or a loopback name or address. Only an
 * address in 127.0.0.0/8 is loopback: a name such as `127.0.0.1.evil.example` is anyone's.
 */
export const isThisMachine = (host: string, own: Set<string>): boolean =>
  own.has(host) || host.endsWith(".localhost") || (isIPv4(host) && host.startsWith("127."));

/** The port of a URL (or of a connection's options), the scheme's default when it names none. */
export const portOf = ({ port, protocol }: { port: string | number; protocol: string }): number =>
  Number(port) || (protocol === "https:" ? 443 : 80);
