import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "./database";
import { params, runsAutovacuum, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

/** How many events each round writes: enough pages that a table which reuses none doubles in size. */
const EVENTS = 5_000;

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("reclaimSpace on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);

  /** Appends `EVENTS` status events of one job, as the journal writes them, in one statement. */
  const appendEvents = async (jobId: string, conversationId: string) => {
    await test().database.db.execute(sql`
      insert into job_events (job_id, conversation_id, status, job)
      select ${jobId}::uuid, ${conversationId}::uuid, 'queued',
             jsonb_build_object('id', ${jobId}::text, 'prompt', repeat('a lantern at dusk ', 16), 'n', g)
      from generate_series(1, ${EVENTS}) g`);
  };
  const eventsBytes = async () =>
    Number(
      rowsOf(await test().database.db.execute(sql`select pg_total_relation_size('job_events') as bytes`))[0]?.["bytes"],
    );

  it("vacuums where no autovacuum runs (PGlite; PostgreSQL with it off), so that pruned events leave room for new ones instead of growing the files", async () => {
    const { job } = await store().submitJob({ prompt: "kept short", params });
    await appendEvents(job.id, job.conversationId);
    const written = await eventsBytes();
    const latest = await store().latestEventId();
    // Every event but the latest goes, as a retention pass that found them all too old prunes them.
    expect(await store().pruneEvents(latest!)).toBe(EVENTS);

    const vacuumed = await store().reclaimSpace();

    expect(vacuumed).toBe(!(await runsAutovacuum(test().database)));
    if (!vacuumed) return;
    await appendEvents(job.id, job.conversationId);
    // The same number of events again fits in the pages the pruned ones left: without the vacuum, PGlite (which
    // has no autovacuum) appends them after those pages and the table doubles.
    expect(await eventsBytes()).toBeLessThan(written * 1.3);
  });
});
