import { defaultRuntime, LaneAbandoned, MAX_ATTEMPTS } from "@anvil/job-machine";
import type { EffectRuntime } from "@anvil/job-machine";
import type { JobRecord, JobStore } from "@anvil/persistence";
import { databaseErrorText, toJob } from "@anvil/persistence";
import { Duration, Effect, Schedule } from "effect";
import type { LineIntake } from "./line-intake";
import type { LiveJobs } from "./live-jobs";
import type { LogHook } from "./log-hook";
import { WAITS_AGAIN } from "./transition-writer";

/** Looking for stored submissions the scheduler never heard of: soon, then less often, for about a minute. */
const ORPHAN_SWEEP_RETRY = {
  schedule: Schedule.min([Schedule.exponential(Duration.millis(100), 2), Schedule.spaced(Duration.seconds(5))]),
  times: 15,
};

/**
 * Whether a waiting job waits again ahead of every turn: it ran (its backend went away, or its server stopped, while
 * it ran), and no one moved it since (that clears its moves, see {@link WAITS_AGAIN}; a move sets one).
 */
const waitsAgain = (job: JobRecord): boolean => job.attempts > 0 && job.line.move === null && job.line.front === null;

/** What recovery reads and repairs. */
export interface RecoveryOptions {
  store: Pick<JobStore, "activeJobs" | "applyTransition" | "spareAttempt">;
  live: Pick<LiveJobs, "record" | "size">;
  intake: Pick<LineIntake, "adopt" | "rejoin" | "moveAhead" | "isOrphan">;
  /** Runs a task in the journal's lane (after everything recorded before it, before anything after). */
  lane: (task: () => Promise<void>) => Promise<void>;
  log?: LogHook | undefined;
  /** Where the orphan sweep runs (default the shared `defaultRuntime`). */
  runtime?: EffectRuntime | undefined;
}

/**
 * Makes the line whole where a server's life, or an answer, was cut short: at start it rebuilds the line from the
 * database (what was running waits again, or is given up after {@link MAX_ATTEMPTS}); after a submission whose
 * outcome is unknown it takes in what was stored after all; at a stop it spares the attempts the stop cut.
 */
export class Recovery {
  /** A look for stored submissions the scheduler never heard of, while one is under way. */
  private orphanSweep: Promise<void> | null = null;
  /**
   * The backends (their URLs) of the jobs the database held as running when the line was rebuilt: Forge goes on
   * without its client, so their generations may still run there (see BackendMonitor).
   */
  readonly leftBehind = new Set<string>();
  /**
   * The jobs an admin had moved ahead of all whose places the line was rebuilt without: moved ahead again, they hand
   * those places on anew, and the journal writes them (see JobService.start).
   */
  readonly movedAheadAgain: string[] = [];

  constructor(private readonly options: RecoveryOptions) {}

