import { normalizeBackendUrl } from "@anvil/forge-client";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { InvalidEnvironment } from "./env";

/** Every address a host name resolves to, as a connection to it would look it up (dns.lookup, the system's resolver). */
export type ResolveHost = (host: string) => Promise<string[]>;

const resolveHost: ResolveHost = async (host) => (await lookup(host, { all: true })).map(({ address }) => address);

/** How long the names of FORGE_URL may take to resolve at start; one that takes longer is left to the probes. */
const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * One spelling of an address: IPv6 as the URL parser writes it (fd00:0::7 is fd00::7), and an IPv4-mapped IPv6
 * address (::ffff:127.0.0.1, which the parser writes ::ffff:7f00:1) as its IPv4 address.
 */
const plainAddress = (address: string): string => {
  if (isIP(address) !== 6) return address;
  const canonical = new URL(`http://[${address}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const [, high = 0, low = 0] = mapped.map((group) => parseInt(group, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
};

interface Endpoint {
  /** The entry as it may be shown: without credentials. */
  shown: string;
  host: string;
  /** Address, port and path, one string each: two entries that share one reach one server. */
  keys: Set<string>;
}

const endpointOf = async (url: string, resolve: ResolveHost): Promise<Endpoint | null> => {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  const path = parsed.pathname.replace(/\/+$/, "");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((done) => {
    timer = setTimeout(() => done(null), RESOLVE_TIMEOUT_MS);
    timer.unref();
  });
  // A name that does not resolve (yet) stops nothing: the backend's probes say why it cannot be reached.
  const addresses = await Promise.race([
    (isIP(host) ? Promise.resolve([host]) : resolve(host)).catch(() => null),
    timeout,
  ]);
  clearTimeout(timer);
  if (!addresses) return null;
  return {
    shown: normalizeBackendUrl(url),
    host,
    keys: new Set(addresses.map((address) => `${plainAddress(address)} port ${port}${path ? ` path ${path}` : ""}`)),
  };
};

/**
 * Refuses a FORGE_URL that lists one server twice under two names (http://localhost:7860 and http://127.0.0.1:7860):
 * Anvil would count it as two GPUs and send it two generations at once. Two entries are one server when a name of
 * one resolves to an address of the other, on the same port and path. When both are host names (neither an IP
 * address nor localhost) they may be two virtual hosts of one reverse proxy, which routes by name: that is only
 * a warning, returned for the log. Throws {@link InvalidEnvironment} naming both entries.
 */
export async function checkBackendAddresses(
  urls: readonly string[] | undefined,
  resolve: ResolveHost = resolveHost,
): Promise<string[]> {
  if (!urls || urls.length < 2) return [];
  const endpoints = (await Promise.all(urls.map((url) => endpointOf(url, resolve)))).filter((e) => e !== null);
  const warnings: string[] = [];
  for (const [i, first] of endpoints.entries()) {
    for (const second of endpoints.slice(i + 1)) {
      const shared = [...first.keys].find((key) => second.keys.has(key));
      if (shared === undefined) continue;
      const named = [first.host, second.host].every((host) => isIP(host) === 0 && host.toLowerCase() !== "localhost");
      if (!named) {
        throw new InvalidEnvironment(
          `FORGE_URL lists ${first.shown} and ${second.shown}, which are one server (${shared}): it would count as ` +
            "two GPUs and get two generations at once; list it once",
        );
      }
      warnings.push(
        `FORGE_URL lists ${first.shown} and ${second.shown}, which reach the same address (${shared}): if they are ` +
          "one Forge, list it once (it would get two generations at once); two virtual hosts of one reverse proxy are fine",
      );
    }
  }
  return warnings;
}
