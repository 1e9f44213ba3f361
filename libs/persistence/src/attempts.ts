import { and, eq } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { jobs } from "./schema";
import { isUuid } from "./sql-guards";

/**
 * Takes back attempt `attempt` of a processing job that a shutdown stopped (no fault did): the next start runs
 * it as that same attempt, so shutdowns never use up a job's attempts. Conditional on the count, so a repeat
 * takes back one attempt only; false when the job is not processing at that attempt.
 */
export async function refundAttempt(db: AnvilDb, jobId: string, attempt: number): Promise<boolean> {
  if (!isUuid(jobId) || attempt < 1) return false;
  const rows = await db
    .update(jobs)
    .set({ attempts: attempt - 1 })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing"), eq(jobs.attempts, attempt)))
    .returning({ id: jobs.id });
  return rows.length > 0;
}
