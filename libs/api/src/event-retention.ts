import { defaultRuntime } from "@anvil/job-machine";
import type { EffectRuntime } from "@anvil/job-machine";
import { databaseErrorText } from "@anvil/persistence";
import type { JobStore } from "@anvil/persistence";
import { BackgroundPass } from "./background-pass";
import type { LogHook } from "./log-hook";

/** How long the job event log keeps a status change by default: seven days. */
export const DEFAULT_EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

const HOUR_MS = 60 * 60 * 1000;

/** How the event log is pruned. */
export interface EventRetentionOptions {
  /** Events younger than this are never pruned. */
  retentionMs: number;
  /** Time between two prunes; default the retention, at most an hour. */
  intervalMs?: number | undefined;
  log?: LogHook | undefined;
  /** Where the pruning runs (default the shared `defaultRuntime`). */
  runtime?: EffectRuntime | undefined;
  /** The clock that spaces the vacuums where no autovacuum runs (default `Date.now`). */
  now?: (() => number) | undefined;
}

/**
 * The retention policy of the job event log, the history `jobs.events` replays after `lastEventId`.
 *
 * At start and then every `intervalMs`, the events older than `retentionMs` are deleted, oldest first, and the
 * latest event is always kept. So a client that was away for less than `retentionMs` gets every status change it
 * missed; event ids keep increasing across restarts; and a client whose `lastEventId` is older than the kept
 * history gets PRECONDITION_FAILED telling it to reload (job-stream.ts), never a silent gap.
 */
export class EventRetention {
  private readonly background: BackgroundPass;
  private passes = 0;
  /** When the last pass reclaimed the space of deleted rows; null before the first. */
  private reclaimedAt: number | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly options: EventRetentionOptions,
  ) {
    const { retentionMs, intervalMs, log } = options;
    const pass = async () => {
      try {
        const pruned = await this.pruneNow();
        if (pruned > 0) log?.("job events pruned", { pruned, retentionMs });
      } catch (error) {
        // A database that is down now is tried again at the next pass.
        log?.("pruning job events failed", { error: databaseErrorText(error) }, "warn");
      }
    };
    const every = intervalMs ?? Math.min(retentionMs, HOUR_MS);
    this.background = new BackgroundPass(options.runtime ?? defaultRuntime, every, pass);
  }

  /** Prunes now and then every interval, in the background. */
  start(): void {
    this.background.start();
  }

  /** Stops pruning; a prune under way finishes first. */
  stop(): Promise<void> {
    return this.background.stop();
  }

  /**
   * Prunes once; resolves to how many events went. At the first pass and then once an hour at most, a database
   * without autovacuum (the embedded one; PostgreSQL with it off) is vacuumed too, so that what was deleted since
   * (by the prune, or with conversations) leaves room for new rows instead of growing its files (see
   * `JobStore.reclaimSpace`).
   */
  async pruneNow(): Promise<number> {
    const pruned = await this.store.pruneEventsOlderThan(this.options.retentionMs);
    const now = (this.options.now ?? Date.now)();
    if (this.reclaimedAt === null || now - this.reclaimedAt >= HOUR_MS) {
      await this.store.reclaimSpace();
      this.reclaimedAt = now;
    }
    this.passes++;
    return pruned;
  }

  /** How many prunes have completed since start. */
  get completedPasses(): number {
    return this.passes;
  }
}
