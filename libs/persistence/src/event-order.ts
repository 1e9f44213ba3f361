import { sql } from "drizzle-orm";
import type { AnvilTx } from "./database";

// Why event ids need a lock.
//
// `job_events.id` is a resume cursor: a subscriber that has seen id N asks for "id > N" after a reconnect.
// A plain bigserial does not make that safe. Two transactions A and B draw ids 41 and 42 from the sequence;
// B commits first, a reader sees 42 and moves its cursor there; then A commits 41, which that reader never
// sees. Sequence order is draw order, not commit order.
//
// So every transaction that appends an event first takes one transaction-scoped advisory lock, and only then
// draws ids (the event id and, on submit, the job's seq). The lock is held until commit or rollback, so the
// next appender draws its id only after this one is over: ids are handed out in commit order, and when a
// reader sees id N every smaller id is already committed (or rolled back and never coming). PostgreSQL makes
// a commit visible before it releases the transaction's locks, so there is no gap between the two.
//
// The lock lives in the database, so it orders appenders of every process sharing one PostgreSQL. PGlite has
// a single connection and runs one transaction at a time; the lock is granted at once there and costs nothing.
// The price is that event-appending transactions are serialized; they are a handful of short statements.
const EVENT_ORDER_LOCK_KEY = "4167338460717002";

/** Serializes event appenders until the end of `tx`; call before drawing any event id or job seq. */
export async function lockEventOrder(tx: AnvilTx): Promise<void> {
  await tx.execute(sql.raw(`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK_KEY})`));
}

/** Draws the next event id; only valid after {@link lockEventOrder} in the same transaction. */
export const nextEventId = sql<number>`nextval('job_events_id_seq')`;
