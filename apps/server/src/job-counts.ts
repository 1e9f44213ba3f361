import { JOB_STATUSES } from "@anvil/job-machine";
import { rowsOf } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import type { JobCounts } from "./metrics";

/**
 * How many jobs the database holds in each status, to start the `anvil_jobs` gauge from.
 * (A `JobStore` method would be its natural home; until libs/persistence has one, this one query lives here.)
 */
export async function countJobsByStatus(database: AnvilDatabase): Promise<JobCounts> {
  const result: unknown = await database.db.execute(sql`select status, count(*)::int as n from jobs group by status`);
  const rows = rowsOf(result) as { status: string; n: number }[];
  const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as JobCounts;
  for (const { status, n } of rows) {
    if (status in counts) counts[status as keyof JobCounts] = Number(n);
  }
  return counts;
}
