import type { AnvilTRPCClient } from "./create-client";
import { isFinal } from "./types";
import type { Job, SubmitInput } from "./types";
import { watchJob } from "./watch";

/** Options of `submitAndWait`. */
export interface SubmitAndWaitOptions {
  /** Every snapshot while the job waits and runs: its `queuePosition`, then its `progress`. */
  onUpdate?: (job: Job) => void;
  /** Stops waiting (the promise rejects with the signal's reason); the job itself goes on. */
  signal?: AbortSignal | undefined;
}

/** Submits a job and resolves with its final snapshot (`complete`, `error` or `cancelled`). */
export async function submitAndWait(
  trpc: AnvilTRPCClient,
  input: SubmitInput,
  options: SubmitAndWaitOptions = {},
): Promise<Job> {
  const { signal, onUpdate } = options;
  signal?.throwIfAborted();
  const submitted = await trpc.jobs.submit.mutate(input, signal ? { signal } : {});
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
