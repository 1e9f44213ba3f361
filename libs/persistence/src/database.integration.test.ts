import { readFileSync } from "node:fs";
import { count, sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { openDatabase, rowsOf } from "./database";
import type { AnvilDatabase } from "./database";
import { JobStore } from "./job-store";
import { must, params } from "./testing/fixtures";
import { createScratchDatabase } from "./scratch-database";
import { migrationsBefore, openPgliteFromTemplate, temporaryDir } from "./testing/test-databases";

const postgresUrl = process.env.TEST_DATABASE_URL;

/** How many migrations drizzle-kit generated (its journal lists each once). */
const MIGRATIONS = (
  JSON.parse(readFileSync(new URL("../drizzle/meta/_journal.json", import.meta.url), "utf8")) as { entries: unknown[] }
).entries.length;

const appliedMigrations = async (database: AnvilDatabase): Promise<number> => {
  const [row] = await database.db.select({ n: count() }).from(sql`drizzle.__drizzle_migrations`);
  return row?.n ?? 0;
};

describe("openDatabase on PGlite", () => {
  it("keeps a data dir's jobs and queue positions across close and reopen, migrating only once", async () => {
    const dir = await temporaryDir();
    try {
      const first = await openPgliteFromTemplate(dir.path);
      expect(first.kind).toBe("pglite");
      const before = new JobStore(first);
      const jobs = [];
      for (const prompt of ["a", "b", "c"]) jobs.push((await before.submitJob({ prompt, params })).job);
      await first.close();

      const reopened = await openDatabase({ dataDir: dir.path });
      const after = new JobStore(reopened);
      expect(await after.activeJobs()).toEqual(jobs);
      expect(await Promise.all(jobs.map((job) => after.queuePosition(job.id)))).toEqual([1, 2, 3]);
      expect(await appliedMigrations(reopened)).toBe(MIGRATIONS);
      await reopened.close();
    } finally {
      await dir.remove();
    }
    // Two starts of a PGlite on disk: slow on a busy CI machine.
  }, 60_000);
});

describe.runIf(postgresUrl)("openDatabase on PostgreSQL", () => {
  it("lets two openers migrate one fresh database at once, and a third finds nothing left to do", async () => {
    const scratch = await createScratchDatabase(must(postgresUrl), {
      prefix: "anvil_test",
      takeOverWhenNotPermitted: true,
    });
    const opened: AnvilDatabase[] = [];
    try {
      opened.push(...(await Promise.all([openDatabase({ url: scratch.url }), openDatabase({ url: scratch.url })])));
      const { job } = await new JobStore(must(opened[0])).submitJob({ prompt: "after migrating", params });
      opened.push(await openDatabase({ url: scratch.url }));
      expect(opened[2]?.kind).toBe("postgres");
      expect(await new JobStore(must(opened[2])).getJob(job.id)).toEqual(job);
      expect(await appliedMigrations(must(opened[2]))).toBe(MIGRATIONS);
    } finally {
      await Promise.all(opened.map((database) => database.close()));
      await scratch.drop();
    }
  });

  it("migrates while a server of the previous version writes, running again a migration that deadlocks with it", async () => {
    const scratch = await createScratchDatabase(must(postgresUrl), {
      prefix: "anvil_test",
      takeOverWhenNotPermitted: true,
    });
    const dir = await temporaryDir();
    const [writer, holder, watcher] = [0, 1, 2].map(() => postgres(scratch.url, { max: 1, onnotice: () => {} }));
    // Each wait is bounded well within the test's own limit, so that a lock never asked for fails the test naming
    // it, and the finally below still ends every connection and drops the scratch database.
    const waitsFor = async (relation: string, mode: string) => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        const rows = await must(watcher)`select 1 from pg_locks
          where not granted and relation = ${relation}::regclass and mode = ${mode}`;
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const locks = await must(watcher)`select relation::regclass::text, mode, granted from pg_locks
        where relation is not null and database = (select oid from pg_database where datname = current_database())`;
      throw new Error(`no one waited for ${mode} on ${relation} within 20 s; locks: ${JSON.stringify(locks)}`);
    };
    let release = () => {};
    let upgrade: Promise<AnvilDatabase> | undefined;
    try {
      await (
        await openDatabase({ url: scratch.url, migrationsFolder: await migrationsBefore("0011_", dir.path) })
      ).close();
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding = () => {};
      const holds = new Promise<void>((resolve) => (holding = resolve));
      // Holds the migration between 0011 (its triggers lock jobs) and 0012 (which asks for all of jobs).
      const held = must(holder).begin(async (tx) => {
        await tx`lock table webhook_deliveries in access share mode`;
        holding();
        await released;
      });
      // Taken before the upgrade starts: a migration that got to webhook_deliveries first held it itself, and the
      // holder waited behind it instead (a CI run failed so, with the holder's lock the one not granted).
      await Promise.race([holds, held]);
      // As anvil_submit_jobs does on a server of the previous version: it reads jobs, then writes them.
      const written = must(writer).begin(async (tx) => {
        await tx`select count(*) from jobs`;
        upgrade = openDatabase({ url: scratch.url });
        upgrade.catch(() => {});
        await waitsFor("webhook_deliveries", "AccessExclusiveLock");
        const write = tx`lock table jobs in row exclusive mode`.execute();
        await waitsFor("jobs", "RowExclusiveLock");
        release();
        await write;
      });
      await Promise.all([held, written]);
      expect(await appliedMigrations(await must(upgrade))).toBe(MIGRATIONS);
    } finally {
      // A wait that failed left the holder's transaction open: it ends, and so does the upgrade it held.
      release();
      await upgrade?.then(
        (upgraded) => upgraded.close(),
        () => {},
      );
      await Promise.all([writer, holder, watcher].map((client) => client?.end({ timeout: 1 })));
      await dir.remove();
      await scratch.drop();
    }
  });

  it("listens again once its listening connection is terminated (a failover, a pooler's restart)", async () => {
    const scratch = await createScratchDatabase(must(postgresUrl), {
      prefix: "anvil_test",
      takeOverWhenNotPermitted: true,
    });
    const database = await openDatabase({ url: scratch.url });
    try {
      let heard = 0;
      await database.listen("anvil_test_wake", () => heard++);
      await database.db.execute(sql`select pg_notify('anvil_test_wake', '')`);
      await expect.poll(() => heard).toBe(1);
      const listening = rowsOf(
        await database.db.execute(
          sql`select pg_terminate_backend(pid) as ended from pg_stat_activity
              where datname = current_database() and query ilike 'listen%'`,
        ),
      );
      expect(listening).toHaveLength(1);
      // What is sent before it listens again is missed (a hint, not the truth): sent until one is heard.
      await expect
        .poll(
          async () => {
            await database.db.execute(sql`select pg_notify('anvil_test_wake', '')`);
            return heard;
          },
          { timeout: 10_000 },
        )
        .toBeGreaterThan(1);
    } finally {
      await database.close();
      await scratch.drop();
    }
  });

  it("prepares every query with parameters, so that it costs one round trip (patches/drizzle-orm)", async () => {
    const scratch = await createScratchDatabase(must(postgresUrl), {
      prefix: "anvil_test",
      takeOverWhenNotPermitted: true,
    });
    const database = await openDatabase({ url: scratch.url });
    try {
      // One transaction: one connection, whose prepared statements the view lists.
      const listed = await database.db.transaction(async (tx) => {
        await tx.execute(sql`select ${"anvil"}::text as marker`);
        await tx.execute(sql`select ${"anvil"}::text as marker`);
        return tx.execute(sql`select statement from pg_prepared_statements where statement like ${"%as marker"}`);
      });
      expect(rowsOf(listed).map((row) => row["statement"])).toEqual(["select $1::text as marker"]);
    } finally {
      await database.close();
      await scratch.drop();
    }
  });
});
