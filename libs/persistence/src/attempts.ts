import { and, eq } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { jobs } from "./schema";
import { isUuid } from "./sql-guards";

/**
 * Counts attempt `attempt` of a processing job that a shutdown stopped (no fault did) as spared: it still counts as a
 * run (the next start runs the job as its next attempt), but not toward the job's three attempts, so shutdowns never
 * use them up. `spared` is the count the caller read with the job: a repeat (the count moved on) spares nothing more.
 * False when the job is not processing at that attempt with that count.
 */
export async function spareAttempt(db: AnvilDb, jobId: string, attempt: number, spared: number): Promise<boolean> {
  if (!isUuid(jobId) || attempt < 1 || spared >= attempt) return false;
  const rows = await db
    .update(jobs)
    .set({ sparedAttempts: spared + 1 })
    .where(
      and(
        eq(jobs.id, jobId),
        eq(jobs.status, "processing"),
        eq(jobs.attempts, attempt),
        eq(jobs.sparedAttempts, spared),
      ),
    )
    .returning({ id: jobs.id });
  return rows.length > 0;
}
