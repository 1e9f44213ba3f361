import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { isDatabaseUnreachable, postgresClient } from "./postgres-client";
import { createScratchDatabase } from "./scratch-database";

const postgresUrl = process.env.TEST_DATABASE_URL;

// The connections under test carry this name, so that the terminator kills them and nothing else (in a shared
// TEST_DATABASE_URL that a scratch database took over, the lock holder of scratch-database.ts is there too).
const VICTIM = "anvil_terminated_connections";
const ROUNDS = 15;
const WORKERS = 12;
// Far beyond anything a query needs here: only a query that never settles reaches it.
const SETTLE_WITHIN_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How `operation` ended: its error, `"hung"` when it did not settle in time, or null when it succeeded. */
async function outcome(operation: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), SETTLE_WITHIN_MS)));
  try {
    return await Promise.race([operation.then(() => null), hung]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
}

/** The URL with `application_name` set, which postgres.js sends as a connection parameter. */
const named = (url: string, name: string): string => {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", name);
  return parsed.toString();
};

describe.runIf(postgresUrl)("postgresClient when PostgreSQL terminates its connections under load", () => {
  // postgres.js 3.4.9 ends the process here (a write flushed after its socket closed throws from a setImmediate; a
  // failed type fetch is an unhandled rejection), and leaves queries hanging (a stale write timer never flushes
  // again; a transaction's ROLLBACK lands on the reconnected session and shifts every reply after it by one).
  // patches/postgres+3.4.9.patch fixes them; see the README.
  it("neither crashes the process nor leaves a query hanging, and answers again afterwards", async () => {
    const scratch = await createScratchDatabase(postgresUrl!, { prefix: "anvil_test", takeOverWhenNotPermitted: true });
    // Either would end a server process: Node exits on an uncaught exception and on an unhandled rejection.
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    const sql = postgresClient(named(scratch.url, VICTIM), 4);
    const killer = postgres(scratch.url, { max: 1, onnotice: () => {} });
    try {
      const outcomes: unknown[] = [];
      let stop = false;
      // More workers than connections, so that queries also wait in the pool for a connection that dies.
      const worker = async (n: number) => {
        for (let i = 0; !stop; i++) {
          outcomes.push(
            await outcome(
              i % 2 === 0
                ? sql.begin(async (tx) => {
                    await tx`select pg_backend_pid()`;
                    await tx`select ${n}::int + ${i}::int as sum, pg_sleep(0.002)`;
                  })
                : sql`select ${n}::int as worker, ${i}::int as iteration`,
            ),
          );
        }
      };
      const workers = Array.from({ length: WORKERS }, (_, n) => worker(n));
      let killed: number[] = [];
      let terminated = 0;
      for (let round = 0; round < ROUNDS && uncaught.length === 0; round++) {
        // Each round lands on connections that have reconnected and carry work again.
        const before = outcomes.length;
        while (outcomes.length < before + WORKERS && uncaught.length === 0) await sleep(5);
        killed = (
          await killer<{ pid: number }[]>`
            select pid, pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and application_name = ${VICTIM}`
        ).map((row) => row.pid);
        terminated += killed.length;
      }
      stop = true;
      await Promise.all(workers);

      expect(uncaught).toEqual([]);
      expect(terminated).toBeGreaterThan(0);
      expect(outcomes.filter((result) => result === "hung")).toEqual([]);
      const failures = outcomes.filter((result) => result !== null);
      // Failed ones failed as "the database went away", which callers retry.
      expect(failures.filter((error) => !isDatabaseUnreachable(error))).toEqual([]);
      // The last round's backends are gone (pg_terminate_backend only signals them): nothing is dying any more.
      while ((await killer`select 1 from pg_stat_activity where pid in ${killer(killed.length ? killed : [0])}`).length)
        await sleep(5);
      // Every connection of the pool (and more queries than it has) works again.
      const after = await Promise.all(
        Array.from({ length: 3 * WORKERS }, (_, i) => outcome(sql.begin((tx) => tx`select ${i}::int as i`))),
      );
      expect(after).toEqual(after.map(() => null));
    } finally {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUncaught);
      await sql.end({ timeout: 5 });
      await killer.end({ timeout: 5 });
      await scratch.drop();
    }
  }, 60_000);
});
