import { Data, Duration, Effect, Result, Schedule } from "effect";
import { defaultRuntime } from "./effect-runtime";
import type { EffectRuntime } from "./effect-runtime";
import type { PlaceChange } from "./fair-line";
import type { Clock } from "./job";
import type { JobTransition } from "./scheduler.machine";

/**
 * One thing the journal writes down: a status change, the latest progress of a running job, or (`fifo`) the places
 * waiting jobs bring after `jobId` moved (see `PlaceChange`).
 */
export type JournalEntry =
  | ({ kind: "transition" } & JobTransition)
  | { kind: "progress"; jobId: string; progress: number }
  | { kind: "places"; jobId: string; places: PlaceChange[] };

/** A write failed because the database could not be reached or went away: the same write may succeed later. */
export class DatabaseUnreachable extends Data.TaggedError("DatabaseUnreachable")<{ cause: unknown }> {}

/** The database refused a write (a value it cannot store, a constraint): the same write would fail again. */
export class WriteRejected extends Data.TaggedError("WriteRejected")<{ cause: unknown }> {}

/** The lane was abandoned (its writer's term is over) before a task queued in it could run: the task never ran. */
export class LaneAbandoned extends Data.TaggedError("LaneAbandoned")<{ message: string }> {}

/** Why a journal write failed. */
export type JournalWriteError = DatabaseUnreachable | WriteRejected;

/** What a job whose transition the database refused ends with (no SQL, no server detail: users read it). */
export const UNSTORABLE_RESULT_MESSAGE =
  "The result of this job could not be saved (the database refused it), so the job was ended";

/** The journal's collaborators: the database write and the broadcast that must follow it. */
export interface JournalOptions<P> {
  /** Persists entries in one go, in order, all or nothing; returns one result per entry. Must be safe to retry. */
  persist: (entries: readonly JournalEntry[]) => Promise<readonly P[]>;
  /** Publishes an entry once it is persisted. */
  publish: (entry: JournalEntry, persisted: P) => void;
  /**
   * True when a failed persist may succeed if tried again (the database is unreachable), false when the write
   * itself is wrong. Default: every failure counts as the database being unreachable and is retried.
   */
  isUnreachable?: (error: unknown) => boolean;
  /** Called when publishing a persisted entry throws (the lane goes on). */
  onPublishError?: (error: unknown, entry: JournalEntry) => void;
  /** Called when a persist attempt fails and will be retried. */
  onRetry?: (error: DatabaseUnreachable, attempt: number) => void;
  /** Called once the lane is abandoned (see {@link Journal.abandon}): nothing it held will be written. */
  onAbandon?: () => void;
  /**
   * Called for an entry the database refused: a transition is replaced by its job's failure (written and
   * published in its place), a progress value is dropped. The lane goes on either way.
   */
  onRejected?: (error: WriteRejected, entry: JournalEntry) => void;
  /** Upper bound of entries per persist call; default 256. */
  batchSize?: number;
  /**
   * How long progress may wait in the lane (default 0: written at once, in its order). Status changes and tasks go
   * ahead of waiting progress, so it never holds up the next job's start; once its delay is over, all waiting
   * progress is written in one batch. A waiting value is dropped when its job completes or goes back to the line,
   * which set the progress themselves.
   */
  progressDelayMs?: number;
  /** The clock of a refused job's end (default `Date.now`). */
  now?: Clock;
  /**
   * The clock of `lastProgressAt` (default `performance.now`): monotonic, since a wall clock set back (NTP) made a lane
   * stuck behind a hung write look as if it had just moved, for as long as the step.
   */
  elapsed?: Clock;
  /** Where the retrying writes run (default {@link defaultRuntime}). */
  runtime?: EffectRuntime;
}

/** Exponential backoff from 50 ms, capped at 5 s between attempts, for as long as it takes. */
const retrySchedule = Schedule.min([
  Schedule.exponential(Duration.millis(50), 2),
  Schedule.spaced(Duration.seconds(5)),
]);

