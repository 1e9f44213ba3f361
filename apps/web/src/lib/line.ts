import { batch, createMemo, createSignal } from "solid-js";
import { forgetDue } from "./due-memory";
import { errorMessage } from "./errors";
import { createJobStore } from "./job-store";
import { createSubscription } from "./subscription";
import type { Subscribe } from "./subscription";
import { coalesced, throttled } from "./tasks";
import type { Job, JobStreamEvent, LineEvent } from "./types";

/** The head of the line as `queue.line` answers it. */
export interface LineHead {
  /** The first waiting jobs the caller may see (an admin: everyone's), first to start first. */
  items: Job[];
  /** How many such jobs wait in all, and of how many users. */
  total: number;
  users: number;
  /** The line's version as read: a line event whose `from` is at or past it is a change the read does not hold. */
  version: number;
}

/** What the line view asks of the server: the tRPC client in the app (`line-api.ts`), a stand-in in tests. */
export interface LineApi {
  /** `queue.line`: the first `limit` waiting jobs in start order, and how many wait in all. */
  head(limit: number): Promise<LineHead>;
  get(jobId: string): Promise<Job>;
  /** `jobs.events` without a filter: status changes of the caller's (an admin: every) job, and line events. */
  subscribe: Subscribe<Record<never, never>, JobStreamEvent>;
  /** An admin's `jobs.move … { to: "front", global: true }`. */
  moveToFront(jobId: string): Promise<unknown>;
  /** `jobs.cancel`: one waiting job cancelled (an admin's may be anyone's); the job as it is now. */
  cancel(jobId: string): Promise<Job>;
  /** An admin's `jobs.cancelWaiting({ everyone: true })`: every user's waiting jobs cancelled; the ids it cancelled. */
  cancelEveryone(): Promise<{ jobIds: string[] }>;
}

/** Past this many waiting jobs to read again one by one (`jobs.get`), one read of them all is cheaper. */
export const MAX_SINGLE_READS = 50;

/** How often at most the head is read again while the line moves: rows from behind fill the places of those that left. */
export const HEAD_REFRESH_MS = 1000;

/**
 * The first `rows` waiting jobs in start order, kept live, and how many wait in all: read with `queue.line`, then
 * moved by the compact line events of an unfiltered `jobs.events` (docs/API.md, "Line events") as the chat page
 * moves its cards; a job leaves with its next status. Positions a line event cannot tell (a reorder, a missed event)
 * are read again: a few with `jobs.get`, many with a new read of the head. While the line moves, the head is read
 * again at most every {@link HEAD_REFRESH_MS}, so that jobs behind it move up into it and the counts follow: the
 * page holds a few hundred jobs however deep the line is.
 */
export function createLine(api: LineApi, rows: number, options: { wholeLine?: () => boolean } = {}) {
  // A job that ended shows no estimate again: what this browser kept of its estimates goes.
  const store = createJobStore({ onEnded: forgetDue });
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<string | null>(null);
  const [counts, setCounts] = createSignal({ total: 0, users: 0 });
  // What the line events counted since the last read (see countChanges): those past a read's version are added to its
  // total, since that read does not hold them; the others it holds already.
  let counted: { from: number; delta: number }[] = [];
  let readVersion = 0;

  const reload = coalesced(async () => {
    try {
      const head = await api.head(rows);
      batch(() => {
        const shown = new Set(head.items.map((job) => job.id));
        // The rest of what the stream brought (jobs behind the head, jobs that ended) is not shown: let go of it.
        store.forget(Object.keys(store.jobs).filter((jobId) => !shown.has(jobId)));
        // applyEvent, not applySnapshot: under fair turns a position may grow, and this read is the newer one.
        for (const job of head.items) store.applyEvent(job);
        // Its positions are at the version it was read at, which the stream's line events may not have reached yet.
        store.resetLine(head.version);
        // A version lower than the last read's is a new leader's (after a failover it counts from 0 again): what was
        // counted before is the old leader's, and in this read.
        counted = head.version < readVersion ? [] : counted.filter((change) => change.from >= head.version);
        const later = counted.reduce((sum, change) => sum + change.delta, 0);
        setCounts({ total: Math.max(0, head.total + later), users: head.users });
        readVersion = head.version;
        setError(null);
      });
    } catch (e) {
      setError(`The line could not be read: ${errorMessage(e)}`);
    } finally {
      setLoading(false);
    }
  });
  const refresh = throttled(reload, HEAD_REFRESH_MS);

  // Between reads of the head, the line events say how many joined and left: without them a started job's row went
  // at once while the total still counted it ("1 more waiting behind them" until the next read). An insert or a
  // remove changes the length whatever version it applies to; `changes: null` cannot be counted; the read that
  // follows puts the count right either way. Line events are the whole line's, so they count only where the head is
  // the whole line (`wholeLine`, an admin's); a user's own jobs are counted by the reads alone. They do not say whose
  // jobs moved, so the users stay as last read, but never more than the jobs that wait. An event from before the last
  // read's version is in that read already (wholly, or in part when it spans it): it is not counted again.
  const countChanges = (event: LineEvent) => {
    if (options.wholeLine?.() !== true || event.from < readVersion) return;
    let delta = 0;
    for (const change of event.changes ?? []) {
      if (change.op === "insert") delta += change.count;
      else if (change.op === "remove") delta -= change.count;
    }
    if (delta === 0) return;
    counted.push({ from: event.from, delta });
    setCounts((last) => ({ ...last, total: Math.max(0, last.total + delta) }));
  };

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
      if ("kind" in event) {
        countChanges(event);
        readAgain(store.applyLine(event));
      }
      // A job the head holds, or one that joins it; one behind it is read with the head when it gets there.
      else if (
        store.jobs[event.id] ||
        (event.status === "queued" && event.queuePosition > 0 && event.queuePosition <= rows)
      ) {
        store.applyEvent(event);
      }
      refresh();
    },
    onHistoryGone: () => void reload(),
  });
  void reload();

  const waiting = createMemo(() =>
    Object.values(store.jobs)
      .filter((job) => job.status === "queued" && job.queuePosition <= rows)
      .sort((a, b) => a.queuePosition - b.queuePosition),
  );

  const total = () => Math.max(counts().total, waiting().length);

  return {
    /** The first waiting jobs, first to start first. */
    waiting,
    /** How many jobs wait in all (the rows shown and those behind them): as last read, moved by the line events since. */
    total,
    /** Of how many users, as last read (and no more than there are jobs). */
    users: () => Math.min(counts().users, total()),
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
     * Cancels one waiting job. Its row leaves with the answer, not only with the stream's `cancelled`: until then its
     * Cancel would be pressed again, and refused as too late.
     */
    cancel: async (job: Job) => {
      store.applyEvent(await api.cancel(job.id));
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
