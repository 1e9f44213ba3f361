import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { rowsOf } from "./database";
import { JobStore } from "./job-store";
import { params, runsAutovacuum, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("refreshStatistics on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  /**
   * Submits `count` jobs on one connection, which then reports its counts of changes to the statistics views at
   * once: PostgreSQL's connections otherwise report them within a second if busy, after ten if idle.
   */
  const submit = (count: number, from = 0) =>
    test().database.db.transaction(async (tx) => {
      await new JobStore({ db: tx }, true).submitNewJobs(
        Array.from({ length: count }, (_, i) => ({ prompt: `grown ${from + i}`, params })),
      );
      await tx.execute(sql`select pg_stat_force_next_flush()`);
    });

  /** What the planner believes `jobs` holds, and how many times it was analyzed. */
  const planned = async () => {
    const [row] = rowsOf(
      await test().database.db.execute(sql`
        select c.reltuples as rows, s.analyze_count as analyzed
        from pg_class c join pg_stat_user_tables s on s.relid = c.oid
        where c.relname = 'jobs'`),
    );
    return { rows: Number(row?.["rows"]), analyzed: Number(row?.["analyzed"]) };
  };

  /**
   * What `refreshStatistics` analyzes, asked until `done` holds: PostgreSQL's connections report their counts of
   * changes within a second or so, PGlite's one connection at once.
   */
  const refreshedUntil = async (done: (tables: string[]) => boolean): Promise<string[]> => {
    let tables: string[] = [];
    await vi.waitFor(
      async () => {
        tables = [...tables, ...(await store().refreshStatistics())];
        expect(done(tables)).toBe(true);
      },
      { timeout: 15_000, interval: 200 },
    );
    return tables;
  };

  it("analyzes each table that doubled since it was last analyzed where no autovacuum runs, else nothing", async () => {
    // Whatever earlier tests left unanalyzed.
    await store().refreshStatistics();
    await submit(300);

    if (await runsAutovacuum(test().database)) {
      expect(await store().refreshStatistics()).toEqual([]);
      expect(await store().reclaimSpace()).toBe(false);
      return;
    }
    // A job is a conversation, two messages, the job and its first event.
    const analyzed = await refreshedUntil((tables) => tables.includes("jobs"));
    expect(analyzed).toEqual(expect.arrayContaining(["conversations", "job_events", "jobs", "messages"]));
    const after = await planned();
    expect(after.rows).toBe(300);
    // Nothing changed since: nothing to do. A tenth more is not a doubling: PGlite's ANALYZE holds its one
    // connection, so it is not run that often.
    expect(await store().refreshStatistics()).not.toContain("jobs");
    await submit(30, 300);
    expect(await store().refreshStatistics()).not.toContain("jobs");
    await submit(330, 330);
    await refreshedUntil((tables) => tables.includes("jobs"));
    expect((await planned()).rows).toBe(660);
    // Counted by the connection that analyzed, which reports it within a second if busy, ten if idle.
    await vi.waitFor(async () => expect((await planned()).analyzed).toBe(after.analyzed + 1), {
      timeout: 15_000,
      interval: 200,
    });
  });
});

// A database of its own: the plans this is about are made once per connection, at the first submission.
describe.each(testDrivers(process.env.TEST_DATABASE_URL).filter((driver) => driver.kind === "pglite"))(
  "plans on $kind",
  (driver) => {
    const { store, test } = useTestDatabase(driver);
    const submit = (count: number, from = 0) =>
      store().submitNewJobs(Array.from({ length: count }, (_, i) => ({ prompt: `grown ${from + i}`, params })));

    it("after it, a submission reads no table whole, where the plans made on the empty tables read every row", async () => {
      /** Rows read by scanning tables whole so far, every table's together. */
      const readWhole = async () => {
        await test().database.db.execute(sql`select pg_stat_force_next_flush()`);
        const [row] = rowsOf(
          await test().database.db.execute(sql`select sum(seq_tup_read) as rows from pg_stat_user_tables`),
        );
        return Number(row?.["rows"]);
      };
      const readBy = async (work: () => Promise<unknown>) => {
        const before = await readWhole();
        await work();
        return (await readWhole()) - before;
      };
      // As a server starts (EventRetention's first pass): the empty tables vacuumed, so that the planner trusts
      // that they are empty, rather than guess that a table never looked at may hold ten pages.
      await store().reclaimSpace();
      // In batches, as the service stores them: after a few, each plan is kept as it was made, on tables with a
      // handful of rows. Enough of them that the planner reads a row by its index rather than the table whole (a
      // few pages are cheaper to read whole).
      for (let batch = 0; batch < 40; batch++) await submit(16, batch * 16);

      const stale = await readBy(() => submit(1, 640));
      await store().refreshStatistics();
      const fresh = await readBy(() => submit(1, 641));

      expect(stale).toBeGreaterThanOrEqual(600);
      expect(fresh).toBeLessThan(20);
    });
  },
);
