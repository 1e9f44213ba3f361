import { NO_ESTIMATES, withDefaultParams } from "@anvil/job-machine";
import type { Job, JobEstimates, JobStatus } from "@anvil/job-machine";
import { getTableColumns } from "drizzle-orm";
import type { RawRow } from "./database";
import { jobs } from "./schema";
import type { ConversationRow, JobEventRow, JobRow, MessageRole, MessageRow } from "./schema";

/** A job as stored: the contract's `Job` without `queuePosition` and the estimates (derived, not stored). */
export interface JobRecord extends Omit<Job, "queuePosition" | keyof JobEstimates> {
  /** Submission order; jobs start in this order. */
  seq: number;
  /** How many times a backend has started this job. */
  attempts: number;
  /** How many of those runs a shutdown cut short: they do not count toward the job's three attempts. */
  spared: number;
  /** Id of the event that recorded the current status. */
  lastEventId: number;
  /**
   * Where the job stands in the line besides its seq (see schema.ts): moves, the turn of its last start, and
   * (`fifo`) the place it brings.
   */
  line: { move: number | null; front: number | null; turn: number | null; place: number | null };
}

/**
 * A conversation as the API shows it, with the user it belongs to: always the caller for a user, anyone for an admin,
 * whose list holds everyone's.
 */
export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  owner: string;
}

/** A {@link Conversation}: the name says that its owner is read (e.g. to check who may see it). */
export type OwnedConversation = Conversation;

/** A message as the API shows it. */
export interface Message {
  id: string;
  conversationId: string;
  role: MessageRole;
  content: string;
  metadata: Record<string, unknown>;
  createdAt: string;
}

/** One logged status change: `job` is the snapshot that was published for it. */
export interface JobEvent {
  id: number;
  jobId: string;
  conversationId: string;
  status: JobStatus;
  job: Job;
  createdAt: string;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

const JOB_COLUMNS = Object.entries(getTableColumns(jobs));

/** A `jobs` row as an SQL function returns it (a raw row), decoded as drizzle decodes a selected row. */
export const jobRowOf = (raw: RawRow): JobRow =>
  Object.fromEntries(
    JOB_COLUMNS.map(([key, column]) => {
      const value = raw[column.name];
      return [key, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
    }),
  ) as JobRow;

/** Maps a `jobs` row to a {@link JobRecord}. */
export function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    conversationId: row.conversationId,
    messageId: row.messageId,
    status: row.status,
    progress: row.progress,
    prompt: row.prompt,
    params: withDefaultParams(row.params),
    imageUrl: row.imageUrl,
    usedSeed: row.usedSeed,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    owner: row.owner,
    priority: row.priority,
    // `attempts` counts the runs a job was given: a waiting job is on the next one (1 before its first run).
    attempt: row.status === "queued" ? row.attempts + 1 : Math.max(1, row.attempts),
    backend: row.backend,
    callbackUrl: row.callbackUrl,
    cancelledBy: row.cancelledBy,
    movedBy: row.movedBy,
    seq: row.seq,
    attempts: row.attempts,
    spared: row.sparedAttempts,
    lastEventId: row.lastEventId,
    line: { move: row.lineMove, front: row.lineFront, turn: row.turn, place: row.fifoPlace },
  };
}

/**
 * The contract `Job` for a record at a given queue position (0 unless queued), with its estimates (none by default,
 * and none once it ended).
 */
export function toJob(record: JobRecord, queuePosition: number, estimates: JobEstimates = NO_ESTIMATES): Job {
  const { seq: _seq, attempts: _attempts, spared: _spared, lastEventId: _lastEventId, line: _line, ...job } = record;
  const { estimatedStartAt, estimatedFinishAt } = estimates;
  return {
    ...job,
    queuePosition: record.status === "queued" ? queuePosition : 0,
    estimatedStartAt: record.status === "queued" ? estimatedStartAt : null,
    estimatedFinishAt: record.status === "queued" || record.status === "processing" ? estimatedFinishAt : null,
  };
}

/** Maps a `conversations` row to a {@link Conversation}. */
export function toConversation(row: ConversationRow): Conversation {
  return { id: row.id, title: row.title, createdAt: row.createdAt.toISOString(), owner: row.owner };
}

/** Maps a `messages` row to a {@link Message}. */
export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    conversationId: row.conversationId,
    role: row.role,
    content: row.content,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Maps a `job_events` row to a {@link JobEvent}. */
export function toJobEvent(row: JobEventRow): JobEvent {
  return {
    id: row.id,
    jobId: row.jobId,
    conversationId: row.conversationId,
    status: row.status,
    // Snapshots logged before jobs had estimates lack the fields; a logged snapshot never carries stale ones. Those
    // logged before jobs kept who cancelled (or moved) them lack `cancelledBy` (`movedBy`): nobody is named.
    job: { ...row.job, cancelledBy: row.job.cancelledBy ?? null, movedBy: row.job.movedBy ?? null, ...NO_ESTIMATES },
    createdAt: row.createdAt.toISOString(),
  };
}
