import { randomUUID } from "node:crypto";
import { withDefaultParams } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import { titleFromPrompt } from "./conversations";
import { rowsOf } from "./database";
import type { AnvilDb } from "./database";
import { fencedOr } from "./leader-lease";
import type { WriteFence } from "./leader-lease";
import { jobRowOf, toJob, toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { isUuid } from "./sql-guards";
import { ownedKey, ownerOf, requestHash } from "./submission";
import type { SubmitJobInput } from "./submission";

/** What the one-call path stores: each input as a new job, at its place in the line. */
export interface NewJob {
  job: JobRecord;
  queuePosition: number;
}

/** One element of `anvil_submit_jobs`'s batch (drizzle/0008_submit_jobs.sql). */
interface BatchRow {
  job_id: string;
  message_id: string;
  conversation_id: string;
  /** False: `conversation_id` must exist, and belong to `conversation_owner` when that is set. */
  new_conversation: boolean;
  conversation_owner: string | null;
  title: string;
  owner: string;
  prompt: string;
  params: SubmitJobInput["params"];
  idempotency_key: string | null;
  request_hash: string | null;
  callback_url: string | null;
  priority: number;
  /** The assistant message's metadata; the function fills in `queuePosition`. */
  metadata: Record<string, unknown>;
  /** The first event's snapshot as `toJob` makes it; the function fills in `queuePosition` and `createdAt`. */
  event_job: Record<string, unknown>;
}

/**
 * Inputs the one-call path can take: every one a new job. Whether a named conversation exists and whether a key
 * is held is for the database to say, under the lock; a malformed conversation id (unknown to the general path,
 * which compares ids as written) or a key given twice (the general path answers the second with the first's job)
 * is left to the general path.
 */
function eligible(inputs: readonly SubmitJobInput[]): boolean {
  const keys = new Set<string>();
  for (const input of inputs) {
    const { conversationId, idempotencyKey } = input;
    if (conversationId !== undefined && !(isUuid(conversationId) && conversationId === conversationId.toLowerCase())) {
      return false;
    }
    if (idempotencyKey !== undefined) {
      const key = ownedKey(ownerOf(input), idempotencyKey);
      if (keys.has(key)) return false;
      keys.add(key);
    }
  }
  return true;
}

function toBatchRow(input: SubmitJobInput): BatchRow {
  const jobId = randomUUID();
  const messageId = randomUUID();
  const conversationId = input.conversationId ?? randomUUID();
  const owner = ownerOf(input);
  const callbackUrl = input.callbackUrl ?? null;
  const priority = input.priority ?? 0;
  // The params as they come back from the jsonb column, so the snapshot equals one made from the stored row.
  const params = withDefaultParams(JSON.parse(JSON.stringify(input.params)) as SubmitJobInput["params"]);
  const record: JobRecord = {
    id: jobId,
    conversationId,
    messageId,
    status: "queued",
    progress: 0,
    prompt: input.prompt,
    params,
    imageUrl: null,
    usedSeed: null,
    error: null,
    createdAt: "",
    startedAt: null,
    finishedAt: null,
    owner,
    priority,
    attempt: 1,
    backend: null,
    callbackUrl,
    cancelledBy: null,
    movedBy: null,
    seq: 0,
    attempts: 0,
    spared: 0,
    lastEventId: 0,
    line: { move: null, front: null, turn: null, place: null },
  };
  return {
    job_id: jobId,
    message_id: messageId,
    conversation_id: conversationId,
    new_conversation: input.conversationId === undefined,
    conversation_owner: input.conversationOwner ?? null,
    title: titleFromPrompt(input.prompt),
    owner,
    prompt: input.prompt,
    params: input.params,
    idempotency_key: input.idempotencyKey ?? null,
    request_hash: input.idempotencyKey === undefined ? null : requestHash(input),
    callback_url: callbackUrl,
    priority,
    metadata: {
      jobId,
      status: "queued",
      progress: 0,
      imageUrl: null,
      error: null,
      prompt: input.prompt,
    },
    event_job: { ...toJob(record, 0) },
  };
}

/**
 * Stores every input as a new queued job in one call of `anvil_submit_jobs` (one round trip, one commit), in the
 * order given; null when the batch needs the general path (submit-job.ts), having written nothing: an input names
 * a conversation that is missing or another user's, or repeats a key, or cannot be checked by the database alone.
 * With a `fence`, it lands only while that term lasts, or fails with `Fenced`.
 */
export async function storeNewJobs(
  db: AnvilDb,
  inputs: readonly SubmitJobInput[],
  fence: Pick<WriteFence, "holder" | "epoch"> | null = null,
): Promise<NewJob[] | null> {
  if (!eligible(inputs)) return null;
  const batch = JSON.stringify(inputs.map(toBatchRow));
  let rows;
  try {
    // With a fence, stored only while its term lasts (drizzle/0018_submit_jobs_fenced.sql).
    // Its own statement, never inside an explicit transaction, as `applyChangesAtOnce`'s (see there why).
    const call = fence
      ? sql`anvil_submit_jobs(${batch}::jsonb, ${fence.holder}::text, ${fence.epoch}::bigint)`
      : sql`anvil_submit_jobs(${batch}::jsonb)`;
    rows = rowsOf(await db.execute(sql`select queued_ahead, (stored).* from ${call} order by (stored).seq`));
  } catch (error) {
    throw fencedOr(error, fence);
  }
  if (rows.length === 0) return null;
  if (rows.length !== inputs.length)
    throw new Error(`anvil_submit_jobs stored ${rows.length} of ${inputs.length} jobs`);
  return rows.map((row, k) => ({
    job: toJobRecord(jobRowOf(row)),
    queuePosition: Number(row["queued_ahead"]) + k + 1,
  }));
}
