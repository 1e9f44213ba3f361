import type { Job, JobStatus } from "@anvil/job-machine";
import type { AnvilClient } from "../../testing/clients";
import { waitFor } from "../../testing/wait";

/** One event as a client received it. */
export interface Received {
  id: string;
  job: Job;
}

/** A `jobs.events` subscription that keeps what it receives; works against any server, spawned or in-process. */
export interface Subscription {
  readonly events: Received[];
  readonly error: () => unknown;
  /** Waits until `check` holds for what was received. */
  until(check: (events: Received[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Subscribes to `jobs.events` with `input` (e.g. `{ lastEventId }`). */
export function subscribe(
  trpc: AnvilClient,
  input: { lastEventId?: string; jobId?: string; conversationId?: string } = {},
): Subscription {
  const events: Received[] = [];
  let failure: unknown = null;
  const subscription = trpc.jobs.events.subscribe(input, {
    // Line events (subscriptions without jobId) carry no job: what these tests read is the job snapshots.
    onData: ({ id, data }) => {
      if (!("kind" in data)) events.push({ id, job: data });
    },
    onError: (error) => {
      failure = error;
    },
  });
  return {
    events,
    error: () => failure,
    until: (check, what, timeoutMs = 20_000) =>
      waitFor(
        () => {
          if (failure) throw new Error(`the subscription failed while waiting until ${what}: ${String(failure)}`);
          return check(events);
        },
        () => `${what}; received ${events.map((e) => `${e.id}:${e.job.id.slice(0, 8)}:${e.job.status}`).join(", ")}`,
        timeoutMs,
      ),
    stop: () => subscription.unsubscribe(),
  };
}

/** Status events only (their ids are event-log ids; other snapshots carry "<id>.<n>"). */
export const statusEvents = (events: readonly Received[]): { id: number; jobId: string; status: JobStatus }[] =>
  events.filter((e) => /^\d+$/.test(e.id)).map((e) => ({ id: Number(e.id), jobId: e.job.id, status: e.job.status }));

/** True once every job in `jobIds` has been received in a final status. */
export const allFinal = (events: readonly Received[], jobIds: readonly string[]): boolean =>
  jobIds.every((id) =>
    events.some((e) => e.job.id === id && ["complete", "error", "cancelled"].includes(e.job.status)),
  );