const laneAbandoned = () =>
  new LaneAbandoned({ message: "the journal's lane was abandoned (its writer's term is over) before the task ran" });

/** Status changes that set the job's progress themselves (100, or 0 for the next attempt): waiting progress is moot. */
const SETS_PROGRESS: ReadonlySet<string> = new Set(["complete", "queued"]);

type Pending =
  { entry: JournalEntry; done: () => void } | { task: () => Promise<void>; drop: (error: LaneAbandoned) => void };
type PendingEntry = Extract<Pending, { entry: JournalEntry }>;

/** The entry that fails `entry`'s job in its place when the database refused `entry`; null for progress. */
const failureOf = (entry: JournalEntry, now: Clock): JournalEntry | null =>
  entry.kind === "transition"
    ? {
        ...entry,
        to: "error",
        job: {
          ...entry.job,
          status: "error",
          result: null,
          error: UNSTORABLE_RESULT_MESSAGE,
          finishedAt: entry.job.finishedAt ?? now(),
        },
      }
    : null;

/**
 * Persist, then publish: status changes are written strictly in the order they were recorded, each is
 * published only after its write committed; progress may wait behind them (see
 * {@link JournalOptions.progressDelayMs}). A write that fails because the database is unreachable is
 * retried with backoff until it answers again (the writes are conditional, so a retry never applies one
 * twice); a write the database refuses is not retried: the batch is re-applied entry by entry, and only
 * the entry it refuses fails, with its job (see {@link JournalOptions.onRejected}); the lane goes on.
 * Progress entries of the same job are coalesced while they wait: only the latest value is written.
 */

