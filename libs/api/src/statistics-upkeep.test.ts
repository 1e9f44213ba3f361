import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { makeForgeClient } from "@anvil/forge-client";
import { rowsOf } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { EventHub } from "./event-hub";
import { JobService } from "./job-service";
import { useTestStore } from "./testing/test-store";

describe("the job service on the embedded database", () => {
  const { database, store } = useTestStore();

  /** How many times `jobs` was analyzed, and what the planner believes it holds. */
  const planned = async () => {
    await database().db.execute(sql`select pg_stat_force_next_flush()`);
    const [row] = rowsOf(
      await database().db.execute(sql`
        select s.analyze_count as analyzed, c.reltuples as rows
        from pg_stat_user_tables s join pg_class c on c.oid = s.relid
        where s.relname = 'jobs'`),
    );
    return { analyzed: Number(row?.["analyzed"]), rows: Number(row?.["rows"]) };
  };

  it("analyzes the tables as they grow, as PostgreSQL's autovacuum would (PGlite has none)", async () => {
    const service = await JobService.start({
      store: store(),
      events: new EventHub(),
      // No backend answers: the jobs stay queued.
      backends: [makeForgeClient({ baseUrl: "http://127.0.0.1:9", connectRetries: 0 })],
      jobTimeoutMs: 60_000,
      maxQueuedPerUser: 0,
      images: { write: async () => {}, read: async () => null, remove: async () => {} },
      statisticsIntervalMs: 20,
    });
    try {
      const before = await planned();
      for (let i = 0; i < 120; i++) await service.submit({ prompt: `grows ${i}`, ...DEFAULT_JOB_PARAMS });

      // The first look after the 51st job analyzes the table (it held none).
      await vi.waitFor(async () => expect((await planned()).rows).toBeGreaterThan(50), { timeout: 5_000 });
      expect((await planned()).analyzed).toBeGreaterThan(before.analyzed);
    } finally {
      await service.stop();
    }
  });
});
