import { settleWithin, WebhookDispatcher } from "@anvil/api";
import type { DeliveryOutcome, JobServiceObserver, LogHook } from "@anvil/api";
import { normalizeBackendUrl } from "@anvil/forge-client";
import { isFinalStatus } from "@anvil/job-machine";
import type { OutboxStats, WebhookStore } from "@anvil/persistence";
import { Counter, Gauge } from "prom-client";
import type { Registry } from "prom-client";
import { bare, isThisMachine, ownHosts, portOf } from "./this-machine";
import { isMetadataAddress, METADATA_ADDRESS } from "./webhook-fetch";
import type { ForbiddenReceiver } from "./webhook-fetch";

/** How long a scrape waits for the outbox figures before it reports the last ones it got. */
const STATS_DEADLINE_MS = 1_000;

/** The webhook settings of one server. */
export interface WebhookSettings {
  secret?: string | undefined;
  /** The first retry's delay (tests shorten it). */
  retryMs?: number | undefined;
  /** How long a receiver has to answer (tests shorten it). */
  timeoutMs?: number | undefined;
  pollMs?: number | undefined;
  /** How deliveries are sent (see webhook-fetch.ts: never to a Forge backend or Anvil itself). */
  fetch?: typeof fetch | undefined;
}

/**
 * Webhooks on one server: the dispatcher (every server of a cluster delivers, each delivery once), woken by the
 * job service when a job with a callback ends, and its Prometheus metrics. No URL or prompt is ever a label.
 */
export function startWebhooks(
  store: WebhookStore,
  registry: Registry,
  settings: WebhookSettings,
  log: LogHook,
): { dispatcher: WebhookDispatcher; observer: JobServiceObserver } {
  const registers = [registry];
  const attempts = new Counter({
    name: "anvil_webhook_attempts_total",
    help: "Webhook delivery attempts made by this server, by outcome: delivered, retrying (failed, tried again later), given-up",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of ["delivered", "retrying", "given-up"] satisfies DeliveryOutcome[]) attempts.inc({ outcome }, 0);
  let last: OutboxStats = { pending: 0, oldestPendingSeconds: 0 };
  const stats = async (): Promise<OutboxStats> => {
    const read = store.stats().then(
      (current) => (last = current),
      () => last,
    );
    return settleWithin(read, STATS_DEADLINE_MS, last);
  };
  new Gauge({
    name: "anvil_webhook_pending",
    help: "Webhook deliveries not yet delivered nor given up, in the whole cluster",
    registers,
    async collect() {
      this.set((await stats()).pending);
    },
  });
  new Gauge({
    name: "anvil_webhook_oldest_pending_seconds",
    help: "Age of the oldest pending webhook delivery (0 when none)",
    registers,
    async collect() {
      this.set((await stats()).oldestPendingSeconds);
    },
  });
  const dispatcher = new WebhookDispatcher({
    store,
    secret: settings.secret,
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.retryMs !== undefined ? { retry: { baseMs: settings.retryMs } } : {}),
    ...(settings.pollMs !== undefined ? { pollMs: settings.pollMs } : {}),
    ...(settings.fetch !== undefined ? { fetch: settings.fetch } : {}),
    log,
    onOutcome: (outcome) => attempts.inc({ outcome }),
  });
  const observer: JobServiceObserver = {
    transition: (change, job) => {
      if (isFinalStatus(change.to) && job.callbackUrl !== null) dispatcher.wake();
    },
  };
  return { dispatcher, observer };
}

/**
 * Whether `url` reaches the server listening on `port`: its port, and a host name or address of this machine or a
 * name the server is known by (`own`: `ownHosts` of `HOST` and the cluster's name). Another port on this machine is
 * another service and is allowed.
 */
function pointsAtSelf(url: URL, port: number, own: Set<string>): boolean {
  // The machine's own name too: it resolves to one of its addresses (a name reached only through DNS is not looked
  // up here; webhook-fetch.ts checks the addresses a delivery connects to).
  return portOf(url) === port && isThisMachine(bare(url.hostname), own);
}

