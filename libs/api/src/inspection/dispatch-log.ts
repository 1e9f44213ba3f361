import type { DispatchDecision } from "@anvil/job-machine";

/** One dispatch decision as `debug.scheduler` sends it. */
export interface DispatchRecord extends DispatchDecision {
  /** When the job was started (ISO-8601). */
  at: string;
}

/** How many decisions are kept by default. */
export const DEFAULT_DISPATCH_CAPACITY = 200;

/**
 * The last decisions of the scheduler about who gets a GPU and why ("bob's turn: served least recently", "ann's
 * turn: kept flux1-dev on GPU 1, passed over 1 job"), newest first, for /inspect. Bounded: a busy server keeps
 * only the latest `capacity`.
 */
export class DispatchLog {
  private readonly kept: DispatchRecord[] = [];

  constructor(readonly capacity = DEFAULT_DISPATCH_CAPACITY) {}

  /** The scheduler's `onDispatch` hook. */
  readonly record = (decision: DispatchDecision, at = Date.now()): void => {
    this.kept.push({ ...decision, at: new Date(at).toISOString() });
    // Trimming in halves keeps a push O(1) amortised.
    if (this.kept.length >= this.capacity * 2) this.kept.splice(0, this.kept.length - this.capacity);
  };

  /** The latest `limit` decisions, newest first. */
  latest(limit = this.capacity): DispatchRecord[] {
    const n = Math.min(limit, this.capacity, this.kept.length);
    return this.kept.slice(this.kept.length - n).reverse();
  }

  /** The decision that last started `jobId`, while it is kept. */
  of(jobId: string): DispatchRecord | undefined {
    return this.kept.findLast((record) => record.jobId === jobId);
  }
}
