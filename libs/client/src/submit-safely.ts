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
 * Submits a job, sending the submit again while it gets no answer or a 503 (see {@link SubmitRetryOptions}); any other
 * refusal (a bad input, a full queue) fails at once.
 */
export async function submitSafely(
  trpc: AnvilTRPCClient,
  input: SubmitInput,
  options: SubmitRetryOptions = {},
): Promise<Job> {
  const { signal } = options;
  const retryForMs = options.retryForMs ?? SUBMIT_RETRY_MS;
  const delay = options.retryDelayMs ?? backoffMs;
  // A try that reached the server before the answer was lost stored the job: the key makes the next try return it.
  const keyed = { ...input, idempotencyKey: input.idempotencyKey ?? globalThis.crypto.randomUUID() };
  const until = Date.now() + retryForMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await trpc.jobs.submit.mutate(keyed, signal ? { signal } : {});
    } catch (error) {
      const wait = delay(attempt);
      if (signal?.aborted || !isTransient(error) || Date.now() + wait > until) throw error;
      options.onRetry?.(error, attempt);
      await pause(wait, signal);
    }
  }
}
