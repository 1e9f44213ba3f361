import type { AnvilTRPCClient } from "./create-client";
import { pause, submitSafely } from "./submit-safely";
import type { SubmitRetryOptions } from "./submit-safely";
import { isFinal } from "./types";
import { backoffMs, isTransient } from "./transient";
import type { Job, SubmitInput } from "./types";
import { watchJob } from "./watch";
import type { WatchOptions } from "./watch";

/** Options of `submitAndWait`: how the submit is retried, and the wait's. */
export interface SubmitAndWaitOptions extends SubmitRetryOptions, WaitOptions {}

/** Options of `wait`. */
export interface WaitOptions {
  /** Every snapshot until the job ends: its `queuePosition`, then its `progress`. */
  onUpdate?: (job: Job) => void;
  /** Stops waiting (the promise rejects with the signal's reason); the job itself goes on. */
  signal?: AbortSignal | undefined;
  /** Told when the job's stream dropped and is reopened (see `watch`): the wait goes on by itself. */
  onReconnect?: WatchOptions["onReconnect"];
}

/**
 * Submits a job and resolves with its final snapshot (`complete`, `error` or `cancelled`). A submit that gets no answer
 * (or a 503) is sent again with the same idempotency key for up to `retryForMs`; the wait resumes by itself across
 * drops and restarts (see `watch`).
 */
export async function submitAndWait(
  trpc: AnvilTRPCClient,
  input: SubmitInput,
  options: SubmitAndWaitOptions = {},
): Promise<Job> {
  options.signal?.throwIfAborted();
  return untilFinal(trpc, await submitSafely(trpc, input, options), options);
}

/**
 * Resolves with the final snapshot of a job submitted earlier (at once for one that has ended already). Like the
 * stream it then follows, its first read is asked again while it gets no answer or a 503 (each try told to
 * `onReconnect`), until the signal stops it: a wait begun while the server restarts goes on by itself.
 */
export async function waitForJob(trpc: AnvilTRPCClient, jobId: string, options: WaitOptions = {}): Promise<Job> {
  const { signal } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await untilFinal(trpc, await trpc.jobs.get.query({ jobId }, { signal }), options);
    } catch (error) {
      if (signal?.aborted || !isTransient(error)) throw error;
      options.onReconnect?.(error, attempt);
      await pause(backoffMs(attempt), signal);
    }
  }
}

/** Follows the job from its snapshot `first` to its final one. */
async function untilFinal(
  trpc: AnvilTRPCClient,
  first: Job,
  { onUpdate, signal, onReconnect }: WaitOptions,
): Promise<Job> {
  onUpdate?.(first);
  if (isFinal(first)) return first;
  // The stream begins with the job's current state: `first` again, unless it moved meanwhile (the watch itself
  // yields no snapshot twice after that).
  let firstSeen: string | undefined = JSON.stringify(first);
  for await (const job of watchJob(trpc, first.id, { signal, ...(onReconnect ? { onReconnect } : {}) })) {
    if (JSON.stringify(job) !== firstSeen) onUpdate?.(job);
    firstSeen = undefined;
    if (isFinal(job)) return job;
  }
  // The watch ends early only when the signal aborted it.
  signal?.throwIfAborted();
  throw new Error(`Stopped watching job ${first.id} before it finished`);
}
