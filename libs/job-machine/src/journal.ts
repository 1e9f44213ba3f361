import { Duration, Effect, Schedule } from "effect";
import type { JobTransition } from "./scheduler.machine";

/** One thing the journal writes down: a status change, or the latest progress of a running job. */
export type JournalEntry =
  ({ kind: "transition" } & JobTransition) | { kind: "progress"; jobId: string; progress: number };

/** The journal's collaborators: the database write and the broadcast that must follow it. */
export interface JournalOptions<P> {
  /** Persists entries in one go, in order; returns one result per entry. Must be safe to retry. */
  persist: (entries: readonly JournalEntry[]) => Promise<readonly P[]>;
  /** Publishes an entry once it is persisted. */
  publish: (entry: JournalEntry, persisted: P) => void;
  /** Called when publishing a persisted entry throws (the lane goes on). */
  onPublishError?: (error: unknown, entry: JournalEntry) => void;
  /** Called when a persist attempt fails and will be retried. */
  onRetry?: (error: unknown, attempt: number) => void;
  /** Upper bound of entries per persist call; default 256. */
  batchSize?: number;
}

/** Exponential backoff from 50 ms, capped at 5 s between attempts, for as long as it takes. */
const retrySchedule = Schedule.min([
  Schedule.exponential(Duration.millis(50), 2),
  Schedule.spaced(Duration.seconds(5)),
]);

/**
 * Persist, then publish: entries are written strictly in the order they were recorded, each is
 * published only after its write committed, and a failed write is retried with backoff until the
 * database answers again (the writes are conditional, so a retry never applies one twice).
 * Progress entries of the same job are coalesced while they wait: only the latest value is written.
 */
type Pending = { entry: JournalEntry; done: () => void } | { task: () => Promise<void> };

export class Journal<P> {
  private pending: Pending[] = [];
  private failures = 0;
  private readonly lastOfJob = new Map<string, Promise<void>>();
  private running: Promise<void> | null = null;
  private progressAt = Date.now();

  constructor(private readonly options: JournalOptions<P>) {}

  /** Queues an entry; the promise settles once it is persisted and published. */
  record(entry: JournalEntry): Promise<void> {
    if (entry.kind === "progress") {
      const waiting = this.pending.find(
        (p): p is Extract<Pending, { entry: JournalEntry }> =>
          "entry" in p && p.entry.kind === "progress" && p.entry.jobId === entry.jobId,
      );
      if (waiting) {
        waiting.entry = entry;
        return this.lastOfJob.get(entry.jobId) ?? Promise.resolve();
      }
    }
    const settled = new Promise<void>((done) => this.pending.push({ entry, done }));
    this.lastOfJob.set(entry.jobId, settled);
    void settled.then(() => {
      if (this.lastOfJob.get(entry.jobId) === settled) this.lastOfJob.delete(entry.jobId);
    });
    this.kick();
    return settled;
  }

  /**
   * Runs `task` in the journal's lane: after everything recorded before it has been persisted and published,
   * and before anything recorded after it. A task is not retried; its failure is the caller's.
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ task: () => task().then(resolve, reject) });
      this.kick();
    });
  }

  /**
   * When the lane last moved: a write or task finished, or it started work after being idle. A lane that has
   * not moved for a while is stuck behind a database that does not answer; one that moves is merely busy.
   */
  get lastProgressAt(): number {
    return this.running ? this.progressAt : Date.now();
  }

  /** True while the latest write failed and is being retried (e.g. the database is unreachable). */
  get failing(): boolean {
    return this.failures > 0;
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Settles once every entry recorded so far for `jobId` is persisted and published. */
  settled(jobId: string): Promise<void> {
    return this.lastOfJob.get(jobId) ?? Promise.resolve();
  }

  /** Settles once everything recorded so far is persisted and published. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 256;
    this.progressAt = Date.now();
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if ("task" in head) {
        this.pending.shift();
        await head.task();
        this.progressAt = Date.now();
        continue;
      }
      const end = this.pending.findIndex((p, i) => i >= batchSize || "task" in p);
      const batch = this.pending.splice(0, end === -1 ? this.pending.length : end) as Extract<
        Pending,
        { entry: JournalEntry }
      >[];
      const entries = batch.map((p) => p.entry);
      const results = await Effect.runPromise(
        Effect.tryPromise(() => this.options.persist(entries)).pipe(
          Effect.tapError((error) => Effect.sync(() => this.options.onRetry?.(error.cause, ++this.failures))),
          Effect.retry(retrySchedule),
        ),
      );
      this.failures = 0;
      this.progressAt = Date.now();
      batch.forEach(({ entry, done }, i) => {
        try {
          this.options.publish(entry, results[i] as P);
        } catch (error) {
          // The entry is persisted; a failed broadcast must not stall the lane or leave its waiters hanging.
          this.options.onPublishError?.(error, entry);
        } finally {
          done();
        }
      });
    }
  }
}
