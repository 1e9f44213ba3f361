import { randomUUID } from "node:crypto";
import type { JobParams } from "@anvil/job-machine";
import { count, eq, sql } from "drizzle-orm";
import { titleFromPrompt } from "./conversations";
import type { AnvilDb, AnvilTx } from "./database";
import { ConversationNotFound } from "./errors";
import { lockEventOrder, nextEventId } from "./event-order";
import { getJobByIdempotencyKey, queuePosition } from "./job-queries";
import { toJob, toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { conversations, jobEvents, jobs, messages } from "./schema";
import { isUniqueViolation, isUuid } from "./sql-guards";

/** What {@link submitJob} needs; `params` come with every default filled in. */
export interface SubmitJobInput {
  prompt: string;
  params: JobParams;
  /** Absent: a new conversation titled after the prompt. */
  conversationId?: string;
  /** A resubmit with the same key returns the first job instead of making another. */
  idempotencyKey?: string;
}

/** The submitted (or, for a repeated idempotency key, the earlier) job and its place in the queue now. */
export interface SubmitJobResult {
  job: JobRecord;
  created: boolean;
  queuePosition: number;
}

/** Stores a new queued job with its conversation, user and assistant messages and first event, atomically. */
export async function submitJob(db: AnvilDb, input: SubmitJobInput): Promise<SubmitJobResult> {
  const key = input.idempotencyKey;
  try {
    return await db.transaction(async (tx) => {
      // Taken first: it orders the event id and the job's seq, and it serializes submits, which makes the
      // idempotency check below race-free across processes sharing the database.
      await lockEventOrder(tx);
      if (key !== undefined) {
        const existing = await getJobByIdempotencyKey(tx, key);
        if (existing !== null)
          return { job: existing, created: false, queuePosition: await queuePosition(tx, existing.id) };
      }
      return { ...(await insertJob(tx, input)), created: true };
    });
  } catch (error) {
    // The unique index is the last word should a writer ever bypass the lock.
    if (key === undefined || !isUniqueViolation(error, "jobs_idempotency_key_unique")) throw error;
    const existing = await getJobByIdempotencyKey(db, key);
    if (existing === null) throw error;
    return { job: existing, created: false, queuePosition: await queuePosition(db, existing.id) };
  }
}

async function insertJob(tx: AnvilTx, input: SubmitJobInput): Promise<{ job: JobRecord; queuePosition: number }> {
  const conversationId = await resolveConversation(tx, input);
  // Under the lock every existing seq is smaller than the one this job draws, so it goes to the back.
  const [queued] = await tx.select({ n: count() }).from(jobs).where(eq(jobs.status, "queued"));
  const position = (queued?.n ?? 0) + 1;
  const jobId = randomUUID();
  const messageId = randomUUID();
  await tx.insert(messages).values([
    { conversationId, role: "user", content: input.prompt, createdAt: sql`statement_timestamp()` },
    {
      id: messageId,
      conversationId,
      role: "assistant",
      content: `Image: ${input.prompt}`,
      metadata: {
        jobId,
        status: "queued",
        queuePosition: position,
        progress: 0,
        imageUrl: null,
        error: null,
        prompt: input.prompt,
      },
      // Both rows share one statement time, taken under the lock (so submits to one conversation keep their
      // order); one microsecond more keeps the reply after the prompt.
      createdAt: sql`statement_timestamp() + interval '1 microsecond'`,
    },
  ]);
  const [row] = await tx
    .insert(jobs)
    .values({
      id: jobId,
      conversationId,
      messageId,
      status: "queued",
      prompt: input.prompt,
      params: input.params,
      idempotencyKey: input.idempotencyKey,
      lastEventId: nextEventId,
    })
    .returning();
  if (row === undefined) throw new Error("insert into jobs returned no row");
  const job = toJobRecord(row);
  await tx.insert(jobEvents).values({
    id: job.lastEventId,
    jobId,
    conversationId,
    status: "queued",
    job: toJob(job, position),
  });
  return { job, queuePosition: position };
}

async function resolveConversation(tx: AnvilTx, input: SubmitJobInput): Promise<string> {
  if (input.conversationId === undefined) {
    const [created] = await tx
      .insert(conversations)
      .values({ title: titleFromPrompt(input.prompt) })
      .returning({ id: conversations.id });
    if (created === undefined) throw new Error("insert into conversations returned no row");
    return created.id;
  }
  const id = input.conversationId;
  if (!isUuid(id)) throw new ConversationNotFound(id);
  const [found] = await tx.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, id));
  if (found === undefined) throw new ConversationNotFound(id);
  return found.id;
}
