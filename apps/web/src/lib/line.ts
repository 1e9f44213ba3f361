import { batch, createMemo, createSignal } from "solid-js";
import { forgetDue } from "./due-memory";
import { errorMessage } from "./errors";
import { createJobStore } from "./job-store";
import { createSubscription } from "./subscription";
import type { Subscribe } from "./subscription";
import { coalesced } from "./tasks";
import type { Job, JobStreamEvent } from "./types";

/** What the line view asks of the server: the tRPC client in the app (`line-api.ts`), a stand-in in tests. */
export interface LineApi {
  /** One page of the waiting jobs the caller may see (an admin: everyone's), oldest first. */
  listQueued(cursor: string | undefined): Promise<{ items: Job[]; nextCursor: string | null }>;
  get(jobId: string): Promise<Job>;
  /** `jobs.events` without a filter: status changes of the caller's (an admin: every) job, and line events. */
  subscribe: Subscribe<Record<never, never>, JobStreamEvent>;
  /** An admin's `jobs.move … { to: "front", global: true }`. */
  moveToFront(jobId: string): Promise<unknown>;
  /** An admin's `jobs.cancelWaiting({ everyone: true })`: every user's waiting jobs cancelled; the ids it cancelled. */
  cancelEveryone(): Promise<{ jobIds: string[] }>;
}

// Past this many positions to read again one by one, one read of the whole line is cheaper.
const MAX_SINGLE_READS = 50;

/**
 * Everyone's waiting jobs in start order, kept live: read once with `jobs.list`, then moved by the compact line
 * events of an unfiltered `jobs.events` (docs/API.md, "Line events") as the chat page moves its cards; a new job
 * enters with its `queued` snapshot, a job leaves with its next status. Positions a line event cannot tell (a
 * reorder, a missed event) are read again: a few with `jobs.get`, many with a new read of the line.
 */
export function createLine(api: LineApi) {
  // A job that ended shows no estimate again: what this browser kept of its estimates goes.
  const store = createJobStore({ onEnded: forgetDue });
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<string | null>(null);

  const reload = coalesced(async () => {
    try {
      const jobs: Job[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.listQueued(cursor);
        jobs.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      batch(() => {
        // applyEvent, not applySnapshot: under fair turns a position may grow, and this read is the newer one.
        for (const job of jobs) store.applyEvent(job);
        setError(null);
      });
    } catch (e) {
      setError(`The line could not be read: ${errorMessage(e)}`);
    } finally {
      setLoading(false);
    }
  });

  const readAgain = (jobIds: readonly string[]) => {
    if (jobIds.length > MAX_SINGLE_READS) return void reload();
    for (const jobId of jobIds) {
      // A job that is gone meanwhile says so with its status change on the stream.
      api.get(jobId).then(store.applyEvent, () => undefined);
    }
  };

  const stream = createSubscription<Record<never, never>, JobStreamEvent>({
    input: () => ({}),
    subscribe: api.subscribe,
    onOpen: () => store.resetLine(),
    onData: (event) => {
      if ("kind" in event) readAgain(store.applyLine(event));
      else store.applyEvent(event);
    },
    onHistoryGone: () => void reload(),
  });
  void reload();

  const waiting = createMemo(() =>
    Object.values(store.jobs)
      .filter((job) => job.status === "queued")
      .sort((a, b) => a.queuePosition - b.queuePosition),
  );

  return {
    /** The waiting jobs, first to start first. */
    waiting,
    loading,
    /** Why the line could not be read, if it could not. */
    error,
    connection: stream.state,
    reload: () => void reload(),
    /** Makes a job the very next to start; its new place arrives as a line event (and is read now, to show it at once). */
    moveToFront: async (job: Job) => {
      await api.moveToFront(job.id);
      readAgain([job.id]);
    },
    /**
     * Cancels every user's waiting jobs (the line cleared; running jobs go on) and resolves with the ids cancelled.
     * The rows leave as each job's `cancelled` comes on the stream, as any other change does: nothing is applied twice.
     */
    cancelAll: async () => (await api.cancelEveryone()).jobIds,
  };
}

/** The line as one of its rows shows it. */
export type Line = ReturnType<typeof createLine>;
