import type { Job, JobParams, JobStatus } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/** Who wrote a message. */
export type MessageRole = "user" | "assistant";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

/** Conversations: a thread of messages, each image job belongs to one. */
export const conversations = pgTable("conversations", {
  id: uuid("id").primaryKey().defaultRandom(),
  title: text("title").notNull(),
  createdAt: createdAt(),
});

/** Messages of a conversation; an assistant message carries its job's live state in `metadata`. */
export const messages = pgTable(
  "messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    role: text("role").$type<MessageRole>().notNull(),
    content: text("content").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index("messages_conversation_created_idx").on(t.conversationId, t.createdAt),
    check("messages_role_check", sql`${t.role} in ('user', 'assistant')`),
  ],
);

/** Image jobs; `seq` is the submission order and the only order jobs start in. */
export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    seq: bigserial("seq", { mode: "number" }).notNull().unique(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    messageId: uuid("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    status: text("status").$type<JobStatus>().notNull(),
    progress: integer("progress").notNull().default(0),
    prompt: text("prompt").notNull(),
    params: jsonb("params").$type<JobParams>().notNull(),
    imageUrl: text("image_url"),
    usedSeed: bigint("used_seed", { mode: "number" }),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    /** The URL of the backend the job runs or last ran on; null before it first started. */
    backend: text("backend"),
    idempotencyKey: text("idempotency_key").unique(),
    // No foreign key: events are pruned, the job row outlives them.
    lastEventId: bigint("last_event_id", { mode: "number" }).notNull(),
    createdAt: createdAt(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    index("jobs_queued_seq_idx")
      .on(t.seq)
      .where(sql`status = 'queued'`),
    index("jobs_status_seq_idx").on(t.status, t.seq),
    index("jobs_conversation_seq_idx").on(t.conversationId, t.seq),
  ],
);

/** The append-only log of job status changes; `id` is a resume cursor (see event-order.ts). */
export const jobEvents = pgTable(
  "job_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id").notNull(),
    status: text("status").$type<JobStatus>().notNull(),
    job: jsonb("job").$type<Job>().notNull(),
    createdAt: createdAt(),
  },
  // (x, id) rather than (x): the same index serves the filter and the id-ordered scan of eventsAfter.
  (t) => [
    index("job_events_job_id_idx").on(t.jobId, t.id),
    index("job_events_conversation_id_idx").on(t.conversationId, t.id),
  ],
);

/**
 * The cluster's leader: one row (id 1) naming the server that drives every GPU, until when, and the epoch of its
 * term, which every write of that term is fenced with (see leader-lease.ts).
 */
export const clusterLeader = pgTable(
  "cluster_leader",
  {
    id: integer("id").primaryKey(),
    holder: text("holder").notNull(),
    /** Where the other servers forward requests to. */
    url: text("url").notNull(),
    epoch: bigint("epoch", { mode: "number" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [check("cluster_leader_one_row", sql`${t.id} = 1`)],
);

// PGlite reads bytea as a Uint8Array, postgres.js as a Buffer (a Uint8Array too).
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "bytea" });

/**
 * Generated images in PostgreSQL (a cluster's servers each have a DATA_DIR of their own), cut into chunks so that
 * neither a write nor a read holds a whole image in one value (see image-store.ts).
 */
export const jobImages = pgTable(
  "job_images",
  {
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    bytes: bytea("bytes").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);

/** A row of `conversations`. */
export type ConversationRow = typeof conversations.$inferSelect;
/** A row of `messages`. */
export type MessageRow = typeof messages.$inferSelect;
/** A row of `jobs`. */
export type JobRow = typeof jobs.$inferSelect;
/** A row to insert into `jobs`. */
export type NewJobRow = typeof jobs.$inferInsert;
/** A row of `job_events`. */
export type JobEventRow = typeof jobEvents.$inferSelect;
