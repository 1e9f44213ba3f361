import type { Job, JobParams, JobStatus } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** Who wrote a message. */
export type MessageRole = "user" | "assistant";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

/** The user a row belongs to: `local` for everything made before there were users (and without any). */
const owner = () => text("owner").notNull().default("local");

/** Conversations: a thread of messages, each image job belongs to one. */
export const conversations = pgTable(
  "conversations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    title: text("title").notNull(),
    owner: owner(),
    createdAt: createdAt(),
  },
  (t) => [
    index("conversations_owner_created_idx").on(t.owner, t.createdAt),
    // conversations.list of an admin (every owner), the only user of a server without sign-in, pages newest first
    // by (created_at, id): without this index each page sorted the whole table.
    index("conversations_created_id_idx").on(t.createdAt, t.id),
  ],
);

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
    /**
     * How many of those runs a shutdown cut short (SIGTERM, past its grace): no fault, so they do not count toward
     * the job's three attempts.
     */
    sparedAttempts: integer("spared_attempts").notNull().default(0),
    /** The URL of the backend the job runs or last ran on; null before it first started. */
    backend: text("backend"),
    /** Unique per owner: one user's key never finds another user's job. */
    idempotencyKey: text("idempotency_key"),
    /** Hash of the normalized request stored with its idempotency key: the same key with another request is a conflict. */
    requestHash: text("request_hash"),
    /** Where the job's webhook goes when it ends (see webhook-outbox.ts). */
    callbackUrl: text("callback_url"),
    /** The user who submitted it. */
    owner: owner(),
    /** -10..10: orders its owner's own waiting jobs (higher first). */
    priority: integer("priority").notNull().default(0),
    // No foreign key: events are pruned, the job row outlives them.
    lastEventId: bigint("last_event_id", { mode: "number" }).notNull(),
    /**
     * `jobs.move` within the owner's jobs: negative = to the front (later moves first), positive = to the back. Cleared,
     * with `lineFront`, when the job waits again after its backend or its server went away: a waiting job that ran
     * and has neither waits again, ahead of every turn (see `Recovery.rebuildLine`).
     */
    lineMove: bigint("line_move", { mode: "number" }),
    /** An admin's move to the very front of the whole line; a larger value was moved later and starts earlier. */
    lineFront: bigint("line_front", { mode: "number" }),
    /**
     * `SCHEDULING=fifo`: the place in submission order the job brings to its owner's jobs while it waits; null: its own
     * `seq`. Another of the owner's jobs that starts (or is cancelled, or moved ahead of all) in a place other than
     * its own hands it its own (see `FairLine`), so a new leader rebuilds the same line. A job an admin moves ahead of
     * all from among its owner's jobs keeps its place (its own seq if null) until the line wrote the places that move
     * handed on (see `moveJob`).
     */
    fifoPlace: bigint("fifo_place", { mode: "number" }),
    /** The owner's turn its last start was given (fair scheduling): a new leader rebuilds the turns from these. */
    turn: bigint("turn", { mode: "number" }),
    /** Who cancelled it (its owner, or an admin); null unless it was cancelled by someone. */
    cancelledBy: text("cancelled_by"),
    /** Who last moved it in the line (`jobs.move`): its owner, or an admin; null unless it was moved. */
    movedBy: text("moved_by"),
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
    index("jobs_owner_seq_idx").on(t.owner, t.seq),
    uniqueIndex("jobs_owner_idempotency_key_unique").on(t.owner, t.idempotencyKey),
    check("jobs_priority_range", sql`${t.priority} between -10 and 10`),
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
    /**
     * The backends (FORGE_URL, without credentials) the leader of term `backendsEpoch` drives; `[]`: its own built-in
     * simulator. Servers whose list differs warn. Null, or another term's: a server that records none (older) leads.
     */
    backends: jsonb("backends").$type<string[]>(),
    backendsEpoch: bigint("backends_epoch", { mode: "number" }),
    /**
     * A fingerprint of the WEBHOOK_SECRET of the leader of term `webhookSecretFingerprintEpoch` (16 hex digits of an
     * HMAC keyed with it; "none": unset), never the secret. Servers whose own differs warn: every server signs the webhooks it
     * delivers. Null, or another term's: a server that records none (older) leads.
     */
    webhookSecretFingerprint: text("webhook_secret_fingerprint"),
    webhookSecretFingerprintEpoch: bigint("webhook_secret_fingerprint_epoch", { mode: "number" }),
  },
  (t) => [check("cluster_leader_one_row", sql`${t.id} = 1`)],
);

/**
 * The servers of the cluster (PostgreSQL only): one row per running server process, written at its start and at each
 * look at the lease, deleted when it stops cleanly (see cluster-servers.ts). A server of a version before this table
 * writes none: it runs beside the others unlisted.
 */
