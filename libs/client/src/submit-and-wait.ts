import type { AnvilTRPCClient } from "./create-client";
import { submitSafely } from "./submit-safely";
import type { SubmitRetryOptions } from "./submit-safely";
import { isFinal } from "./types";
import type { Job, SubmitInput } from "./types";
import { watchJob } from "./watch";

/** Options of `submitAndWait`. */
export interface SubmitAndWaitOptions extends SubmitRetryOptions {
  /** Every snapshot while the job waits and runs: its `queuePosition`, then its `progress`. */
  onUpdate?: (job: Job) => void;
  /** Stops waiting (the promise rejects with the signal's reason); the job itself goes on. */
  signal?: AbortSignal | undefined;
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
  const { signal, onUpdate } = options;
  signal?.throwIfAborted();
  const submitted = await submitSafely(trpc, input, options);
  onUpdate?.(submitted);
  if (isFinal(submitted)) return submitted;
  for await (const job of watchJob(trpc, submitted.id, { signal })) {
    onUpdate?.(job);
    if (isFinal(job)) return job;
  }
  // The watch ends early only when the signal aborted it.
  signal?.throwIfAborted();
  throw new Error(`Stopped watching job ${submitted.id} before it finished`);
}
