import type { AnvilTRPCClient } from "./create-client";
import { backoffMs, isTransient } from "./transient";
import type { Job, SubmitInput } from "./types";

/** How `submitAndWait` (and the command line) retry a submit that got no answer. */
export interface SubmitRetryOptions {
  /**
   * For how long a submit that got no answer, or a 503, is sent again (the server restarting, a cluster between two
   * leaders): always with the same `idempotencyKey` (one is made when the input has none), so never a second job.
   * Default 30 s; 0 sends it once.
   */
  retryForMs?: number;
  /** Delay before the next try, by attempt (1, 2 …); up to 5 s by default. */
  retryDelayMs?: (attempt: number) => number;
  /** Told before each new try, with why the last one failed. */
  onRetry?: (error: unknown, attempt: number) => void;
  /** Stops trying: the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** How long a submit is retried by default (see {@link SubmitRetryOptions.retryForMs}). */
export const SUBMIT_RETRY_MS = 30_000;

/** Waits `ms`, or rejects with the signal's reason once it aborts. */
export const pause = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
    };
    const aborted = () => {
      done();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener("abort", aborted, { once: true });
  });

/**
 * Sends one keyed request until it is answered: again while it gets no answer or a 503 (see
 * {@link SubmitRetryOptions}); any other refusal (a bad input, a full queue) fails at once. A try that reached the
 * server before its answer was lost stored the job under the key, so the next try returns that job.
 */
async function sendUntilAnswered(
  send: (options: { signal?: AbortSignal }) => Promise<Job>,
  options: SubmitRetryOptions,
): Promise<Job> {
  const { signal } = options;
  const retryForMs = options.retryForMs ?? SUBMIT_RETRY_MS;
  const delay = options.retryDelayMs ?? backoffMs;
  const until = Date.now() + retryForMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await send(signal ? { signal } : {});
    } catch (error) {
      const wait = delay(attempt);
      if (signal?.aborted || !isTransient(error) || Date.now() + wait > until) throw error;
      options.onRetry?.(error, attempt);
      await pause(wait, signal);
    }
  }
}

const newKey = (): string => globalThis.crypto.randomUUID();

/** Submits a job, with its `idempotencyKey` (one is made when the input has none) on every try. */
export function submitSafely(
  trpc: AnvilTRPCClient,
  input: SubmitInput,
  options: SubmitRetryOptions = {},
): Promise<Job> {
  const keyed = { ...input, idempotencyKey: input.idempotencyKey ?? newKey() };
  return sendUntilAnswered((call) => trpc.jobs.submit.mutate(keyed, call), options);
}

/** `jobs.retry` of a failed or cancelled job, with one key on every try: one new job, however many tries it takes. */
export function retrySafely(trpc: AnvilTRPCClient, jobId: string, options: SubmitRetryOptions = {}): Promise<Job> {
  const keyed = { jobId, idempotencyKey: newKey() };
  return sendUntilAnswered((call) => trpc.jobs.retry.mutate(keyed, call), options);
}