export const clusterServers = pgTable("cluster_servers", {
  /** The process, as the lease names it (`holder`): a restarted server is a new row. */
  holder: text("holder").primaryKey(),
  /** Where the other servers reach it (CLUSTER_URL). */
  url: text("url").notNull(),
  /** Anvil's version it runs. */
  version: text("version").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  /** The database's clock, as the lease's: servers' clocks do not matter. */
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull(),
  /** Its LEASE_MS: it is seen at least every quarter of it, and counts as gone once unseen for three. */
  leaseMs: integer("lease_ms").notNull(),
  /** When it was asked to stop (SIGTERM, SIGINT; database clock): a leader may drain for SHUTDOWN_GRACE_MS first. */
  stoppingSince: timestamp("stopping_since", { withTimezone: true }),
});

/** Counter for `jobs.move`: one sequence, so moves made through any server of a cluster stay ordered. */
export const lineMoves = pgSequence("line_moves");

/** The queue's own switches (one row): paused by an admin, kept across restarts and failovers. */
export const queueControl = pgTable(
  "queue_control",
  {
    id: integer("id").primaryKey(),
    paused: boolean("paused").notNull().default(false),
  },
  (t) => [check("queue_control_one_row", sql`${t.id} = 1`)],
);

/**
 * How many jobs wait (status `queued`), kept by triggers on `jobs` (drizzle/0011_queued_count.sql): a submission
 * reads its place in the line here instead of counting the line under the event-order lock.
 */
export const queueCounts = pgTable(
  "queue_counts",
  {
    id: integer("id").primaryKey(),
    queued: bigint("queued", { mode: "number" }).notNull(),
  },
  (t) => [check("queue_counts_one_row", sql`${t.id} = 1`)],
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

/**
 * Users: each is named by their token, which is stored only as its SHA-256 (tokens are 32 random bytes, so a slow
 * hash adds nothing). A user made by AUTH_PROXY_HEADER has no token.
 */
export const users = pgTable("users", {
  name: text("name").primaryKey(),
  admin: boolean("admin").notNull().default(false),
  tokenHash: text("token_hash").unique(),
  createdAt: createdAt(),
});

/** Web app sign-ins: the cookie carries a random id, stored here only as its SHA-256, until it expires or signs out. */
export const sessions = pgTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userName: text("user_name")
      .notNull()
      .references(() => users.name, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("sessions_user_name_idx").on(t.userName)],
);

/**
 * Failed sign-ins of the last minute, by client address, kept where every server of a cluster counts them
 * (`UserStore.recordFailedSignIn`): guesses spread over several servers count as many as at one.
 */
export const failedSignIns = pgTable(
  "failed_sign_ins",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    address: text("address").notNull(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("failed_sign_ins_address_at_idx").on(t.address, t.at)],
);

/** A row of `users`. */
export type UserRow = typeof users.$inferSelect;
/** A row of `sessions`. */
export type SessionRow = typeof sessions.$inferSelect;

/**
 * The webhook outbox: one row per delivery, written in the transaction of the job's final transition, so that a
 * crash can neither lose a delivery nor invent one. `id` is the event id the receiver sees (X-Anvil-Event-Id) and
 * `body` the exact bytes sent (and signed). Any server may deliver: a claim takes due rows FOR UPDATE SKIP LOCKED
 * and moves their `next_attempt_at` past the attempt's end, so a server that dies mid-attempt leaves them due again.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey(),
    // No foreign key: a delivery outlives its job when the job's conversation is deleted, so the receiver still
    // hears how the job ended (conversations.ts: deleteConversation; finished deliveries are pruned after days).
    jobId: uuid("job_id").notNull(),
    url: text("url").notNull(),
    body: text("body").notNull(),
    status: text("status").$type<WebhookDeliveryStatus>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    /** The claim of the server delivering it now; its hold lasts until `next_attempt_at`. */
    claim: uuid("claim"),
    lastError: text("last_error"),
    createdAt: createdAt(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    index("webhook_deliveries_pending_idx")
      .on(t.nextAttemptAt)
      .where(sql`status = 'pending'`),
    check("webhook_deliveries_status_check", sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
);

/** Where a webhook delivery stands: waiting (or retrying), delivered, or given up. */
export type WebhookDeliveryStatus = "pending" | "delivered" | "failed";

/** A row of `conversations`. */
export type ConversationRow = typeof conversations.$inferSelect;
/** A row of `messages`. */
export type MessageRow = typeof messages.$inferSelect;
/** A row of `jobs`. */
export type JobRow = typeof jobs.$inferSelect;
/** A row to insert into `jobs`. */
export type NewJobRow = typeof jobs.$inferInsert;
/** A row of `webhook_deliveries`. */
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
/** A row of `job_events`. */
export type JobEventRow = typeof jobEvents.$inferSelect;
