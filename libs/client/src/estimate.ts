/** How long past its estimate a job goes on saying "any moment" before it says it is late. */
const OVERDUE_MS = 30_000;

/** Below this much time left an estimate is due ("any moment"). */
const DUE_MS = 2_500;

/**
 * A time still to come, as rough as an estimate is: "~40 s" (to 5 s) under a minute, "~3 min" under an hour, then
 * "~2 h"; null when it is (nearly) here.
 */
export function formatRemaining(ms: number): string | null {
  if (ms < DUE_MS) return null;
  const seconds = Math.round(ms / 5_000) * 5;
  if (seconds < 60) return `~${seconds} s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `~${minutes} min`;
  return `~${Math.round(ms / 3_600_000)} h`;
}

/**
 * "starts in ~40 s" / "ready in ~1 min" for an estimate `at` (ISO), seen at `now`; "… any moment" once it is due,
 * and that it is late once it has been due for half a minute (a generation that hangs, a GPU slower than it was).
 * The server keeps an overdue estimate at "now", so a caller that watches one says since when it has seen it due
 * (`dueSince`, ms).
 */
export function formatEstimate(kind: "start" | "finish", at: string, now: number, dueSince?: number | null): string {
  const due = Date.parse(at);
  if (now - Math.min(due, dueSince ?? Infinity) >= OVERDUE_MS) {
    return kind === "start" ? "starting later than expected" : "taking longer than expected";
  }
  const remaining = formatRemaining(due - now);
  const verb = kind === "start" ? "starts" : "ready";
  return remaining === null ? `${verb} any moment` : `${verb} in ${remaining}`;
}

/**
 * Where a {@link dueClock} keeps since when its estimate has been due (epoch ms; null: it is not), so that the memory
 * can outlive the clock: a web page keeps it in the browser's storage, and a reload or another tab goes on from it.
 */
export interface DueMemory {
  read(): number | null;
  write(dueSince: number | null): void;
}

const inMemory = (): DueMemory => {
  let dueSince: number | null = null;
  return {
    read: () => dueSince,
    write: (value) => {
      dueSince = value;
    },
  };
};

/**
 * Since when an estimate watched over time has been due: give it each estimate as it comes (ISO, or null when
 * there is none) with the time; it answers the time it first saw it due, or null while it is not. It remembers in
 * `memory` when given one (shared with other clocks over the same estimate), else for as long as it lives.
 */
export function dueClock(memory: DueMemory = inMemory()): (at: string | null, now: number) => number | null {
  return (at, now) => {
    const dueSince = memory.read();
    if (at === null || Date.parse(at) - now >= DUE_MS) {
      if (dueSince !== null) memory.write(null);
      return null;
    }
    // A time to come is no memory of being due (a clock set back, a value written by something else).
    if (dueSince !== null && dueSince <= now) return dueSince;
    memory.write(now);
    return now;
  };
}

/**
 * A job's estimate in words as it stands: when a queued job starts, when a running one is ready; null when unknown.
 * With `due` (a {@link dueClock} of this job's), a job long due says it is late.
 */
export function jobEstimate(
  job: { status: string; estimatedStartAt: string | null; estimatedFinishAt: string | null },
  now: number,
  due?: (at: string | null, now: number) => number | null,
): string | null {
  const kind = job.status === "queued" ? "start" : job.status === "processing" ? "finish" : null;
  const at = kind === "start" ? job.estimatedStartAt : kind === "finish" ? job.estimatedFinishAt : null;
  const dueSince = due?.(at, now) ?? null;
  return kind && at ? formatEstimate(kind, at, now, dueSince) : null;
}