export class Journal<P> {
  private pending: Pending[] = [];
  private failures = 0;
  private readonly lastOfJob = new Map<string, Promise<void>>();
  private running: Promise<void> | null = null;
  private progressAt: number;
  private lastFailure: unknown;
  private abandoned = false;
  private readonly now: Clock;
  private readonly elapsed: Clock;
  private readonly runtime: EffectRuntime;
  /** Waiting progress is due (its delay passed, or a flush asked): the lane writes it next. */
  private progressDue = false;
  private progressTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: JournalOptions<P>) {
    this.now = options.now ?? Date.now;
    this.elapsed = options.elapsed ?? (() => performance.now());
    this.runtime = options.runtime ?? defaultRuntime;
    this.progressAt = this.elapsed();
  }

  /** Queues an entry; the promise settles once it is persisted and published. */
  record(entry: JournalEntry): Promise<void> {
    const superseded =
      entry.kind === "transition" && SETS_PROGRESS.has(entry.to) ? this.takeProgress(entry.jobId) : null;
    if (entry.kind === "progress") {
      const waiting = this.pending[this.progressIndex(entry.jobId)] as PendingEntry | undefined;
      if (waiting) {
        waiting.entry = entry;
        return this.lastOfJob.get(entry.jobId) ?? Promise.resolve();
      }
    }
    const settled = new Promise<void>((done) => this.pending.push({ entry, done }));
    this.lastOfJob.set(entry.jobId, settled);
    void settled.then(() => {
      if (this.lastOfJob.get(entry.jobId) === settled) this.lastOfJob.delete(entry.jobId);
      superseded?.done();
    });
    this.kick();
    return settled;
  }

  /** Where `jobId`'s waiting progress entry is in the lane (-1 when none waits). */
  private progressIndex(jobId: string): number {
    return this.pending.findIndex((p) => "entry" in p && p.entry.kind === "progress" && p.entry.jobId === jobId);
  }

  /** Takes `jobId`'s waiting progress entry out of the lane (null when none waits). */
  private takeProgress(jobId: string): PendingEntry | null {
    const i = this.progressIndex(jobId);
    if (i === -1) return null;
    const [taken] = this.pending.splice(i, 1);
    if (!this.progressWaits()) this.progressWritten();
    return taken as PendingEntry;
  }

  /** Whether a progress entry waits in the lane. */
  private progressWaits(): boolean {
    return this.pending.some((p) => "entry" in p && p.entry.kind === "progress");
  }

  /** True while everything waiting is progress that may wait a little longer. */
  private deferring(): boolean {
    const delay = this.options.progressDelayMs ?? 0;
    if (delay <= 0 || this.progressDue || this.abandoned) return false;
    if (!this.pending.every((p) => "entry" in p && p.entry.kind === "progress")) return false;
    this.progressTimer ??= setTimeout(() => {
      this.progressTimer = null;
      if (!this.progressWaits()) return;
      this.progressDue = true;
      this.kick();
    }, delay);
    return true;
  }

  /**
   * Runs `task` in the journal's lane: after every status change recorded before it has been persisted and
   * published (progress that is not due yet may still wait), and before anything recorded after it. A task is not
   * retried; its failure is the caller's. In a lane that is {@link abandon}ed before the task's turn, the task never
   * runs and the promise rejects with {@link LaneAbandoned}.
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.abandoned) return reject(laneAbandoned());
      // A task that throws before its first await fails its caller, not the lane.
      this.pending.push({ task: () => Promise.resolve().then(task).then(resolve, reject), drop: reject });
      this.kick();
    });
  }

  /**
   * When the lane last moved (on the `elapsed` clock): a write or task finished, or it started work after being idle.
   * A lane that has not moved for a while is stuck behind a database that does not answer; one that moves is busy.
   */
  get lastProgressAt(): number {
    return this.running ? this.progressAt : this.elapsed();
  }

  /**
   * Whether work waits for the lane now: a task, a status change, or progress that is due (progress still within
   * its delay does not count). A running task that could go on (more submissions to store) ends instead.
   */
  get waiting(): boolean {
    if (this.progressDue && this.progressWaits()) return true;
    return this.pending.some((p) => !("entry" in p) || p.entry.kind !== "progress");
  }

  /** True while the latest write failed and is being retried (e.g. the database is unreachable). */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** What the latest write failed with while {@link failing}, to say why (a full disk is not an outage). */
  get failure(): unknown {
    return this.failures > 0 ? this.lastFailure : undefined;
  }

  private kick(): void {
    if (this.running || this.pending.length === 0 || this.deferring()) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      // An entry recorded after the loop found nothing left, but before this ran, saw a lane still running and
      // did not start one: without this it would wait for the next entry, which may never come.
      this.kick();
    });
  }

  /** Settles once every entry recorded so far for `jobId` is persisted and published. */
  settled(jobId: string): Promise<void> {
    return this.lastOfJob.get(jobId) ?? Promise.resolve();
  }

  /** Settles once everything recorded so far is persisted and published. */
  async flush(): Promise<void> {
    if (this.progressWaits()) this.progressDue = true;
    this.kick();
    while (this.running) await this.running;
  }

  /**
   * Gives up what is not written yet, and every retry: the writer may no longer write (its term as the cluster's
   * leader is over; the next leader reads the truth from the database). Pending entries settle unpublished; tasks
   * that have not run never do: their callers get {@link LaneAbandoned}, as does every later {@link run}.
   */
  abandon(): void {
    if (!this.abandoned) this.options.onAbandon?.();
    this.abandoned = true;
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
    for (const pending of this.pending.splice(0)) {
      if ("done" in pending) pending.done();
      else pending.drop(laneAbandoned());
    }
  }

  private async drain(): Promise<void> {
    this.progressAt = this.elapsed();
    while (this.pending.length > 0 && !this.deferring()) {
      const next = this.takeNext();
      if ("task" in next) {
        await next.task();
        this.progressAt = this.elapsed();
        continue;
      }
      const batch = next;
      const [first] = batch;
      if (first === undefined) break;
      const written = await this.write(batch.map((p) => p.entry));
      if (this.abandoned) {
        for (const pending of batch) pending.done();
        continue;
      }
      if (Result.isSuccess(written)) {
        batch.forEach((pending, i) => this.publish(pending, pending.entry, written.success[i] as P));
        continue;
      }
      if (batch.length === 1) {
        await this.reject(first, written.failure);
        continue;
      }
      // A batch is one transaction: the refused write took the others down with it. One at a time, the good
      // ones commit and only the refused one fails.
      for (const pending of batch) {
        const one = await this.write([pending.entry]);
        if (Result.isSuccess(one)) this.publish(pending, pending.entry, one.success[0] as P);
        else await this.reject(pending, one.failure);
      }
    }
  }

  /**
   * What the lane writes next: a task, or a batch of entries in the order recorded, up to the next task. Progress
   * that is not due yet stays behind: a status change or a task goes ahead of it (a job's own later status change
   * makes its waiting progress moot, or the row's guard drops it).
   */
  private takeNext(): PendingEntry[] | Extract<Pending, { task: unknown }> {
    const batchSize = this.options.batchSize ?? 256;
    const due = this.progressDue || (this.options.progressDelayMs ?? 0) <= 0;
    const batch: PendingEntry[] = [];
    const waiting: Pending[] = [];
    let taken = 0;
    for (const pending of this.pending) {
      if (batch.length === batchSize) break;
      if ("task" in pending) {
        if (batch.length > 0) break;
        this.pending = [...waiting, ...this.pending.slice(taken + 1)];
        return pending;
      }
      if (due || pending.entry.kind !== "progress") batch.push(pending);
      else waiting.push(pending);
      taken++;
    }
    this.pending = [...waiting, ...this.pending.slice(taken)];
    if (!this.progressWaits()) this.progressWritten();
    return batch;
  }

  /** No progress waits any more: the next one waits its delay again. */
  private progressWritten(): void {
    this.progressDue = false;
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
  }

  /** Persists `entries`, retrying while the database is unreachable; fails only when the write is refused. */
  private async write(entries: readonly JournalEntry[]): Promise<Result.Result<readonly P[], WriteRejected>> {
    const unreachable = this.options.isUnreachable ?? (() => true);
    const outcome = await this.runtime.runPromise(
      Effect.tryPromise({
        try: () => this.options.persist(entries),
        catch: (cause): JournalWriteError =>
          unreachable(cause) ? new DatabaseUnreachable({ cause }) : new WriteRejected({ cause }),
      }).pipe(
        Effect.tapError((error) =>
          error._tag === "DatabaseUnreachable"
            ? Effect.sync(() => {
                this.lastFailure = error.cause;
                this.options.onRetry?.(error, ++this.failures);
              })
            : Effect.void,
        ),
        Effect.retry({
          schedule: retrySchedule,
          while: (error) => error._tag === "DatabaseUnreachable" && !this.abandoned,
        }),
        Effect.result,
      ),
    );
    this.failures = 0;
    this.progressAt = this.elapsed();
    if (Result.isSuccess(outcome)) return Result.succeed(outcome.success);
    // The schedule retries an unreachable database for as long as it takes: only a refusal ends up here.
    const error = outcome.failure;
    return Result.fail(error._tag === "WriteRejected" ? error : new WriteRejected({ cause: error.cause }));
  }

  /** The database refused `pending`'s entry: its job fails in its place (or a progress value is dropped). */
  private async reject(pending: PendingEntry, error: WriteRejected): Promise<void> {
    this.options.onRejected?.(error, pending.entry);
    const failure = failureOf(pending.entry, this.now);
    if (failure === null) return pending.done();
    const written = await this.write([failure]);
    if (Result.isSuccess(written)) return this.publish(pending, failure, written.success[0] as P);
    // Not even the failure could be stored (the job's row itself is refused): nothing to publish.
    this.options.onRejected?.(written.failure, failure);
    pending.done();
  }

  private publish({ done }: PendingEntry, entry: JournalEntry, persisted: P): void {
    try {
      this.options.publish(entry, persisted);
    } catch (error) {
      // The entry is persisted; a failed broadcast must not stall the lane or leave its waiters hanging.
      this.options.onPublishError?.(error, entry);
    } finally {
      done();
    }
  }
}
