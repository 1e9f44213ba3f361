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
  /** Who cancelled it. */
  cancelledBy?: string | null;
  /**
   * Cleared as the job waits again after its backend went away (or its server stopped): it waits ahead of every
   * turn, where no earlier move puts it, which is how a new leader tells it (see `Recovery.rebuildLine`).
   */
  lineMove?: null;
  lineFront?: null;
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
  // A patch without nested objects (every transition's) merges the same shallowly, which costs a third as much.
  const json = JSON.stringify(patch);
  const flat = Object.values(patch).every((value) => value === null || typeof value !== "object");
  const rows = await db
    .update(messages)
    .set({
      metadata: flat
        ? sql`jsonb_shallow_merge(${messages.metadata}, ${json}::jsonb)`
        : sql`jsonb_deep_merge(${messages.metadata}, ${json}::jsonb)`,
    })
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
 * savepoint and no second lock. A failure aborts the caller's whole transaction.
 */
export async function applyTransitionLocked(tx: AnvilDb, t: Transition): Promise<AppliedTransition | null> {
  const [applied] = await applyChangesLocked(tx, [{ kind: "transition", transition: t }]);
  return applied?.kind === "transition" ? applied.applied : null;
}

/** One row change of a journal batch: a status change, or the progress of a running job. */
export type RowChange =
  { kind: "transition"; transition: Transition } | { kind: "progress"; jobId: string; progress: number };

/**
 * What a {@link RowChange} (or a journal batch's change, see apply-changes.ts) did: the applied transition, or the
 * job with its new progress (null: nothing matched); the places jobs bring (`fifo`) report nothing.
 */
export type RowChangeResult =
  | { kind: "transition"; applied: AppliedTransition | null }
  | { kind: "progress"; job: JobRecord | null }
  | { kind: "places" };

/**
 * Applies `changes` in order inside a transaction that already holds the event-order lock, in two round trips
 * whatever their number: every row update is sent at once, then every statement that follows from them (message
 * metadata, events, webhook deliveries). A connection runs what it is sent in the order sent, so two changes of
 * one job apply in turn and event ids are drawn in the order of `changes`. A failure aborts the whole transaction.
 */
export async function applyChangesLocked(tx: AnvilDb, changes: readonly RowChange[]): Promise<RowChangeResult[]> {
  const rows = await Promise.all(
    changes.map((change) =>
      change.kind === "transition" ? updateStatusRow(tx, change.transition) : updateProgressRow(tx, change),
    ),
  );
  // Sent only once every snapshot was made: a throw above must not leave statements running unobserved.
  const followUps: (() => PromiseLike<unknown>)[] = [];
  const results = changes.map((change, i): RowChangeResult => {
    const row = rows[i];
    if (change.kind === "progress") {
      if (row === undefined) return { kind: "progress", job: null };
      followUps.push(() => mergeMessageMetadata(tx, row.messageId, { progress: row.progress }));
      return { kind: "progress", job: toJobRecord(row) };
    }
    if (row === undefined) return { kind: "transition", applied: null };
    const job = toJobRecord(row);
    const snapshot = change.transition.snapshot(job);
    if (snapshot.id !== job.id || snapshot.status !== job.status) {
      throw new Error(`snapshot of job ${snapshot.id} (${snapshot.status}) does not match ${job.id} (${job.status})`);
    }
    followUps.push(
      () =>
        mergeMessageMetadata(tx, job.messageId, {
          status: job.status,
          queuePosition: snapshot.queuePosition,
          progress: job.progress,
          imageUrl: job.imageUrl,
          error: job.error,
        }),
      () =>
        tx.insert(jobEvents).values({
          id: job.lastEventId,
          jobId: job.id,
          conversationId: job.conversationId,
          status: job.status,
          job: snapshot,
        }),
    );
    // In the transaction of the final transition: the delivery exists exactly when the final state does.
    if (isFinalStatus(job.status) && job.callbackUrl !== null) {
      const url = job.callbackUrl;
      followUps.push(() => enqueueDelivery(tx, url, snapshot));
    }
    return { kind: "transition", applied: { job, snapshot, eventId: job.lastEventId } };
  });
  await Promise.all(followUps.map((send) => send()));
  return results;
}

/** The status update of a transition (guarded by its `from`); undefined when nothing matched. */
const updateStatusRow = async (tx: AnvilDb, t: Transition) => {
  if (!isUuid(t.jobId)) return undefined;
  const [row] = await tx
    .update(jobs)
    .set({ ...t.patch, status: t.to, lastEventId: nextEventId })
    .where(and(eq(jobs.id, t.jobId), eq(jobs.status, t.from)))
    .returning();
  return row;
};

/** Progress as the `progress` column keeps it: whole percent, 0..100; a value that is not a number is refused. */
export const storedProgress = (progress: number): number => {
  if (!Number.isFinite(progress)) throw new RangeError(`Invalid progress: ${progress}`);
  return Math.min(100, Math.max(0, Math.round(progress)));
};

/** The progress update of a processing job, rounded to 0..100; undefined when it is not processing. */
const updateProgressRow = async (tx: AnvilDb, { jobId, progress }: { jobId: string; progress: number }) => {
  const value = storedProgress(progress);
  if (!isUuid(jobId)) return undefined;
  const [row] = await tx
    .update(jobs)
    .set({ progress: value })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing")))
    .returning();
  return row;
};

/** Sets the progress (rounded, 0..100) of a processing job and its message; null when it is not processing. */
export async function updateProgress(db: AnvilDb, jobId: string, progress: number): Promise<JobRecord | null> {
  if (!Number.isFinite(progress)) throw new RangeError(`Invalid progress: ${progress}`);
  if (!isUuid(jobId)) return null;
  return db.transaction((tx) => updateProgressIn(tx, jobId, progress));
}

/** {@link updateProgress} inside the caller's transaction, without a savepoint of its own. */
export async function updateProgressIn(tx: AnvilDb, jobId: string, progress: number): Promise<JobRecord | null> {
  const [result] = await applyChangesLocked(tx, [{ kind: "progress", jobId, progress }]);
  return result?.kind === "progress" ? result.job : null;
}
