import { defaultRuntime } from "@anvil/job-machine";
import type { EffectRuntime } from "@anvil/job-machine";
import { databaseErrorText } from "@anvil/persistence";
import type { JobStore } from "@anvil/persistence";
import { BackgroundPass } from "./background-pass";
import { FailureSpell } from "./log-hook";
import type { LogHook } from "./log-hook";

/** How often the embedded database's tables are looked at by default: autovacuum's own pace is a minute. */
export const DEFAULT_STATISTICS_INTERVAL_MS = 5_000;

/** How the planner statistics are kept up where no autovacuum does. */
export interface StatisticsUpkeepOptions {
  /** Time between two looks at the tables (default {@link DEFAULT_STATISTICS_INTERVAL_MS}). */
  intervalMs?: number | undefined;
  log?: LogHook | undefined;
  /** Where it runs (default the shared `defaultRuntime`). */
  runtime?: EffectRuntime | undefined;
}

/**
 * Keeps the planner statistics up as the tables grow where no autovacuum does: the embedded database, which has
 * none, or a PostgreSQL server with it turned off (see `JobStore.refreshStatistics`; the space of deleted rows is
 * `EventRetention`'s). At start and then every `intervalMs`, in the background; where autovacuum runs, each look
 * asks PostgreSQL's setting and does nothing more. A look costs about a
 * millisecond; the ANALYZE of a table that doubled, a few milliseconds to a few hundred (at 40,000 jobs).
 */
export class StatisticsUpkeep {
  private readonly background: BackgroundPass;

  constructor(store: JobStore, options: StatisticsUpkeepOptions = {}) {
    const { intervalMs, log } = options;
    // A database that is away fails every look: said once, and once when a look goes through again.
    const failures = new FailureSpell(log, "planner statistics are looked after again");
    const look = async () => {
      try {
        const tables = await store.refreshStatistics();
        failures.succeeded();
        if (tables.length > 0) log?.("planner statistics refreshed", { tables }, "debug");
      } catch (error) {
        // A failed look is tried again at the next one.
        failures.failed("refreshing planner statistics failed", { error: databaseErrorText(error) });
      }
    };
    const every = intervalMs ?? DEFAULT_STATISTICS_INTERVAL_MS;
    this.background = new BackgroundPass(options.runtime ?? defaultRuntime, every, look);
  }

  start(): void {
    this.background.start();
  }

  /** Stops; an ANALYZE under way finishes first. */
  stop(): Promise<void> {
    return this.background.stop();
  }
}
