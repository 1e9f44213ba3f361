import type { Job, LineChange } from "@anvil/job-machine";
import { isFinalStatus } from "@anvil/job-machine";
import type { JobRecord, JobStore } from "@anvil/persistence";
import { toJob } from "@anvil/persistence";
import { mayAccess } from "./caller";
import type { Caller } from "./caller";
import { NotFound } from "./errors";
import type { Estimates } from "./estimates";
import type { EventHub } from "./event-hub";
import { TimingDrift } from "./timing-drift";

/** What the read model reads from: the database for ended jobs, the scheduler's line, the estimates. */
export interface LiveJobsSources {
  store: Pick<JobStore, "getJob">;
  events: EventHub;
  /** 1 = next to get a GPU; 0 when the scheduler does not hold the job waiting. */
  position: (jobId: string) => number;
  estimates: Pick<Estimates, "of" | "changed" | "lineChanged" | "headStart">;
}

/**
 * The read model of the jobs in the line and on the GPUs: their records as last persisted, with live positions and
 * estimates, and the line's version. Every write reaches it after the database took it, so what it answers is
 * never ahead of the database.
 */
export class LiveJobs {
  private readonly records = new Map<string, JobRecord>();
  private version = 0;
  private readonly drift = new TimingDrift();

  constructor(private readonly sources: LiveJobsSources) {}

  /** Keeps a waiting or running job's record as persisted; a job that ended leaves. */
  update(record: JobRecord): void {
    if (isFinalStatus(record.status)) this.records.delete(record.id);
    else this.records.set(record.id, record);
  }

  /** Notes who moved a waiting job, in its record as it is now (a start written meanwhile may have replaced it). */
  moved(jobId: string, by: string | null): void {
    const record = this.records.get(jobId);
    if (record) this.records.set(jobId, { ...record, movedBy: by });
  }

  /** A waiting or running job's record, from memory; undefined once it has ended. */
  record(jobId: string): JobRecord | undefined {
    return this.records.get(jobId);
  }

  /** Whether the job is waiting or running here. */
  has(jobId: string): boolean {
    return this.records.has(jobId);
  }

  /** How many jobs are waiting or running. */
  get size(): number {
    return this.records.size;
  }

  /** How many of `owner`'s jobs wait in the line now. */
  queuedOf(owner: string): number {
    let queued = 0;
    for (const record of this.records.values()) if (record.owner === owner && record.status === "queued") queued++;
    return queued;
  }

  /** A job by id, live or from the database; another user's job is NOT_FOUND to `by` (its existence is not revealed). */
  async find(jobId: string, by?: Caller): Promise<JobRecord> {
    const record = await this.lookup(jobId);
    if (!record || (by && !mayAccess(by, record.owner))) throw new NotFound({ message: `No job with id ${jobId}` });
    return record;
  }

  /**
   * Whose image this is, if it may be shown: only a complete job's (null otherwise). A job cancelled as its image
   * was written (or whose completion the database refused) may have left a file behind for a moment; it is never
   * served.
   */
  async imageOwner(jobId: string): Promise<string | null> {
    const record = await this.lookup(jobId);
    return record?.status === "complete" ? record.owner : null;
  }

  /** A job's record: from memory while it waits or runs, else from the database (null: no such job). */
  private async lookup(jobId: string): Promise<JobRecord | null> {
    return this.records.get(jobId) ?? (await this.sources.store.getJob(jobId));
  }

  /** The job as the API shows it: the persisted record, with its position and estimates from the live line. */
  toJob(record: JobRecord): Job {
    const current = this.records.get(record.id) ?? record;
    const position = current.status === "queued" ? Math.max(1, this.sources.position(record.id)) : 0;
    return toJob(current, position, this.sources.estimates.of(current));
  }

  /** A job still in the line or on a GPU; undefined once it has ended. */
  job(jobId: string): Job | undefined {
    const record = this.records.get(jobId);
    return record ? this.toJob(record) : undefined;
  }

  /** The waiting line's version: how many changes it has had since this read model was made. */
  get lineVersion(): number {
    return this.version;
  }

  /**
   * Where every change of the line is announced: the scheduler reports it here synchronously as it changes its
   * line, so a position read right after ({@link toJob}) already reflects it. One small message per change, whatever
   * the number of waiting jobs; `jobs.events` folds them per subscriber (see line-events.ts).
   */
  lineChanged(change: LineChange): void {
    this.sources.estimates.lineChanged(change);
    this.sources.events.publish({ kind: "line", version: ++this.version, change });
  }

  /**
   * The estimates moved while the line did not (a backend came or went, the queue was paused or resumed, a finished
   * job taught the model): subscribers get the line's new timing (one small message each, see line-events.ts).
   */
  retimed(): void {
    this.sources.estimates.changed();
    this.sources.events.publish({ kind: "timing" });
  }

  /**
   * A running job's progress was written: it may run ahead of or behind its prediction, and every waiting job's
   * start with it. Subscribers get the line's new timing once that start moved enough (see timing-drift.ts); before,
   * a waiting card went on counting down from an estimate the server no longer held.
   */
  progressed(now = Date.now()): void {
    const { estimates } = this.sources;
    // The projection is kept for up to a second: one made before this progress would show no move.
    const head = () => {
      estimates.changed();
      return estimates.headStart();
    };
    if (this.drift.moved(now, head)) this.retimed();
  }
}
