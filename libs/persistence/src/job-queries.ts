import type { JobStatus } from "@anvil/job-machine";
import { and, asc, count, desc, eq, gt, inArray, isNotNull, lt, sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { AnvilDb } from "./database";
import { InvalidCursor } from "./errors";
import { toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { jobs } from "./schema";
import { isUuid } from "./sql-guards";

/** Filters and page of {@link listJobs}. */
export interface ListJobsInput {
  status?: JobStatus[];
  conversationId?: string;
  /** Only this user's jobs. */
  owner?: string;
  /** Page size, a positive integer. */
  limit: number;
  /** `nextCursor` of the previous page (listed in the same order). */
  cursor?: string;
  /** `oldest` first (submission order, the default) or `newest` first. */
  order?: "oldest" | "newest";
}

/** One page of jobs, in the order asked; `nextCursor` is null on the last page. */
export interface JobPage {
  items: JobRecord[];
  nextCursor: string | null;
}

/** One job, or null when there is none with that id. */
export async function getJob(db: AnvilDb, id: string): Promise<JobRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row === undefined ? null : toJobRecord(row);
}

/** The job `owner` submitted with `key`, if any, with the hash of the request it was submitted with. */
export async function getJobByIdempotencyKey(
  db: AnvilDb,
  owner: string,
  key: string,
): Promise<{ job: JobRecord; requestHash: string | null } | null> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.owner, owner), eq(jobs.idempotencyKey, key)));
  return row === undefined ? null : { job: toJobRecord(row), requestHash: row.requestHash };
}

/** Which of `keys` name a job `owner` submitted already (idempotency keys are the owner's own). */
export async function heldKeys(db: AnvilDb, owner: string, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .select({ key: jobs.idempotencyKey })
    .from(jobs)
    .where(and(eq(jobs.owner, owner), inArray(jobs.idempotencyKey, [...keys])));
  return new Set(rows.flatMap((row) => (row.key === null ? [] : [row.key])));
}

// The cursor is the seq of the last job on the page (keyset pagination stays correct while jobs are added), marked
// with the page's order ("o": oldest first, "n": newest first): it goes on in the order it was made with, whatever
// order the next call names. (A bare seq, from a server before this one, goes on in the call's order.)
function parseCursor(cursor: string): { seq: number; newest: boolean | null } {
  const [, mark, digits] = /^([on]?)(\d{1,16})$/.exec(cursor) ?? [];
  const seq = digits === undefined ? NaN : Number(digits);
  if (!Number.isSafeInteger(seq)) throw new InvalidCursor(cursor);
  return { seq, newest: mark === "" ? null : mark === "n" };
}

const cursorOf = (seq: number, newest: boolean): string => `${newest ? "n" : "o"}${seq}`;

/** Jobs in submission order (or the newest first), filtered and paged by an opaque cursor. */
export async function listJobs(db: AnvilDb, input: ListJobsInput): Promise<JobPage> {
  if (!Number.isInteger(input.limit) || input.limit < 1) throw new RangeError(`Invalid limit: ${input.limit}`);
  const cursor = input.cursor === undefined ? null : parseCursor(input.cursor);
  const newest = cursor?.newest ?? input.order === "newest";
  const where: SQL[] = [];
  if (cursor) where.push(newest ? lt(jobs.seq, cursor.seq) : gt(jobs.seq, cursor.seq));
  if (input.status !== undefined) where.push(inArray(jobs.status, input.status));
  if (input.owner !== undefined) where.push(eq(jobs.owner, input.owner));
  if (input.conversationId !== undefined) {
    if (!isUuid(input.conversationId)) return { items: [], nextCursor: null };
    where.push(eq(jobs.conversationId, input.conversationId));
  }
  const rows = await db
    .select()
    .from(jobs)
    .where(and(...where))
    .orderBy(newest ? desc(jobs.seq) : asc(jobs.seq))
    .limit(input.limit + 1);
  const items = rows.slice(0, input.limit).map(toJobRecord);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > input.limit && last !== undefined ? cursorOf(last.seq, newest) : null };
}

/** Queued and processing jobs in submission order: what a scheduler rebuilds its queue from. */
export async function activeJobs(db: AnvilDb): Promise<JobRecord[]> {
  const rows = await db
    .select()
    .from(jobs)
    .where(inArray(jobs.status, ["queued", "processing"]))
    .orderBy(asc(jobs.seq));
  return rows.map(toJobRecord);
}

/**
 * The last `limit` jobs that ran on a backend and ended (complete, or failed or cancelled while running), in the
 * order they started: what GPU time estimates learn from. Read newest first by submission, so it costs about
 * `limit` rows however long the history.
 */
export async function recentRuns(db: AnvilDb, limit: number): Promise<JobRecord[]> {
  const rows = await db
    .select()
    .from(jobs)
    .where(and(isNotNull(jobs.finishedAt), isNotNull(jobs.startedAt), isNotNull(jobs.backend)))
    .orderBy(desc(jobs.seq))
    .limit(limit);
  const runs = rows.map(toJobRecord);
  return runs.sort((a, b) => (a.startedAt ?? "").localeCompare(b.startedAt ?? ""));
}

const target = alias(jobs, "target");

/** 1-based place of a queued job in the queue (1 = next to start); 0 when it is not queued or unknown. */
export async function queuePosition(db: AnvilDb, jobId: string): Promise<number> {
  if (!isUuid(jobId)) return 0;
  // An index-only count over jobs_queued_seq_idx; a non-queued job yields a null seq and so a count of 0.
  const targetSeq = db
    .select({ seq: target.seq })
    .from(target)
    .where(and(eq(target.id, jobId), eq(target.status, "queued")));
  const [row] = await db
    .select({ position: count() })
    .from(jobs)
    .where(and(eq(jobs.status, "queued"), sql`${jobs.seq} <= (${targetSeq})`));
  return row?.position ?? 0;
}
