import { applyLineEvent } from "@anvil/job-machine/line-change";
import { applyLineTiming } from "@anvil/job-machine/line-timing";
import { batch } from "solid-js";
import { createStore, produce, reconcile } from "solid-js/store";
import type { Job, JobStatus, LineEvent } from "./types";

const RANK: Record<JobStatus, number> = { queued: 0, processing: 1, complete: 2, error: 2, cancelled: 2 };

/** True when no transition can leave `status`. */
export const isFinal = (status: JobStatus): boolean => RANK[status] === 2;

/**
 * A running job put back in the line as the same attempt: a server of an earlier version gave back the attempt a stop
 * cut short (a server now counts it, spared), and the next start queued it again (having run: `backend` set). Its
 * first wait, which a resumed stream may replay, had no backend yet.
 */
const putBack = (next: Job, current: Job): boolean =>
  next.status === "queued" && current.status === "processing" && next.backend !== null;

/**
 * Two snapshots of one job by attempt, then status: negative when `next` is behind `current`, positive when ahead. A
 * job put back in the line (queued after processing, with a higher `attempt`, or the same one after a stop) is ahead,
 * not a regression.
 */
const statusOrder = (next: Job, current: Job): number =>
  next.attempt - current.attempt || (putBack(next, current) ? 1 : RANK[next.status] - RANK[current.status]);

/**
 * Whether `next` is at least as far along as `current`. Jobs only move forward: queued → processing → a final
 * state; a queued job's position only shrinks; a processing job's progress only grows, except that a job re-run
 * after a server restart starts again (a later `startedAt`). A job put back in the line (a lost backend, a crash)
 * is queued again with a higher `attempt` (after a stop by a server of an earlier version, the same one): that
 * snapshot is newer whatever its status. Nothing leaves a final state.
 */
export function isAtLeastAsNew(next: Job, current: Job): boolean {
  if (isFinal(current.status)) return false;
  const order = statusOrder(next, current);
  if (order !== 0) return order > 0;
  if (next.status === "queued") return next.queuePosition <= current.queuePosition;
  const started = (next.startedAt ?? "").localeCompare(current.startedAt ?? "");
  return started !== 0 ? started > 0 : next.progress >= current.progress;
}

/** Every job the page knows, keyed by id, in a Solid store so a card re-renders only what changed. */
export interface JobStore {
  readonly jobs: Readonly<Record<string, Job>>;
  /** A snapshot from the live stream: applied in stream order, never taking a job back to an earlier status. */
  applyEvent(job: Job): void;
  /** A snapshot from a query: applied only when it is not older than what the page already shows. */
  applySnapshot(job: Job): void;
  /**
   * A line event from the live stream: moves the waiting jobs the page holds, and their estimates by its timing.
   * Returns the ids of those whose position it cannot tell (a reorder touched them, or the page missed a change):
   * read them again (`jobs.get`).
   */
  applyLine(event: LineEvent): string[];
  /**
   * A new stream starts: its first line event says which line version its snapshots are at. Or the waiting jobs the
   * store holds were just read at line version `at` (`queue.line`): a line event up to it is in them already.
   */
  resetLine(at?: number): void;
  /** Lets go of jobs the page no longer shows (they are not ended: `onEnded` is not told). */
  forget(jobIds: Iterable<string>): void;
}

/** Makes an empty job store; `onEnded` hears of each job the first time it holds it in a final state. */
export function createJobStore(options: { onEnded?: (jobId: string) => void } = {}): JobStore {
  const [jobs, setJobs] = createStore<Record<string, Job>>({});
  const put = (job: Job) => {
    setJobs(job.id, reconcile(job));
    // Nothing replaces a final snapshot (both appliers check), so this is the once.
    if (isFinal(job.status)) options.onEnded?.(job.id);
  };
  let version: number | null = null;
  // The version of the read the waiting jobs' positions come from, until a line event past it moves them.
  let read: number | null = null;
  return {
    jobs,
    applyEvent(job) {
      const current = jobs[job.id];
      // A resumed stream replays status changes the page may already have from a query: skip those regressions.
      if (current && (isFinal(current.status) || statusOrder(job, current) < 0)) return;
      // The snapshot of a job that waits again is stored before its place is known (0), and may be replayed: it
      // says nothing of where the job waits now (its current snapshot follows).
      const placeUnknown = job.status === "queued" && job.queuePosition === 0 && current?.status === "queued";
      put(placeUnknown ? { ...job, queuePosition: current.queuePosition } : job);
    },
    applySnapshot(job) {
      const current = jobs[job.id];
      if (!current || isAtLeastAsNew(job, current)) put(job);
    },
    applyLine(event) {
      // A change the read holds already: applied again, it moved every row behind it a second time.
      if (read !== null && version === read && event.version <= read && event.from < read) return [];
      read = null;
      // Snapshots on a stream are at the version of its last line event (before the first: that event's `from`).
      const inStep = version === null || version === event.from;
      version = event.version;
      const stale: string[] = [];
      batch(() => {
        for (const job of Object.values(jobs)) {
          if (job.status !== "queued") continue;
          const next = inStep ? applyLineEvent(job.queuePosition, event) : null;
          if (next === null) {
            stale.push(job.id);
            continue;
          }
          // 0: it left the line; its status change follows on the stream and says where it went.
          if (next === 0) continue;
          if (next !== job.queuePosition) setJobs(job.id, "queuePosition", next);
          // An event without timing (from a server before estimates) leaves them as they are.
          if (event.timing !== undefined) setJobs(job.id, applyLineTiming(job, next, event.timing));
        }
      });
      return stale;
    },
    resetLine(at) {
      version = at ?? null;
      read = at ?? null;
    },
    forget(jobIds) {
      setJobs(
        produce((held) => {
          for (const jobId of jobIds) delete held[jobId];
        }),
      );
    },
  };
}
