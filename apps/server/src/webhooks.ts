import { hostname, networkInterfaces } from "node:os";
import { WebhookDispatcher } from "@anvil/api";
import type { DeliveryOutcome, JobServiceObserver, LogHook } from "@anvil/api";
import { isFinalStatus } from "@anvil/job-machine";
import type { OutboxStats, WebhookStore } from "@anvil/persistence";
import { Counter, Gauge } from "prom-client";
import type { Registry } from "prom-client";

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
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<OutboxStats>(
      (resolve) => (timer = setTimeout(() => resolve(last), STATS_DEADLINE_MS)),
    );
    const read = store.stats().then(
      (current) => (last = current),
      () => last,
    );
    return Promise.race([read, deadline]).finally(() => clearTimeout(timer));
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
 * A host as this machine's own names and addresses are listed: lower case, without an IPv6 address's brackets or
 * a name's final dot (`localhost.` is `localhost`), an IPv4-mapped IPv6 address as the IPv4 address it maps
 * (`[::ffff:7f00:1]` is `127.0.0.1`).
 */
const bare = (host: string): string => {
  const name = host
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(name);
  if (!mapped) return name.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  const [high = 0, low = 0] = mapped.slice(1).map((group) => parseInt(group, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
};

/**
 * Whether `url` reaches the server listening on `port`: its port, and a host name or address of this machine (or
 * the name the cluster knows it by). Another port on this machine is another service and is allowed.
 */
export function pointsAtSelf(url: URL, port: number, names: readonly string[]): boolean {
  const urlPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (urlPort !== port) return false;
  // The machine's own name too: it resolves to one of its addresses (a name it reaches only through DNS is not
  // looked up, here or anywhere a callbackUrl is checked).
  const own = new Set(["localhost", "127.0.0.1", "::1", "0.0.0.0", "::", hostname(), ...names].map(bare));
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) own.add(bare(address.address));
  }
  const host = bare(url.hostname);
  return own.has(host) || host.endsWith(".localhost") || /^127\./.test(host);
}
