import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import { titleFromPrompt } from "./conversations";
import type { AnvilDb, AnvilTx } from "./database";
import { BatchRejected, ConversationNotFound, IdempotencyConflict } from "./errors";
import { lockEventOrder, nextEventId } from "./event-order";
import { getJobByIdempotencyKey, queuePosition } from "./job-queries";
import type { WriteFence } from "./leader-lease";
import { toJob, toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { conversations, jobEvents, jobs, messages, queueCounts } from "./schema";
import { isUniqueViolation, isUuid } from "./sql-guards";
import { storeNewJobs } from "./store-new-jobs";
import { ownedKey, ownerOf, requestHash } from "./submission";
import type { SubmitJobInput } from "./submission";

/** The submitted (or, for a repeated idempotency key, the earlier) job and its place in the queue now. */
export interface SubmitJobResult {
  job: JobRecord;
  created: boolean;
  queuePosition: number;
}

/** What one input of {@link submitJobs} comes to. */
export type SubmitOutcome = SubmitJobResult | ConversationNotFound | IdempotencyConflict;

/** Stores a new queued job with its conversation, user and assistant messages and first event, atomically. */
export async function submitJob(
  db: AnvilDb,
  input: SubmitJobInput,
  fence: WriteFence | null = null,
): Promise<SubmitJobResult> {
  const [result] = await submitJobs(db, [input], fence);
  if (result === undefined) throw new Error("submitJobs returned no result");
  if (result instanceof Error) throw result;
  return result;
}

/**
 * Stores every input as a new queued job in one statement (store-new-jobs.ts), or writes nothing and answers null
 * when the batch needs the general path of {@link submitJobs}: a named conversation, a repeated key, or a key
 * stored by a writer that bypassed the lock (the unique index refused the statement; the general path answers
 * each input).
 */
export async function submitNewJobs(
  db: AnvilDb,
  inputs: readonly SubmitJobInput[],
  fence: Pick<WriteFence, "holder" | "epoch"> | null = null,
): Promise<SubmitJobResult[] | null> {
  try {
    const stored = await storeNewJobs(db, inputs, fence);
    return stored === null ? null : stored.map((result) => ({ ...result, created: true }));
  } catch (error) {
    if (isUniqueViolation(error, "jobs_owner_idempotency_key_unique")) return null;
    throw error;
  }
}

/**
 * Stores many jobs in one transaction, in the order given (their seqs and event ids follow it): a burst of
 * submissions costs one commit, not one each. A batch of new jobs is one call (store-new-jobs.ts); the general
 * path below, a handful of statements whatever their number, gives each input its own outcome: a job, or
 * `ConversationNotFound` for that input alone.
 */
export async function submitJobs(
  db: AnvilDb,
  inputs: readonly SubmitJobInput[],
  fence: WriteFence | null = null,
): Promise<SubmitOutcome[]> {
  const [first] = inputs;
  if (first === undefined) return [];
  try {
    const stored = await submitNewJobs(db, inputs, fence);
    if (stored !== null) return stored;
    return await db.transaction(async (tx) => {
      // Taken first: it orders the event ids and the jobs' seqs, and it serializes submits, which makes the
      // idempotency check below race-free across processes sharing the database.
      await lockEventOrder(tx);
      await fence?.check(tx);
      return insertJobs(tx, inputs);
    });
  } catch (error) {
    // The unique index is the last word should a writer ever bypass the lock: then one at a time, each
    // repeated key answered with the job that holds it.
    if (!isUniqueViolation(error, "jobs_owner_idempotency_key_unique")) throw error;
    if (inputs.length > 1) {
      const results: SubmitOutcome[] = [];
      for (const input of inputs) results.push(...(await submitJobs(db, [input], fence)));
      return results;
    }
    const key = first.idempotencyKey;
    if (key === undefined) throw error;
    const existing = await getJobByIdempotencyKey(db, ownerOf(first), key);
    if (existing === null) throw error;
    if (existing.requestHash !== null && existing.requestHash !== requestHash(first)) {
      return [new IdempotencyConflict(key)];
    }
    return [{ job: existing.job, created: false, queuePosition: await queuePosition(db, existing.job.id) }];
  }
}

/**
 * Stores every input in one transaction, in the order given, or none of them: the first input refused (an
 * unknown conversation, an idempotency conflict) rolls the whole batch back as a {@link BatchRejected} naming it.
 * An input that repeats an idempotency key with the same request gets the job that holds the key.
 */
export async function submitJobsAtomically(
  db: AnvilDb,
  inputs: readonly SubmitJobInput[],
  fence: WriteFence | null = null,
): Promise<SubmitJobResult[]> {
  if (inputs.length === 0) return [];
  const stored = await submitNewJobs(db, inputs, fence);
  if (stored !== null) return stored;
  return db.transaction(async (tx) => {
    await lockEventOrder(tx);
    await fence?.check(tx);
    const outcomes = await insertJobs(tx, inputs);
    const refused = outcomes.findIndex((outcome) => outcome instanceof Error);
    if (refused >= 0) throw new BatchRejected(refused, outcomes[refused] as ConversationNotFound | IdempotencyConflict);
    return outcomes as SubmitJobResult[];
  });
}

async function insertJobs(tx: AnvilTx, inputs: readonly SubmitJobInput[]): Promise<SubmitOutcome[]> {
  const outcomes: (SubmitOutcome | undefined)[] = new Array(inputs.length);
  // Repeated idempotency keys: the job already stored under the owner's key, or the first input of this batch with it.
  const keys = [
    ...new Set(inputs.flatMap((input) => (input.idempotencyKey === undefined ? [] : [input.idempotencyKey]))),
  ];
  const existingByKey = new Map<string, { job: JobRecord; requestHash: string | null }>();
  if (keys.length > 0) {
    for (const row of await tx.select().from(jobs).where(inArray(jobs.idempotencyKey, keys))) {
      if (row.idempotencyKey !== null) {
        existingByKey.set(ownedKey(row.owner, row.idempotencyKey), {
          job: toJobRecord(row),
          requestHash: row.requestHash,
        });
      }
    }
  }
  const known = await existingConversations(tx, inputs);
  const firstWithKey = new Map<string, number>();
  const hashes = inputs.map((input) => (input.idempotencyKey === undefined ? null : requestHash(input)));
  const fresh: { index: number; input: SubmitJobInput }[] = [];
  inputs.forEach((input, i) => {
    let key: string | undefined;
    if (input.idempotencyKey !== undefined) {
      key = ownedKey(ownerOf(input), input.idempotencyKey);
      // Jobs stored before request hashes were kept (null) answer any request with their key, as they did then.
      const held = existingByKey.get(key)?.requestHash ?? hashes[firstWithKey.get(key) ?? -1] ?? null;
      if (held !== null && held !== hashes[i]) {
        outcomes[i] = new IdempotencyConflict(input.idempotencyKey);
        return;
      }
      if (existingByKey.has(key) || firstWithKey.has(key)) return;
    }
    const conversationOwner = input.conversationId === undefined ? undefined : known.get(input.conversationId);
    const foreign = input.conversationOwner !== undefined && conversationOwner !== input.conversationOwner;
    if (input.conversationId !== undefined && (conversationOwner === undefined || foreign)) {
      outcomes[i] = new ConversationNotFound(input.conversationId);
      return;
    }
    if (key !== undefined) firstWithKey.set(key, i);
    fresh.push({ index: i, input });
  });

  // Under the lock every existing seq is smaller than the ones drawn here, so these jobs go to the back in order;
  // the number of jobs waiting is kept by triggers (drizzle/0011_queued_count.sql), not counted.
  const [queued] = await tx.select({ n: queueCounts.queued }).from(queueCounts).where(eq(queueCounts.id, 1));
  const ahead = queued?.n ?? 0;
  const rows = fresh.map(({ index, input }, k) => ({
    index,
    input,
    jobId: randomUUID(),
    messageId: randomUUID(),
    conversationId: input.conversationId ?? randomUUID(),
    newConversation: input.conversationId === undefined,
    position: ahead + k + 1,
  }));
  // A microsecond more for each, as for the messages: a batch's conversations list in the order submitted.
  const newConversations = rows.flatMap((row, k) =>
    row.newConversation
      ? [
          {
            id: row.conversationId,
            title: titleFromPrompt(row.input.prompt),
            owner: ownerOf(row.input),
            createdAt: at(k),
          },
        ]
      : [],
  );
  if (newConversations.length > 0) await tx.insert(conversations).values(newConversations);
  if (rows.length > 0) {
    await tx.insert(messages).values(
      rows.flatMap((row, k) => [
        // All rows share one statement time, taken under the lock (so submits to one conversation keep their
        // order); a microsecond more per row keeps every reply after its prompt and the batch in its order.
        { conversationId: row.conversationId, role: "user" as const, content: row.input.prompt, createdAt: at(2 * k) },
        {
          id: row.messageId,
          conversationId: row.conversationId,
          role: "assistant" as const,
          content: `Image: ${row.input.prompt}`,
          metadata: {
            jobId: row.jobId,
            status: "queued",
            queuePosition: row.position,
            progress: 0,
            imageUrl: null,
            error: null,
            prompt: row.input.prompt,
          },
          createdAt: at(2 * k + 1),
        },
      ]),
    );
    // Rows are inserted in the order given, so the seqs and event ids drawn per row follow it.
    const inserted = await tx
      .insert(jobs)
      .values(
        rows.map((row) => ({
          id: row.jobId,
          conversationId: row.conversationId,
          messageId: row.messageId,
          status: "queued" as const,
          prompt: row.input.prompt,
          params: row.input.params,
          idempotencyKey: row.input.idempotencyKey,
          requestHash: row.input.idempotencyKey === undefined ? null : requestHash(row.input),
          callbackUrl: row.input.callbackUrl ?? null,
          owner: ownerOf(row.input),
          priority: row.input.priority ?? 0,
          lastEventId: nextEventId,
        })),
      )
      .returning();
    const byId = new Map(inserted.map((r) => [r.id, toJobRecord(r)]));
    const stored = rows.map((row) => {
      const job = byId.get(row.jobId);
      if (job === undefined) throw new Error(`insert into jobs returned no row for ${row.jobId}`);
      return { ...row, job };
    });
    await tx.insert(jobEvents).values(
      stored.map(({ job, position }) => ({
        id: job.lastEventId,
        jobId: job.id,
        conversationId: job.conversationId,
        status: "queued" as const,
        job: toJob(job, position),
      })),
    );
    for (const { index, job, position } of stored) outcomes[index] = { job, created: true, queuePosition: position };
  }

  // Inputs that repeated a key: the job that holds it, as it is now.
  for (const [i, input] of inputs.entries()) {
    if (outcomes[i] !== undefined) continue;
    if (input.idempotencyKey === undefined) {
      throw new Error(`input ${i} was left without an outcome, yet it repeats no idempotency key`);
    }
    const key = ownedKey(ownerOf(input), input.idempotencyKey);
    const existing = existingByKey.get(key)?.job;
    if (existing !== undefined) {
      outcomes[i] = { job: existing, created: false, queuePosition: await queuePosition(tx, existing.id) };
      continue;
    }
    const firstIndex = firstWithKey.get(key);
    const first = firstIndex === undefined ? undefined : outcomes[firstIndex];
    if (first === undefined || first instanceof Error) throw new Error(`no job for idempotency key ${key}`);
    outcomes[i] = { ...first, created: false };
  }
  return outcomes as SubmitOutcome[];
}

const at = (microseconds: number) => sql`statement_timestamp() + ${microseconds} * interval '1 microsecond'`;

/** The inputs' conversations that exist, each with its owner. */
async function existingConversations(tx: AnvilTx, inputs: readonly SubmitJobInput[]): Promise<Map<string, string>> {
  const ids = [
    ...new Set(
      inputs.flatMap((input) =>
        input.conversationId !== undefined && isUuid(input.conversationId) ? [input.conversationId] : [],
      ),
    ),
  ];
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select({ id: conversations.id, owner: conversations.owner })
    .from(conversations)
    .where(inArray(conversations.id, ids));
  return new Map(rows.map((row) => [row.id, row.owner]));
}
