import { randomUUID } from "node:crypto";
import type { Job } from "@anvil/job-machine";
import { and, asc, eq, inArray, lte, ne, sql } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { webhookDeliveries } from "./schema";

/** A delivery claimed by one server for one attempt: send `body` to `url` with `id` as the event id. */
export interface ClaimedDelivery {
  id: string;
  jobId: string;
  url: string;
  body: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The claim this attempt holds; its outcome is recorded only under it. */
  claim: string;
  createdAt: Date;
}

/** Pending deliveries: how many, and how long the oldest has waited (0 when none). */
export interface OutboxStats {
  pending: number;
  oldestPendingSeconds: number;
}

/** `now()` moved by `offset` milliseconds (negative: in the past). */
const ms = (offset: number) => sql`now() + ${Math.round(offset)} * interval '1 millisecond'`;

/** Writes a delivery of `job` to `url` into the outbox, in the caller's transaction (the job's final transition). */
export async function enqueueDelivery(tx: AnvilDb, url: string, job: Job): Promise<void> {
  await tx.insert(webhookDeliveries).values({ id: randomUUID(), jobId: job.id, url, body: JSON.stringify(job) });
}

/**
 * Claims up to `limit` due deliveries for one attempt each, oldest due first. Rows another server is claiming are
 * skipped (FOR UPDATE SKIP LOCKED), and a claimed row is not due again until `holdMs` has passed, so each attempt
 * is made by one server; a server that dies mid-attempt leaves its rows to be claimed again after `holdMs`.
 */
export async function claimDeliveries(db: AnvilDb, limit: number, holdMs: number): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const claim = randomUUID();
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, sql`now()`)))
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(webhookDeliveries)
    .set({ claim, nextAttemptAt: ms(holdMs), attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(inArray(webhookDeliveries.id, due))
    .returning();
  return rows.map((row) => ({
    id: row.id,
    jobId: row.jobId,
    url: row.url,
    body: row.body,
    attempt: row.attempts,
    claim,
    createdAt: row.createdAt,
  }));
}

/** Records a delivered attempt; false when the claim was lost meanwhile (another server took the row over). */
export async function markDelivered(db: AnvilDb, delivery: ClaimedDelivery): Promise<boolean> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: "delivered", finishedAt: sql`now()`, claim: null, lastError: null })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.claim, delivery.claim)))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/**
 * Records a failed attempt: the next one is due after `retryInMs`, or, once the delivery is older than
 * `giveUpAfterMs`, it is given up (`failed`). Returns what became of it; null when the claim was lost meanwhile.
 */
export async function markAttemptFailed(
  db: AnvilDb,
  delivery: ClaimedDelivery,
  error: string,
  retryInMs: number,
  giveUpAfterMs: number,
): Promise<"pending" | "failed" | null> {
  const givenUp = sql`${webhookDeliveries.createdAt} < ${ms(-giveUpAfterMs)}`;
  const rows = await db
    .update(webhookDeliveries)
    .set({
      status: sql`case when ${givenUp} then 'failed' else 'pending' end`,
      finishedAt: sql`case when ${givenUp} then now() end`,
      nextAttemptAt: ms(retryInMs),
      claim: null,
      lastError: error.slice(0, 1000),
    })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.claim, delivery.claim)))
    .returning({ status: webhookDeliveries.status });
  const status = rows[0]?.status;
  return status === "pending" || status === "failed" ? status : null;
}

/** How many deliveries are pending and the age of the oldest. */
export async function outboxStats(db: AnvilDb): Promise<OutboxStats> {
  const [row] = await db
    .select({
      pending: sql<number>`count(*)::int`,
      oldest: sql<number>`coalesce(extract(epoch from now() - min(${webhookDeliveries.createdAt})), 0)::float8`,
    })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.status, "pending"));
  return { pending: Number(row?.pending ?? 0), oldestPendingSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}

/** Deletes delivered and given-up deliveries that ended more than `olderThanMs` ago; returns the count. */
export async function pruneDeliveries(db: AnvilDb, olderThanMs: number): Promise<number> {
  const rows = await db
    .delete(webhookDeliveries)
    .where(and(ne(webhookDeliveries.status, "pending"), lte(webhookDeliveries.finishedAt, ms(-olderThanMs))))
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}
