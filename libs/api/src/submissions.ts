import type { Job } from "@anvil/job-machine";
import type { SubmitJobInput, SubmitJobResult, SubmitOutcome } from "@anvil/persistence";
import { isDatabaseUnreachable } from "@anvil/persistence";
import { Unavailable } from "./errors";

/** The most submissions stored in one transaction. */
const MAX_BATCH = 256;

export const databaseDown = (cause?: unknown) =>
  new Unavailable({
    message: "The database is not reachable right now; the job was not accepted, try again shortly",
    cause,
  });

const databaseSlow = () =>
  new Unavailable({
    message:
      "The database did not answer in time; the job may still be accepted: submit it again with the same idempotencyKey to find out",
  });

/** What {@link Submissions} is built from. */
export interface SubmissionsOptions {
  /** Runs a task in the journal's lane (after everything recorded before it, before anything after). */
  run: (task: () => Promise<void>) => Promise<void>;
  /** When the lane last moved (see Journal.lastProgressAt). */
  lastProgressAt: () => number;
  /** Stores many submissions in one transaction, in order, each with its own outcome. */
  store: (inputs: readonly SubmitJobInput[]) => Promise<SubmitOutcome[]>;
  /** Takes a stored job into the queue and announces it; called for every job stored, answered in time or not. */
  accept: (result: SubmitJobResult) => Job;
  /**
   * Called when a store failed in a way that leaves its outcome unknown (the connection went while it committed):
   * the jobs may be stored although their clients are told they were not accepted.
   */
  onUncertain?: () => void;
  /** How long one submission may wait for a database that does not answer before it is refused. */
  deadlineMs: number;
}

interface Waiting {
  input: SubmitJobInput;
  /** Sent to the database: from now on a refusal cannot promise that it was not stored. */
  sent: boolean;
  settled: boolean;
  timer?: NodeJS.Timeout;
  resolve(job: Job): void;
  reject(error: unknown): void;
}

/**
 * Submissions, stored in batches: all that arrive while the lane is busy go to the database together, in one
 * transaction, in their order, so a burst of submissions costs a commit, not a commit each.
 *
 * Each one has a deadline. Refused while it still waits, it is withdrawn and never stored (its client was told
 * "not accepted"); refused once sent, the client is told that it may still have been accepted.
 */
export class Submissions {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly options: SubmissionsOptions) {}

  submit(input: SubmitJobInput): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      const entry: Waiting = {
        input,
        sent: false,
        settled: false,
        resolve,
        reject,
      };
      this.arm(entry, this.options.deadlineMs);
      this.waiting.push(entry);
      this.schedule();
    });
  }

  /**
   * The deadline counts time in which the lane does not move: behind a burst of work the database is busy, not
   * gone, and a waiting submission is kept; behind a write that hangs it is refused after `deadlineMs`.
   */
  private arm(entry: Waiting, ms: number): void {
    entry.timer = setTimeout(() => {
      const left = this.options.lastProgressAt() + this.options.deadlineMs - Date.now();
      if (left > 0 && !entry.sent) this.arm(entry, left);
      else this.refuse(entry, entry.sent ? databaseSlow() : databaseDown());
    }, ms);
  }

  /** Refuses (and withdraws) every submission not yet sent to the database, e.g. when a write just failed. */
  refuseWaiting(error: unknown): void {
    for (const entry of [...this.waiting]) this.refuse(entry, error);
  }

  private refuse(entry: Waiting, error: unknown): void {
    if (!entry.sent) this.waiting = this.waiting.filter((w) => w !== entry);
    this.settle(entry, () => entry.reject(error));
  }

  private settle(entry: Waiting, answer: () => void): void {
    clearTimeout(entry.timer);
    if (entry.settled) return;
    entry.settled = true;
    answer();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    void this.options.run(() => this.storeBatch());
  }

  private async storeBatch(): Promise<void> {
    this.scheduled = false;
    const batch = this.waiting.splice(0, MAX_BATCH);
    if (this.waiting.length > 0) this.schedule();
    if (batch.length === 0) return;
    for (const entry of batch) entry.sent = true;
    let results: SubmitOutcome[];
    try {
      results = await this.options.store(batch.map((entry) => entry.input));
    } catch (error) {
      // The driver fails a query at once when the database cannot be reached; that is not an internal error.
      const unreachable = isDatabaseUnreachable(error);
      const refusal = unreachable ? databaseDown(error) : error;
      for (const entry of batch) this.settle(entry, () => entry.reject(refusal));
      // The connection may have gone after the COMMIT reached the server: then these jobs are stored and waiting.
      if (unreachable) this.options.onUncertain?.();
      return;
    }
    batch.forEach((entry, i) => {
      const result = results[i];
      if (result === undefined || result instanceof Error) {
        this.settle(entry, () => entry.reject(result ?? new Error("the store returned no outcome")));
        return;
      }
      let job: Job;
      try {
        job = this.options.accept(result);
      } catch (error) {
        // Never out of this task: the lane's promise is not awaited, a throw would be an unhandled rejection.
        this.settle(entry, () => entry.reject(error));
        return;
      }
      this.settle(entry, () => entry.resolve(job));
    });
  }
}
