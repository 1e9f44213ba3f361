import type { ImageJobInput, Job, JobScheduler } from "@anvil/job-machine";
import type { JobRecord, SubmitJobResult } from "@anvil/persistence";
import type { JobPublisher } from "./job-publisher";
import type { LiveJobs } from "./live-jobs";

/** What the scheduler is given of a stored, waiting job: everything its place in the line depends on. */
export const lineInputOf = (job: JobRecord): ImageJobInput => ({
  jobId: job.id,
  prompt: job.prompt,
  params: job.params,
  attempt: job.attempts + 1,
  spared: job.spared,
  line: {
    owner: job.owner,
    priority: job.priority,
    seq: job.seq,
    move: job.line.move,
    front: job.line.front,
    place: job.line.place,
  },
});

/** Where stored jobs go to wait: the read model, the scheduler's line, and the announcement of new ones. */
export interface LineIntakeTargets {
  live: LiveJobs;
  scheduler: Pick<JobScheduler<unknown>, "submit" | "submitMany" | "move">;
  publisher: Pick<JobPublisher, "announce">;
}

/**
 * Takes stored, waiting jobs into the scheduler's line, after the database has them: a new one is announced, a
 * repeated idempotency key answers with the job it made.
 */
export class LineIntake {
  constructor(private readonly targets: LineIntakeTargets) {}

  /**
   * Stored submissions: the new jobs join the line, in one step of the scheduler, and are announced; a repeated
   * idempotency key answers with the job it made. A job that is stored and waiting but that the scheduler never
   * heard of (its first submission was committed but the answer was lost on the way back) joins the line now.
   */
  acceptAll(results: readonly SubmitJobResult[]): Job[] {
    const { live, scheduler, publisher } = this.targets;
    // A job joins (and is announced) once, also when two inputs of the batch repeated one key.
    const joining = new Map<string, JobRecord>();
    for (const { job, created } of results) {
      if (!joining.has(job.id) && (created || this.isOrphan(job))) joining.set(job.id, job);
    }
    for (const job of joining.values()) live.update(job);
    let snapshots: Job[] = [];
    // Read and announced as they joined the line, before any of them starts: with a GPU free, the first would
    // otherwise still read as waiting at 1 (its start not persisted yet) beside the one that is #1 after it.
    scheduler.submitMany([...joining.values()].map(lineInputOf), () => {
      snapshots = results.map(({ job }) => {
        const snapshot = live.toJob(job);
        if (joining.delete(job.id)) publisher.announce(job, snapshot);
        return snapshot;
      });
    });
    return snapshots;
  }

  /** Puts a stored, waiting job in the line and announces it. */
  adopt(job: JobRecord): Job {
    this.rejoin(job);
    const snapshot = this.targets.live.toJob(job);
    this.targets.publisher.announce(job, snapshot);
    return snapshot;
  }

  /**
   * Puts a stored, waiting job in the line without announcing it (at start, before anyone listens). `again`: it ran
   * (its backend or its server went away), and waits ahead of every turn. `beforeMove`: among its owner's jobs, as
   * before an admin moved it ahead of all, for {@link moveAhead} to move it again (see `Recovery.rebuildLine`).
   */
  rejoin(job: JobRecord, how: "waiting" | "again" | "beforeMove" = "waiting"): void {
    this.targets.live.update(job);
    const input = lineInputOf(job);
    if (how === "again") input.again = true;
    if (how === "beforeMove") input.line = { ...input.line, front: null };
    this.targets.scheduler.submit(input);
  }

  /** Moves a job that {@link rejoin}ed `beforeMove` ahead of all again, as the admin's move did. */
  moveAhead(job: JobRecord): void {
    this.targets.scheduler.move(job.id, { front: job.line.front });
  }

  /** Stored and waiting, but not in the line. */
  isOrphan(job: JobRecord): boolean {
    return job.status === "queued" && !this.targets.live.has(job.id);
  }
}
