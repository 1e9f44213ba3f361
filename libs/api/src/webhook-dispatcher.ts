import { createHmac } from "node:crypto";
import { databaseErrorText } from "@anvil/persistence";
import type { ClaimedDelivery, WebhookStore } from "@anvil/persistence";
import { linkedSignal } from "./linked-signal";
import { FailureSpell } from "./log-hook";
import type { LogHook } from "./log-hook";

/** How long a receiver has to answer one attempt with a 2xx (docs/API.md Webhooks: 10 s). */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Retry timing: the first retry after about `baseMs`, doubling up to `maxMs`, given up after `giveUpAfterMs`. */
export interface WebhookRetry {
  baseMs: number;
  maxMs: number;
  /** Past this age a failed delivery is not tried again; at least an hour (docs/API.md Webhooks). */
  giveUpAfterMs: number;
}

/** Production timing: retries after 2.5–5 s, 5–10 s, 10–20 s … then 7.5–15 min apart, for a day. */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = {
  baseMs: 5_000,
  maxMs: 15 * 60_000,
  giveUpAfterMs: 24 * 60 * 60_000,
};

/** How long a finished delivery stays in the outbox for inspection by default: seven days. */
export const DEFAULT_KEEP_FINISHED_MS = 7 * 24 * 60 * 60_000;

/** Time between two prunes of finished deliveries. */
const PRUNE_EVERY_MS = 60 * 60_000;

/** What became of one attempt. */
export type DeliveryOutcome = "delivered" | "retrying" | "given-up";

/** What the dispatcher is built from. */
export interface WebhookDispatcherOptions {
  store: WebhookStore;
  /** Key of the `X-Anvil-Signature` HMAC; unset: deliveries are not signed. */
  secret?: string | undefined;
  timeoutMs?: number;
  retry?: Partial<WebhookRetry>;
  /** At most this many deliveries in flight on this server: slow receivers never hold up more than these. */
  concurrency?: number;
  /** The backstop poll for due deliveries (retries, and those another server's transitions wrote). */
  pollMs?: number;
  /** Delivered and given-up deliveries are deleted this long after they ended (default 7 days). */
  keepFinishedMs?: number;
  fetch?: typeof fetch;
  log?: LogHook;
  /** Told of every attempt's outcome (metrics). */
  onOutcome?: (outcome: DeliveryOutcome, delivery: ClaimedDelivery) => void;
}

/** The header that names a delivery's event; an Anvil server refuses any request that carries it. */
export const WEBHOOK_EVENT_HEADER = "x-anvil-event-id";
/** Set on that refusal: the receiver is an Anvil server, which a webhook may never reach (no retry). */
export const WEBHOOK_REFUSED_HEADER = "x-anvil-webhook-refused";

/** The `X-Anvil-Signature` header value of `body` under `secret`. */
export const signWebhook = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** The delay before retry number `attempt` (1 = after the first failure): exponential, with equal jitter. */
export function retryDelay(attempt: number, retry: Pick<WebhookRetry, "baseMs" | "maxMs">): number {
  const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  // Half fixed, half random: receivers that came back are not hit by every server's retries at one instant.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * The `code` of a connection error that says the receiver is one no webhook may reach (a Forge backend, Anvil
 * itself): such a delivery is given up at once, not retried for a day.
 */
export const RECEIVER_REFUSED = "ANVIL_WEBHOOK_RECEIVER_REFUSED";

/** Whether a failed fetch was refused for its receiver (see {@link RECEIVER_REFUSED}). */
const refusedReceiver = (error: unknown): boolean =>
  error instanceof Error &&
  [error, error.cause].some((e) => typeof e === "object" && e !== null && "code" in e && e.code === RECEIVER_REFUSED);

const describe = (error: unknown): string => {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer within the timeout";
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
};

/**
 * Delivers the webhook outbox: claims due deliveries (whichever server of a cluster claims one makes its attempt),
 * POSTs each job's JSON to its callback, and records the outcome; a failed attempt is retried with exponential
 * backoff and jitter until it is older than the give-up age. At most `concurrency` attempts run at once, apart from
 * the job pipeline: a slow receiver holds one slot for at most the timeout, never the scheduler.
 */
