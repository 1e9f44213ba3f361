import type { LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { RECEIVER_REFUSED } from "@anvil/api";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import { bare, isThisMachine, ownHosts, portOf } from "./this-machine";

/** A receiver no webhook may reach: its URL, and what the refusal calls it. */
export interface ForbiddenReceiver {
  url: string;
  what: string;
}

/**
 * Whether `address` (as `bare` writes it) is where a cloud's metadata service answers, with the machine's own
 * credentials: a link-local address (169.254.0.0/16, fe80::/10; 169.254.169.254 on most clouds) or AWS's IPv6
 * `fd00:ec2::254`. No webhook receiver lives there, so no callbackUrl may lead there.
 */
export const isMetadataAddress = (address: string): boolean =>
  /^169\.254\.\d+\.\d+$/.test(address) || /^fe[89ab][0-9a-f]:/.test(address) || address === "fd00:ec2::254";

/** What a refusal calls a metadata address (see {@link isMetadataAddress}). */
export const METADATA_ADDRESS = "a link-local address, where a cloud's metadata service answers";

const addressesOf = async (host: string): Promise<LookupAddress[]> => {
  const family = isIP(host);
  return family === 0 ? await lookup(host, { all: true }) : [{ address: host, family }];
};

/**
 * The first of `forbidden` that `addresses` (the receiver's, at `port`) reach, or undefined: an address in common,
 * or both on this machine (a Forge listening on every interface is reached through any of the machine's addresses).
 */
async function forbiddenAt(
  addresses: readonly LookupAddress[],
  port: number,
  forbidden: readonly ForbiddenReceiver[],
): Promise<ForbiddenReceiver | undefined> {
  const targets = addresses.map((entry) => bare(entry.address));
  const metadata = targets.find(isMetadataAddress);
  if (metadata !== undefined) return { url: `http://${metadata}`, what: METADATA_ADDRESS };
  const own = ownHosts();
  const local = targets.some((target) => isThisMachine(target, own));
  for (const receiver of forbidden) {
    const url = new URL(receiver.url);
    if (portOf(url) !== port) continue;
    // A forbidden receiver whose name does not resolve now cannot be reached through it either.
    const theirs = await addressesOf(bare(url.hostname)).catch(() => []);
    for (const entry of theirs) {
      const address = bare(entry.address);
      if (targets.includes(address) || (local && isThisMachine(address, own))) return receiver;
    }
  }
  return undefined;
}

/**
 * `fetch` for webhook deliveries that never connects to a forbidden receiver (a Forge backend, Anvil itself) or to a
 * cloud's metadata service ({@link isMetadataAddress}): the check is made on the addresses the connection is made to,
 * after the name is resolved, so a name that points at a backend (or is made to, between the check and the
 * connection) is refused too. The refusal's `code` is
 * `RECEIVER_REFUSED`, which the dispatcher gives up on at once.
 */
export function guardedFetch(forbidden: () => readonly ForbiddenReceiver[]): typeof fetch {
  const dispatcher = new Agent({
    connect: (options, callback) => {
      const port = portOf(options);
      const host = bare(options.hostname);
      void (async () => {
        const addresses = await addressesOf(host);
        const receiver = await forbiddenAt(addresses, port, forbidden());
        if (receiver) {
          throw Object.assign(new Error(`the callbackUrl reaches ${receiver.what}; webhooks are never sent there`), {
            code: RECEIVER_REFUSED,
          });
        }
        // Connects to the addresses just checked, not to a second lookup's.
        const connect = buildConnector({
          lookup: (_name: string, lookupOptions: { all?: boolean }, done: (...args: unknown[]) => void) => {
            const [first] = addresses;
            if (lookupOptions.all) done(null, addresses);
            else done(null, first?.address, first?.family);
          },
        } as buildConnector.BuildOptions);
        connect(options, callback);
      })().catch((error: Error) => callback(error, null));
    },
  });
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}
