import type { DueMemory } from "@anvil/client";
import type { Job } from "./types";

/** Which of a job's estimates: when it starts (while queued), or when it is ready (while processing). */
export type EstimateKind = "start" | "finish";
/** What names one run of a job, whose estimate is due once: a job put back in the line or run again is due anew. */
export type DueJob = Pick<Job, "id" | "attempt" | "startedAt">;

const PREFIX = "anvil:due:";
/** Past this an entry is forgotten whatever became of its job: this browser may never hear of that job again. */
export const DUE_KEPT_MS = 86_400_000;

const keyOf = (jobId: string, kind: EstimateKind) => `${PREFIX}${jobId}:${kind}`;
const runOf = (job: DueJob) => `${job.attempt}:${job.startedAt ?? ""}`;
const browserStorage = (): Storage => localStorage;

/** An entry as stored; null for anything else (written by another version, cut short, edited by hand). */
function parse(raw: string | null): { run: string; since: number } | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as { run?: unknown; since?: unknown } | null;
    if (typeof value?.run === "string" && typeof value.since === "number" && Number.isFinite(value.since))
      return { run: value.run, since: value.since };
  } catch {
    // Not JSON: as good as nothing stored.
  }
  return null;
}

/**
 * Since when `job`'s `kind` estimate has been due, kept in this browser's localStorage: a reload, another tab or a
 * card made again goes on from it, so a job that was late stays late. Storage that is off, full or unreadable leaves
 * the page its own memory, as long as it lives.
 */
export function storedDueMemory(job: DueJob, kind: EstimateKind, storage = browserStorage): DueMemory {
  const key = keyOf(job.id, kind);
  const run = runOf(job);
  let own: number | null = null;
  // Whether the storage holds what this page last wrote: after a failed write, the page's own memory is the truth.
  let stored = true;
  return {
    read() {
      if (!stored) return own;
      try {
        const entry = parse(storage().getItem(key));
        return entry?.run === run ? entry.since : null;
      } catch {
        return own;
      }
    },
    write(since) {
      own = since;
      try {
        if (since === null) storage().removeItem(key);
        else storage().setItem(key, JSON.stringify({ run, since }));
        stored = true;
      } catch {
        stored = false;
      }
    },
  };
}

/** Forgets what this browser kept of job `jobId`'s estimates: it ended, and they will not be asked for again. */
export function forgetDue(jobId: string, storage = browserStorage): void {
  try {
    storage().removeItem(keyOf(jobId, "start"));
    storage().removeItem(keyOf(jobId, "finish"));
  } catch {
    // Storage is off: it kept nothing.
  }
}

/**
 * Forgets entries older than {@link DUE_KEPT_MS} (and unreadable ones) at `now`: those of jobs that ended while no
 * page of this browser was open, or that it stopped showing, would otherwise stay for good.
 */
export function pruneDueMemory(now: number, storage = browserStorage): void {
  try {
    const store = storage();
    for (const key of Object.keys(store)) {
      if (!key.startsWith(PREFIX)) continue;
      const entry = parse(store.getItem(key));
      if (!entry || now - entry.since > DUE_KEPT_MS) store.removeItem(key);
    }
  } catch {
    // Storage is off: it kept nothing.
  }
}

/** Forgets every job's entries: a user signs out, or another signs in, and the jobs were the one before's. */
export function forgetAllDue(storage = browserStorage): void {
  pruneDueMemory(Infinity, storage);
}
