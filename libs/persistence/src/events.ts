import { and, asc, eq, gt, gte, inArray, lt, max, min, sql } from "drizzle-orm";
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

/** How many events one statement of a prune deletes: a long backlog goes in short transactions. */
const PRUNE_BATCH = 10_000;

/**
 * Deletes the events written more than `ageMs` ago (by the database's clock), always as a prefix of the log:
 * everything from the first event young enough on is kept, and so is the latest event however old, so the log
 * never gets a hole (created_at follows transaction start, ids follow commit order) and its newest id survives.
 * A long backlog (a server that was down for weeks) goes `batch` events per statement, the thread free in between
 * (on PGlite the database shares it with the server). Returns how many went.
 */
export async function pruneEventsOlderThan(db: AnvilDb, ageMs: number, batch = PRUNE_BATCH): Promise<number> {
  const cutoff = sql`now() - ${ageMs}::float8 * interval '1 millisecond'`;
  // Walks the primary key from the oldest event and stops at the first young one: cost follows what is pruned.
  const firstKept = db
    .select({ id: jobEvents.id })
    .from(jobEvents)
    .where(gte(jobEvents.createdAt, cutoff))
    .orderBy(asc(jobEvents.id))
    .limit(1);
  const latest = db.select({ id: max(jobEvents.id) }).from(jobEvents);
  // least() skips a null: with nothing young enough, everything but the latest event goes.
  const [bound] = await db
    .select({ id: sql<string | number | null>`least((${firstKept}), (${latest}))` })
    .from(jobEvents)
    .limit(1);
  if (bound?.id == null) return 0;
  const below = Number(bound.id);
  let pruned = 0;
  for (;;) {
    const oldest = db
      .select({ id: jobEvents.id })
      .from(jobEvents)
      .where(lt(jobEvents.id, below))
      .orderBy(asc(jobEvents.id))
      .limit(batch);
    const rows = await db.delete(jobEvents).where(inArray(jobEvents.id, oldest)).returning({ id: jobEvents.id });
    pruned += rows.length;
    if (rows.length < batch) return pruned;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
