import type { Job, JournalEntry } from "@anvil/job-machine";
import type { JobRecord, JobStore, JournalChange, TransitionPatch } from "@anvil/persistence";
import { toJob } from "@anvil/persistence";

/**
 * What a persisted journal entry turned into: the record as it is now and, for status changes, the event id and
 * the snapshot that was logged with it (what subscribers get). Null when nothing was written for it.
 */
export type Persisted = { record: JobRecord; eventId: number | null; snapshot?: Job } | null;

type Transition = Extract<JournalEntry, { kind: "transition" }>;

/**
 * What a job that waits again after its backend went away (or its server stopped) changes: no progress, no start,
 * and no move, since it waits ahead of every turn now.
 */
export const WAITS_AGAIN = {
  progress: 0,
  startedAt: null,
  lineMove: null,
  lineFront: null,
} as const satisfies TransitionPatch;

/** The columns a transition changes, besides its status. */
const patchFor = (entry: Transition, backendUrl: (backend: number) => string | null): TransitionPatch => {
  const { job } = entry;
  const finishedAt = job.finishedAt === null ? undefined : new Date(job.finishedAt);
  // A run's start again as it ends: one whose start was written late counts from when its request went out (see
  // HELD_START_MS), which the `processing` row could not know yet.
  const started = entry.from === "processing" && job.startedAt !== null ? { startedAt: new Date(job.startedAt) } : {};
  switch (entry.to) {
    case "processing":
      return {
        progress: 0,
        attempts: job.attempt,
        startedAt: new Date(job.startedAt ?? Date.now()),
        backend: job.backend === null ? null : backendUrl(job.backend),
        // The owner's turn goes to the database with the start, before the generation is sent.
        ...(job.turn == null ? {} : { turn: job.turn }),
      };
    case "complete":
      return {
        ...started,
        progress: 100,
        imageUrl: job.result?.imageUrl ?? null,
        usedSeed: job.result?.usedSeed ?? null,
        finishedAt,
      };
    case "error":
      return { ...started, error: job.error ?? "The generation failed", finishedAt };
    case "queued":
      // Its backend went away: it waits again, at the front, for its next attempt (the count of starts stays).
      return WAITS_AGAIN;
    case "cancelled":
      return { ...started, finishedAt, cancelledBy: job.cancelledBy };
    default: {
      // Every status is handled above: a new one must say here what it changes.
      const unknown: never = entry.to;
      throw new Error(`no columns are known for a transition to ${String(unknown)}`);
    }
  }
};

/**
 * Turns the journal's entries into SQL: a transition is a guarded row update with its event, progress a plain
 * update. It writes and reports; publishing what was written is the caller's.
 */
export class TransitionWriter {
  constructor(
    private readonly store: JobStore,
    /** The URL of a backend the scheduler numbers `backend`, as the `backend` column keeps it. */
    private readonly backendUrl: (backend: number) => string | null,
  ) {}

  /**
   * A batch is one statement: one round trip and one commit for many transitions (the next job's start waits for
   * its `processing` commit), and all of it or none, so a retry after a failed commit never finds half a batch
   * applied (see `JobStore.applyJournalBatch`).
   */
  async write(entries: readonly JournalEntry[]): Promise<Persisted[]> {
    const changes = entries.map((entry): JournalChange =>
      entry.kind !== "transition"
        ? entry
        : {
            kind: "transition",
            jobId: entry.jobId,
            from: entry.from,
            to: entry.to,
            patch: patchFor(entry, this.backendUrl),
            ...(entry.places ? { places: entry.places } : {}),
          },
    );
    const applied = await this.store.applyJournalBatch(changes);
    const results: Persisted[] = [];
    for (const [i, result] of applied.entries()) {
      // The places jobs bring are the line's own record: nobody is told of them.
      if (result.kind === "places") results.push(null);
      else if (result.kind === "progress") results.push(result.job ? { record: result.job, eventId: null } : null);
      else if (result.applied) {
        const { job, eventId, snapshot } = result.applied;
        results.push({ record: job, eventId, snapshot });
      } else results.push(await this.alreadyWritten(entries[i] as Transition));
    }
    return results;
  }

  /**
   * A transition whose `from` nothing matched: either this write already committed before its acknowledgement
   * was lost (a retry), or the row moved elsewhere. Only the former is published, with the event it made: found
   * in the log, since the job may have moved on since (a batch that held its next transition too committed that).
   */
  private async alreadyWritten(entry: Transition): Promise<Persisted> {
    const current = await this.store.getJob(entry.jobId);
    if (!current) return null;
    const made = (await this.store.eventsAfter(0, { jobId: entry.jobId }, 64)).findLast(
      (event) => event.status === entry.to && event.job.attempt === toJob(current, 0).attempt,
    );
    return made ? { record: current, eventId: made.id, snapshot: made.job } : null;
  }
}