/**
 * Whether `url` reaches the server at `server`: the same port, and the same host or both on this machine (`own`:
 * `ownHosts()`; `localhost:7860` and `127.0.0.1:7860` are one Forge, `localhost:3001` the `http://127.0.0.1:3001` a
 * server of the cluster is listed as).
 */
function reachesServer(url: URL, server: URL, own: Set<string>): boolean {
  if (portOf(server) !== portOf(url)) return false;
  const [host, serverHost] = [bare(url.hostname), bare(server.hostname)];
  return serverHost === host || (isThisMachine(serverHost, own) && isThisMachine(host, own));
}

/** The Forge backend among `backendUrls` that `url` reaches, or undefined (see {@link reachesServer}). */
function backendAt(url: URL, backendUrls: readonly string[], own: Set<string>): string | undefined {
  return backendUrls.find((backendUrl) => reachesServer(url, new URL(backendUrl), own));
}

const AT_ANVIL = "callbackUrl must not point at this Anvil server itself";

/**
 * Where a webhook is never sent: a Forge backend of this Anvil (anyone who submits could drive or interrupt the GPUs
 * outside the line), this server (listening on `port()`, known by `ownNames` besides the machine's own names) or a
 * cloud's metadata service. `callbackRefusal` refuses such a `callbackUrl` at submit, by its URL (and one at another
 * live server of the cluster); `forbiddenReceivers` is what `guardedFetch` checks the addresses a delivery would
 * connect to against.
 */
export function webhookReceivers(options: {
  forgeUrls: readonly string[];
  ownNames: readonly string[];
  port: () => number;
  /** Where the cluster's other servers reach this one, whose port may not be PORT (a port mapped in front of it). */
  clusterUrl?: string | undefined;
  /** The URLs of the cluster's live servers (cluster_servers); absent on the embedded database. */
  clusterServers?: (() => Promise<readonly string[]>) | undefined;
}): {
  forbiddenReceivers: () => ForbiddenReceiver[];
  callbackRefusal: (url: URL) => string | null | Promise<string | null>;
} {
  const { forgeUrls, ownNames, port, clusterUrl, clusterServers } = options;
  const cluster = clusterUrl === undefined ? null : new URL(clusterUrl);
  const isClusterUrl = (url: URL): boolean =>
    cluster !== null && bare(url.hostname) === bare(cluster.hostname) && portOf(url) === portOf(cluster);
  // This machine's names and addresses, gathered once rather than at each submission with a callbackUrl: with the
  // names this server is known by, for itself; without them (the cluster's name may be a load balancer's), for Forge.
  const [knownAs, thisMachine] = [ownHosts(ownNames), ownHosts()];
  return {
    forbiddenReceivers: () => [
      ...forgeUrls.map((url) => ({ url, what: `the Forge backend ${normalizeBackendUrl(url)}` })),
      { url: `http://localhost:${port()}`, what: "this Anvil server" },
    ],
    callbackRefusal: (url) => {
      if (pointsAtSelf(url, port(), knownAs) || isClusterUrl(url)) return AT_ANVIL;
      if (isMetadataAddress(bare(url.hostname))) return `callbackUrl must not point at ${METADATA_ADDRESS}`;
      const backend = backendAt(url, forgeUrls, thisMachine);
      if (backend !== undefined) {
        return `callbackUrl must not point at a Forge backend of this Anvil (${normalizeBackendUrl(backend)})`;
      }
      if (!clusterServers) return null;
      // Another server of the cluster: accepted, its delivery would be refused there every time (see request-router).
      // A database that does not answer the look refuses nothing: the submission goes its own way (stored, or a 503),
      // and a delivery there is still refused by the guard.
      return clusterServers().then(
        // A server of the cluster on this machine is one server by any of the machine's names, as a backend is.
        (urls) => (urls.some((server) => reachesServer(url, new URL(server), thisMachine)) ? AT_ANVIL : null),
        () => null,
      );
    },
  };
}
