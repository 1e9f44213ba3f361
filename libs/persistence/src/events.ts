import { and, asc, eq, gt, lt, max, min } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { toJobEvent } from "./records";
import type { JobEvent } from "./records";
import { jobEvents } from "./schema";
import { isUuid } from "./sql-guards";

/** Which events {@link eventsAfter} returns; no filter means every job's. */
export interface EventFilter {
  jobId?: string;
  conversationId?: string;
}

/** Up to `limit` events with an id above `cursor`, in id order (which is commit order, see event-order.ts). */
export async function eventsAfter(
  db: AnvilDb,
  cursor: number,
  filter: EventFilter,
  limit: number,
): Promise<JobEvent[]> {
  const where: SQL[] = [gt(jobEvents.id, cursor)];
  for (const id of [filter.jobId, filter.conversationId]) if (id !== undefined && !isUuid(id)) return [];
  if (filter.jobId !== undefined) where.push(eq(jobEvents.jobId, filter.jobId));
  if (filter.conversationId !== undefined) where.push(eq(jobEvents.conversationId, filter.conversationId));
  const rows = await db
    .select()
    .from(jobEvents)
    .where(and(...where))
    .orderBy(asc(jobEvents.id))
    .limit(limit);
  return rows.map(toJobEvent);
}

/** The smallest retained event id, or null when the log is empty. */
export async function oldestEventId(db: AnvilDb): Promise<number | null> {
  const [row] = await db.select({ id: min(jobEvents.id) }).from(jobEvents);
  return row?.id ?? null;
}

/** The largest event id, or null when the log is empty. */
export async function latestEventId(db: AnvilDb): Promise<number | null> {
  const [row] = await db.select({ id: max(jobEvents.id) }).from(jobEvents);
  return row?.id ?? null;
}

/** Deletes the events with an id below `olderThanId`; returns how many went. */
export async function pruneEvents(db: AnvilDb, olderThanId: number): Promise<number> {
  const rows = await db.delete(jobEvents).where(lt(jobEvents.id, olderThanId)).returning({ id: jobEvents.id });
  return rows.length;
}