  /** Puts every waiting and interrupted job back in the line, in the database's order. */
  async rebuildLine(): Promise<void> {
    const { store, live, intake, log } = this.options;
    // Those that were running: they had their turns, and wait again ahead of every other job.
    const running: JobRecord[] = [];
    // Those that wait again already (their backend went away, or their server stopped): ahead of every turn too.
    const again: JobRecord[] = [];
    // Those an admin moved ahead of all whose move's places were not written yet (see `moveJob`).
    const movedAhead: JobRecord[] = [];
    for (const job of await store.activeJobs()) {
      if (job.status !== "processing") {
        if (waitsAgain(job)) again.push(job);
        else if (job.line.front !== null && job.line.place !== null) movedAhead.push(job);
        else intake.rejoin(job);
        continue;
      }
      if (job.backend !== null) this.leftBehind.add(job.backend);
      if (job.attempts - job.spared < MAX_ATTEMPTS) {
        running.push(job);
        continue;
      }
      await store.applyTransition({
        jobId: job.id,
        from: "processing",
        to: "error",
        patch: {
          error: `This job was interrupted ${MAX_ATTEMPTS} times (the server stopped while it was running); it was given up`,
          finishedAt: new Date(),
        },
        snapshot: (record) => toJob(record, 0),
      });
      log?.("job given up after repeated interruptions", { jobId: job.id, attempts: job.attempts }, "warn");
    }
    // Each joins its owner's jobs as before the move, then is moved ahead of all again once the others are in, in
    // the order the moves were made: that hands on the places it held as the move did, and writes them.
    for (const job of movedAhead) intake.rejoin(job, "beforeMove");
    movedAhead.sort((a, b) => (a.line.front ?? 0) - (b.line.front ?? 0));
    for (const job of movedAhead) {
      intake.moveAhead(job);
      this.movedAheadAgain.push(job.id);
    }
    // The one that started first goes first: they are written in the reverse order, so that their event ids (the
    // latest back first, as below) tell a later leader the same order.
    running.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || b.seq - a.seq);
    let resumed = 0;
    for (const [k, active] of running.entries()) {
      // It waits for a GPU again: the database says so (with the attempts it had) instead of a stale `processing`
      // with the old progress and start time. Nothing publishes yet: its event is read from the log by whoever
      // subscribes, and the change gets its line here as every status change does.
      const requeued = await store.applyTransition({
        jobId: active.id,
        from: "processing",
        to: "queued",
        patch: WAITS_AGAIN,
        snapshot: (record) => toJob(record, running.length - k),
      });
      if (requeued === null) continue;
      resumed++;
      log?.("job processing → queued", {
        jobId: active.id,
        from: "processing",
        to: "queued",
        attempt: requeued.job.attempts + 1,
        // The one it left, as the line of any other way back to the line says.
        ...(active.backend !== null ? { backend: active.backend } : {}),
        why: "the server that ran it stopped, or lost the database, while it ran",
      });
      again.push(requeued.job);
    }
    // Each went to the very front as it came back, so the latest back waits first: taken in the order they came back
    // (their status changes' event ids), each goes to the very front again.
    again.sort((a, b) => a.lastEventId - b.lastEventId);
    for (const job of again) intake.rejoin(job, "again");
    if (live.size > 0) log?.("queue rebuilt from the database", { jobs: live.size, resumed });
  }

  /**
   * After a store whose outcome is unknown (the connection went while it committed): once the database answers,
   * the waiting jobs the scheduler does not hold are taken into the line, so a submission that was committed
   * although its client was told otherwise still runs (and can be cancelled). In the lane, so no submission is
   * stored meanwhile; the line then follows the database's order (seq) except for these late ones.
   */
  sweepOrphans(): void {
    this.orphanSweep ??= (this.options.runtime ?? defaultRuntime)
      .runPromise(
        Effect.tryPromise(() => this.options.lane(() => this.adoptOrphans())).pipe(
          // A lane abandoned at the end of this server's term: the next leader's recovery adopts them.
          Effect.retry({ ...ORPHAN_SWEEP_RETRY, while: (error) => !(error.cause instanceof LaneAbandoned) }),
          Effect.catch((error) =>
            Effect.sync(() => {
              if (error.cause instanceof LaneAbandoned) return;
              this.options.log?.(
                "could not look for submissions stored without an answer",
                { error: databaseErrorText(error.cause) },
                "warn",
              );
            }),
          ),
        ),
      )
      .finally(() => {
        this.orphanSweep = null;
      });
  }

  private async adoptOrphans(): Promise<void> {
    const { store, intake, log } = this.options;
    const orphans = (await store.activeJobs()).filter((job) => intake.isOrphan(job));
    for (const job of orphans) intake.adopt(job);
    if (orphans.length > 0) log?.("stored submissions whose answer was lost joined the line", { jobs: orphans.length });
  }

  /**
   * A stop interrupted these jobs' generations: each runs again at the next start (or on the next leader) as its
   * next attempt, spared: a shutdown is no failure, so it never uses up one of the job's {@link MAX_ATTEMPTS}.
   */
  async spareInterrupted(jobIds: readonly string[]): Promise<void> {
    const { store, live, log } = this.options;
    for (const jobId of jobIds) {
      // The record as last persisted: an attempt whose start never reached the database was never counted.
      const record = live.record(jobId);
      if (record?.status !== "processing") continue;
      const spared = await store.spareAttempt(jobId, record.attempts, record.spared).catch((error: unknown) => {
        log?.(
          "could not spare the attempt a shutdown interrupted (it counts toward the job's three)",
          { jobId, error: databaseErrorText(error) },
          "warn",
        );
        return false;
      });
      if (spared)
        log?.(
          "stopped before its generation finished: it runs again on the next leader of a cluster, else at the next start",
          { jobId },
        );
    }
  }
}
