import { sql } from "drizzle-orm";
import { rowsOf } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { EventRetention } from "./event-retention";
import { useTestStore } from "./testing/test-store";

const MINUTE_MS = 60_000;

describe("EventRetention on the embedded database", () => {
  const { database, store } = useTestStore();

  /** How many times the event log's table was vacuumed, as PGlite's statistics count it. */
  const vacuums = async () =>
    Number(
      rowsOf(
        await database().db.execute(sql`select vacuum_count from pg_stat_user_tables where relname = 'job_events'`),
      )[0]?.["vacuum_count"],
    );

  it("vacuums at its first pass and then once an hour at most, so that deleted rows leave room for new ones", async () => {
    let now = Date.parse("2026-12-05T10:00:00Z");
    const retention = new EventRetention(store(), { retentionMs: MINUTE_MS, now: () => now });
    const before = await vacuums();

    await retention.pruneNow();
    expect(await vacuums()).toBe(before + 1);

    // Prunes every few minutes (a short retention) do not vacuum each time: the first pass did, 59 minutes ago.
    now += 59 * MINUTE_MS;
    await retention.pruneNow();
    expect(await vacuums()).toBe(before + 1);

    now += MINUTE_MS;
    await retention.pruneNow();
    expect(await vacuums()).toBe(before + 2);
    expect(retention.completedPasses).toBe(3);
  });
});