export class WebhookDispatcher {
  private readonly timeoutMs: number;
  private readonly retry: WebhookRetry;
  private readonly concurrency: number;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aborts = new AbortController();
  private poller: NodeJS.Timeout | undefined;
  private pruner: NodeJS.Timeout | undefined;
  private pumping = false;
  private again = false;
  private stopped = false;
  /** The database away: said once, not at every poll. */
  private readonly claimFailures: FailureSpell;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.retry = { ...DEFAULT_WEBHOOK_RETRY, ...options.retry };
    this.concurrency = options.concurrency ?? 16;
    this.claimFailures = new FailureSpell(options.log, "webhook deliveries can be claimed again");
  }

  /** Starts polling for due deliveries, and delivers what is due now (e.g. left pending by a restart). */
  start(): void {
    this.poller = setInterval(() => this.wake(), this.options.pollMs ?? 1_000);
    this.poller.unref();
    this.pruner = setInterval(() => void this.pruneFinished(), PRUNE_EVERY_MS);
    this.pruner.unref();
    void this.pruneFinished();
    this.wake();
  }

  /** Deletes deliveries that ended longer ago than `keepFinishedMs`; the outbox holds what is pending and recent. */
  async pruneFinished(): Promise<number> {
    try {
      const pruned = await this.options.store.prune(this.options.keepFinishedMs ?? DEFAULT_KEEP_FINISHED_MS);
      if (pruned > 0) this.options.log?.("finished webhook deliveries pruned", { pruned });
      return pruned;
    } catch (error) {
      // The database is away: the next prune tries again.
      this.options.log?.("could not prune webhook deliveries", { error: databaseErrorText(error) }, "warn");
      return 0;
    }
  }

  /** Looks for due deliveries now (a job with a callback just ended). */
  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    void this.pump();
  }

  /** Stops claiming and cuts the attempts in flight short; their deliveries are due again once their claims lapse. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poller);
    clearInterval(this.pruner);
    this.aborts.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.stopped) {
        const free = this.concurrency - this.inFlight.size;
        if (free <= 0) break;
        // Held past the attempt's timeout: the outcome is recorded before another server may claim the row again.
        const claimed = await this.options.store.claim(free, this.timeoutMs + 5_000);
        this.claimFailures.succeeded();
        for (const delivery of claimed) this.track(delivery);
        if (claimed.length < free) break;
      }
    } catch (error) {
      // The database is away: the next poll tries again; nothing was claimed, or the claims lapse by themselves.
      this.claimFailures.failed("could not claim webhook deliveries", { error: databaseErrorText(error) });
    } finally {
      this.pumping = false;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.pump();
      }
    }
  }

  private track(delivery: ClaimedDelivery): void {
    const attempt = this.attempt(delivery).finally(() => {
      this.inFlight.delete(attempt);
      this.wake();
    });
    this.inFlight.add(attempt);
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { failure, final } = await this.send(delivery);
    if (this.aborts.signal.aborted) return;
    const { store, log, onOutcome } = this.options;
    try {
      if (failure === null) {
        if (await store.delivered(delivery)) onOutcome?.("delivered", delivery);
        return;
      }
      const status = await store.failed(
        delivery,
        failure,
        retryDelay(delivery.attempt, this.retry),
        final ? 0 : this.retry.giveUpAfterMs,
      );
      if (status === null) return;
      onOutcome?.(status === "failed" ? "given-up" : "retrying", delivery);
      log?.(
        status === "failed" ? "webhook delivery given up" : "webhook delivery failed; it will be retried",
        {
          jobId: delivery.jobId,
          eventId: delivery.id,
          attempt: delivery.attempt,
          error: failure,
        },
        // A receiver that is down for a day is tried again and again: its first failure is news, the rest are not.
        status === "failed" ? "warn" : delivery.attempt <= 1 ? "info" : "debug",
      );
    } catch (error) {
      // Its claim lapses and the attempt is made again: at least once, never lost.
      log?.("could not record a webhook attempt", { eventId: delivery.id, error: databaseErrorText(error) }, "warn");
    }
  }

  /**
   * One POST: `failure` null when the receiver answered 2xx in time, else what went wrong; `final` when trying again
   * cannot help (a receiver no webhook may reach).
   */
  private async send(delivery: ClaimedDelivery): Promise<{ failure: string | null; final: boolean }> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Anvil-Webhook/1",
      [WEBHOOK_EVENT_HEADER]: delivery.id,
    };
    if (this.options.secret) headers["x-anvil-signature"] = signWebhook(this.options.secret, delivery.body);
    // A timer of its own, not AbortSignal.timeout: joined with another signal, Node 20 may collect a timeout signal
    // before it fires (nodejs/node#57736), and the POST then waits as long as the receiver likes.
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException("The receiver did not answer in time", "TimeoutError")),
      this.timeoutMs,
    );
    const { signal, unlink } = linkedSignal(this.aborts.signal, timeout.signal);
    try {
      const response = await (this.options.fetch ?? fetch)(delivery.url, {
        method: "POST",
        headers,
        body: delivery.body,
        // A redirect is not followed: the receiver is the URL the job was given, nowhere else.
        redirect: "manual",
        signal,
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.headers.has(WEBHOOK_REFUSED_HEADER)) {
        return { failure: "the callbackUrl reaches an Anvil server; webhooks are never sent there", final: true };
      }
      return {
        failure: response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`,
        final: false,
      };
    } catch (error) {
      return { failure: describe(error), final: refusedReceiver(error) };
    } finally {
      clearTimeout(timer);
      unlink();
    }
  }
}
