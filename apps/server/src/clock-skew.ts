import type { AnvilDatabase } from "@anvil/persistence";
import { rowsOf } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import type { LogHook } from "@anvil/api";

/** How far this server's clock may be from the database's before it is said. */
export const CLOCK_SKEW_WARN_MS = 1_000;

/**
 * How far this server's clock is ahead of the database's (negative: behind), in ms, to within half a round trip:
 * the database's time is taken as read halfway between the question and the answer.
 */
export async function clockSkewMs(database: AnvilDatabase, now: () => number = Date.now): Promise<number> {
  const asked = now();
  const [row] = rowsOf(
    await database.db.execute(sql`select (extract(epoch from clock_timestamp()) * 1000)::float8 as now`),
  );
  const answered = now();
  return (asked + answered) / 2 - Number(row?.["now"]);
}

/**
 * Warns when this server's clock is more than {@link CLOCK_SKEW_WARN_MS} from PostgreSQL's: a job's `createdAt` is
 * the database's time, and its `startedAt`, `finishedAt` and estimates the leader's, so they would disagree (a job
 * seen to start before it was made, estimates in the past). Nothing is said if the database cannot be asked.
 */
export async function warnOfClockSkew(
  database: AnvilDatabase,
  log: LogHook,
  now: () => number = Date.now,
): Promise<void> {
  const skew = await clockSkewMs(database, now).catch(() => null);
  if (skew === null || Math.abs(skew) <= CLOCK_SKEW_WARN_MS) return;
  const seconds = Math.abs(skew / 1000).toFixed(1);
  log(
    `this server's clock is ${seconds} s ${skew > 0 ? "ahead of" : "behind"} PostgreSQL's: a job's times will disagree (createdAt is the database's, startedAt and finishedAt this server's); keep the machines' clocks in sync (NTP)`,
    { skewMs: Math.round(skew) },
    "warn",
  );
}
