import { isFinalStatus } from "@anvil/job-machine";
import type { Job, JobStatus } from "@anvil/job-machine";
import { and, eq, sql } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { lockEventOrder, nextEventId } from "./event-order";
import { toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { jobEvents, jobs, messages } from "./schema";
import { isUuid } from "./sql-guards";
import { enqueueDelivery } from "./webhook-outbox";

/** Columns a transition may set besides the status; absent keys are left as they are. */
export interface TransitionPatch {
  progress?: number;
  imageUrl?: string | null;
  usedSeed?: number | null;
  error?: string | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  attempts?: number;
  /** The URL of the backend the job runs on. */
  backend?: string | null;
  /** The owner's turn this start was given (fair scheduling). */
  turn?: number;
}

/**
 * A status change of one job. `snapshot` turns the updated row into the `Job` that is logged as the event and
 * should be published as is: the store does not know queue positions, the caller (the scheduler) does.
 */
export interface Transition {
  jobId: string;
  from: JobStatus;
  to: JobStatus;
  patch?: TransitionPatch;
  snapshot: (job: JobRecord) => Job;
}

/** A transition that took effect: the updated job, the logged snapshot and the id of its event. */
export interface AppliedTransition {
  job: JobRecord;
  snapshot: Job;
  eventId: number;
}

/** Deep-merges `patch` into a message's metadata in one statement; false when there is no such message. */
export async function mergeMessageMetadata(
  db: AnvilDb,
  messageId: string,
  patch: Record<string, unknown>,
): Promise<boolean> {
  if (!isUuid(messageId)) return false;
  // Merged by the database in one UPDATE: the row lock orders concurrent writers and each merges into the
  // other's result, where a read-modify-write in JS would let the later write drop the earlier one's keys.
  const rows = await db
    .update(messages)
    .set({ metadata: sql`jsonb_deep_merge(${messages.metadata}, ${JSON.stringify(patch)}::jsonb)` })
    .where(eq(messages.id, messageId))
    .returning({ id: messages.id });
  return rows.length > 0;
}

/**
 * Moves a job from `from` to `to`, mirrors it into the assistant message and logs the event, atomically.
 * Null when the job is not in `from` (unknown, already moved, or a retry of an applied transition): then
 * nothing is written.
 */
export async function applyTransition(db: AnvilDb, t: Transition): Promise<AppliedTransition | null> {
  if (!isUuid(t.jobId)) return null;
  return db.transaction(async (tx) => {
    await lockEventOrder(tx);
    return applyTransitionLocked(tx, t);
  });
}

/**
 * {@link applyTransition} inside a transaction that already holds the event-order lock (a journal batch): no
 * savepoint and no second lock, three statements. A failure aborts the caller's whole transaction.
 */
export async function applyTransitionLocked(tx: AnvilDb, t: Transition): Promise<AppliedTransition | null> {
  if (!isUuid(t.jobId)) return null;
  const [row] = await tx
    .update(jobs)
    .set({ ...t.patch, status: t.to, lastEventId: nextEventId })
    .where(and(eq(jobs.id, t.jobId), eq(jobs.status, t.from)))
    .returning();
  if (row === undefined) return null;
  const job = toJobRecord(row);
  const snapshot = t.snapshot(job);
  if (snapshot.id !== job.id || snapshot.status !== job.status) {
    throw new Error(`snapshot of job ${snapshot.id} (${snapshot.status}) does not match ${job.id} (${job.status})`);
  }
  await mergeMessageMetadata(tx, job.messageId, {
    status: job.status,
    queuePosition: snapshot.queuePosition,
    progress: job.progress,
    imageUrl: job.imageUrl,
    error: job.error,
  });
  await tx.insert(jobEvents).values({
    id: job.lastEventId,
    jobId: job.id,
    conversationId: job.conversationId,
    status: job.status,
    job: snapshot,
  });
  // In the transaction of the final transition: the delivery exists exactly when the final state does.
  if (isFinalStatus(job.status) && job.callbackUrl !== null) await enqueueDelivery(tx, job.callbackUrl, snapshot);
  return { job, snapshot, eventId: job.lastEventId };
}

/** Sets the progress (rounded, 0..100) of a processing job and its message; null when it is not processing. */
export async function updateProgress(db: AnvilDb, jobId: string, progress: number): Promise<JobRecord | null> {
  if (!Number.isFinite(progress)) throw new RangeError(`Invalid progress: ${progress}`);
  if (!isUuid(jobId)) return null;
  return db.transaction((tx) => updateProgressIn(tx, jobId, progress));
}

/** {@link updateProgress} inside the caller's transaction, without a savepoint of its own. */
export async function updateProgressIn(tx: AnvilDb, jobId: string, progress: number): Promise<JobRecord | null> {
  if (!Number.isFinite(progress)) throw new RangeError(`Invalid progress: ${progress}`);
  if (!isUuid(jobId)) return null;
  const value = Math.min(100, Math.max(0, Math.round(progress)));
  const [row] = await tx
    .update(jobs)
    .set({ progress: value })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing")))
    .returning();
  if (row === undefined) return null;
  await mergeMessageMetadata(tx, row.messageId, { progress: row.progress });
  return toJobRecord(row);
}
