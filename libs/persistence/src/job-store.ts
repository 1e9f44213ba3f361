import { applyChangesAtOnce } from "./apply-changes";
import type { JournalChange } from "./apply-changes";
import { spareAttempt } from "./attempts";
import * as conversations from "./conversations";
import type { ConversationDeletion, ConversationPage } from "./conversations";
import { sql } from "drizzle-orm";
import type { AnvilDatabase, AnvilDb } from "./database";
import { rowsOf } from "./database";
import { lockEventOrder } from "./event-order";
import * as events from "./events";
import type { EventFilter } from "./events";
import * as queries from "./job-queries";
import * as queueControl from "./queue-control";
import type { LineMove, LineState } from "./queue-control";
import type { JobPage, ListJobsInput } from "./job-queries";
import type { WriteFence } from "./leader-lease";
import type { Conversation, JobEvent, JobRecord, Message, OwnedConversation } from "./records";
import { submitJob, submitJobs, submitJobsAtomically, submitNewJobs } from "./submit-job";
import type { SubmitJobResult, SubmitOutcome } from "./submit-job";
import type { SubmitJobInput } from "./submission";
import * as transitions from "./transitions";
import type { AppliedTransition, RowChangeResult, Transition } from "./transitions";

/** Conversations, messages, jobs and the job event log, on either driver. */
export class JobStore {
  private readonly db: AnvilDb;
  /** Statements sent on it run in the order sent (see AnvilDatabase.inOrder); `db` where none was given. */
  private readonly inOrder: AnvilDb;
  /** Bound to a transaction of {@link transaction}, which holds the event-order lock already. */
  private readonly inTransaction: boolean;
  /** The database's driver, where it was given: the embedded one has no autovacuum (see {@link reclaimSpace}). */
  private readonly kind: AnvilDatabase["kind"] | undefined;

  constructor(
    database: Pick<AnvilDatabase, "db"> & Partial<Pick<AnvilDatabase, "inOrder" | "kind">>,
    inTransaction = false,
    private readonly fence?: WriteFence,
  ) {
    this.db = database.db;
    this.inOrder = database.inOrder ?? database.db;
    this.kind = database.kind;
    this.inTransaction = inTransaction;
  }

  /**
   * The same store, whose writes first check `fence` (that this server still leads the cluster in its term): a
   * transaction it refuses writes nothing, and so does a journal batch (see {@link applyJournalBatch}).
   */
  withFence(fence: WriteFence): JobStore {
    return new JobStore({ db: this.db, inOrder: this.inOrder, kind: this.kind }, this.inTransaction, fence);
  }

  /**
   * Runs `work` in one transaction on a store bound to it: all of its changes commit together or not at all
   * (e.g. a journal persisting a batch of transitions with one commit).
   */
  transaction<T>(work: (store: JobStore) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      // Taken up front: a batch that locked rows first and the event order later could deadlock with a
      // single transition that holds the event-order lock and waits for one of those rows.
      await lockEventOrder(tx);
      await this.fence?.check(tx);
      return work(new JobStore({ db: tx }, true));
    });
  }

  /**
   * Runs `write` on this store's database, or, when this store has a fence and is not in a transaction already, in a
   * transaction that checks the fence first: a term's late write lands nowhere.
   */
  private fenced<T>(write: (db: AnvilDb) => Promise<T>): Promise<T> {
    return this.fence && !this.inTransaction ? this.transaction((store) => write(store.db)) : write(this.db);
  }

  /** Creates a conversation of `owner`'s (default `local`; "New conversation" when untitled). */
  createConversation(title?: string, owner?: string): Promise<Conversation> {
    return conversations.createConversation(this.db, title, owner);
  }

  /** `owner`'s conversations (everyone's when undefined), newest first; with `page`, one page of them. */
  listConversations(owner?: string, page?: ConversationPage): Promise<Conversation[]> {
    return conversations.listConversations(this.db, owner, page);
  }

  /** One conversation with its owner, or null. */
  getConversation(id: string): Promise<OwnedConversation | null> {
    return conversations.getConversation(this.db, id);
  }

  /** Gives a conversation a new title; null when there is none with that id. */
  renameConversation(id: string, title: string): Promise<Conversation | null> {
    return conversations.renameConversation(this.db, id, title);
  }

  /** Deletes a conversation whose jobs have all ended, with everything of theirs (see conversations.ts). */
  deleteConversation(id: string): Promise<ConversationDeletion> {
    return conversations.deleteConversation(this.db, id);
  }

  /** A conversation's messages, oldest first (empty for an unknown conversation). */
  listMessages(conversationId: string): Promise<Message[]> {
    return conversations.listMessages(this.db, conversationId);
  }

  /** Stores a queued job atomically; throws `ConversationNotFound`; a repeated idempotency key returns the first job. */
  submitJob(input: SubmitJobInput): Promise<SubmitJobResult> {
    return submitJob(this.db, input, this.fence ?? null);
  }

  /** Stores many jobs in one transaction, in order; each input gets its job or its own `ConversationNotFound`. */
  submitJobs(inputs: readonly SubmitJobInput[]): Promise<SubmitOutcome[]> {
    return submitJobs(this.db, inputs, this.fence ?? null);
  }

  /**
   * Whether batches sent by {@link submitNewJobs} are stored by a database server on a connection of their own while
   * this thread goes on (PostgreSQL), so that two in flight overlap; PGlite stores them on this thread, one after the
   * other, and a batch cut in two would only cost a second call.
   */
  get pipelinesSubmissions(): boolean {
    return this.inOrder !== this.db;
  }

  /**
   * Stores every input as a new queued job in one statement, or writes nothing and answers null when the batch needs
   * {@link submitJobs}'s general path (a named conversation, a repeated key). Sent on the database's in-order
   * connection: batches sent one after another commit in that order, however many are in flight.
   */
  submitNewJobs(inputs: readonly SubmitJobInput[]): Promise<SubmitJobResult[] | null> {
    return submitNewJobs(this.inOrder, inputs, this.fence ?? null);
  }

  /** Stores every input in one transaction, in order, or none: the first refused one throws `BatchRejected`. */
  submitJobsAtomically(inputs: readonly SubmitJobInput[]): Promise<SubmitJobResult[]> {
    return submitJobsAtomically(this.db, inputs, this.fence ?? null);
  }

  /** One job, or null. */
  getJob(id: string): Promise<JobRecord | null> {
    return queries.getJob(this.db, id);
  }

  /** Which of `keys` name a job `owner` submitted already. */
  heldKeys(owner: string, keys: readonly string[]): Promise<Set<string>> {
    return queries.heldKeys(this.db, owner, keys);
  }

  /** Jobs oldest first, filtered, a page at a time; throws `InvalidCursor` for a cursor it did not hand out. */
  listJobs(input: ListJobsInput): Promise<JobPage> {
    return queries.listJobs(this.db, input);
  }

  /** Every job that `filter` matches, oldest first, read a page of 500 at a time. */
  async listAllJobs(filter: Omit<ListJobsInput, "limit" | "cursor" | "order">): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listJobs({ ...filter, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      jobs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return jobs;
  }

  /** Queued and processing jobs in submission order. */
  activeJobs(): Promise<JobRecord[]> {
    return queries.activeJobs(this.db);
  }

  /** The last `limit` jobs that ran on a backend and ended, in the order they started (for GPU time estimates). */
  recentRuns(limit: number): Promise<JobRecord[]> {
    return queries.recentRuns(this.db, limit);
  }

  /** A queued job's place in the queue (1 = next), derived from the database; 0 when not queued. */
  queuePosition(jobId: string): Promise<number> {
    return queries.queuePosition(this.db, jobId);
  }

  /** Applies a status change once (null when the job is not in `t.from`), with its message update and event. */
  applyTransition(t: Transition): Promise<AppliedTransition | null> {
    if (this.inTransaction) return transitions.applyTransitionLocked(this.db, t);
    // A term's own transitions (a new leader's recovery) land only while it lasts, as its journal's batches do: a
    // late requeue would show a job waiting that the next leader runs, and lose that run's end.
    if (this.fence) return this.transaction((store) => store.applyTransition(t));
    return transitions.applyTransition(this.db, t);
  }

  /**
   * Applies a journal batch (status changes logged as `toJob(record, 0)`, progress values) in order, all or none,
   * in one statement: one round trip, one commit (apply-changes.ts), fenced by this store's term.
   */
  applyJournalBatch(changes: readonly JournalChange[]): Promise<RowChangeResult[]> {
    if (this.inTransaction) throw new Error("applyJournalBatch is a statement of its own, not part of a transaction");
    return applyChangesAtOnce(this.db, changes, this.fence ?? null);
  }

  /** Each owner's last turn and whether the queue is paused, for a new leader to rebuild the line. */
  lineState(): Promise<LineState> {
    return queueControl.lineState(this.db);
  }

  /** Pauses or resumes the queue (persisted). */
  setPaused(paused: boolean): Promise<void> {
    // Fenced: a term's late pause (or move) would hold a line the next leader, which read it at its start, does not.
    return this.fenced((db) => queueControl.setPaused(db, paused));
  }

  /** Records a move of a queued job and who (`by`) moved it; null when it is not queued. */
  moveJob(jobId: string, to: LineMove, by: string): Promise<JobRecord | null> {
    return this.fenced((db) => queueControl.moveJob(db, jobId, to, by));
  }

  /**
   * Counts a processing job's attempt that a shutdown stopped as spared (see attempts.ts): `spared` is the count read
   * with the job; false when it is not that attempt or that count.
   */
  spareAttempt(jobId: string, attempt: number, spared: number): Promise<boolean> {
    return this.fenced((db) => spareAttempt(db, jobId, attempt, spared));
  }

  /** Records a processing job's progress in the job and its message, without an event; null when not processing. */
  updateProgress(jobId: string, progress: number): Promise<JobRecord | null> {
    return this.inTransaction
      ? transitions.updateProgressIn(this.db, jobId, progress)
      : transitions.updateProgress(this.db, jobId, progress);
  }

  /** Deep-merges `patch` into a message's metadata in one statement; false for an unknown message. */
  mergeMessageMetadata(messageId: string, patch: Record<string, unknown>): Promise<boolean> {
    return transitions.mergeMessageMetadata(this.db, messageId, patch);
  }

  /** Up to `limit` events after `cursor` in id order; ids are safe resume cursors. */
  eventsAfter(cursor: number, filter: EventFilter, limit: number): Promise<JobEvent[]> {
    return events.eventsAfter(this.db, cursor, filter, limit);
  }

  /** The oldest retained event id (null when none): a cursor below it minus one has missed pruned events. */
  oldestEventId(): Promise<number | null> {
    return events.oldestEventId(this.db);
  }

  /** The newest event id, or null when none. */
  latestEventId(): Promise<number | null> {
    return events.latestEventId(this.db);
  }

  /**
   * Whether the database takes writes now: false while it is read-only (a standby that a failover landed on, or
   * `default_transaction_read_only`), which a read alone does not tell. Rejects when it does not answer.
   */
  async takesWrites(): Promise<boolean> {
    const [row] = rowsOf(await this.db.execute(sql`select current_setting('transaction_read_only') as read_only`));
    return row?.["read_only"] !== "on";
  }

  /** Deletes events with an id below `olderThanId`; returns the count. */
  pruneEvents(olderThanId: number): Promise<number> {
    return events.pruneEvents(this.db, olderThanId);
  }

  /** Deletes the events older than `ageMs`, oldest first and never the latest one; returns the count. */
  pruneEventsOlderThan(ageMs: number): Promise<number> {
    return events.pruneEventsOlderThan(this.db, ageMs);
  }

  /**
   * Whether nothing else keeps this database's tables up: the embedded one runs no autovacuum, and a PostgreSQL
   * server may have it turned off (`autovacuum = off`, as on this project's CI machine). Asked each time: a reload
   * of PostgreSQL's configuration can change it.
   */
  private async withoutAutovacuum(): Promise<boolean> {
    if (this.kind === "pglite") return true;
    if (this.kind !== "postgres") return false;
    const [row] = rowsOf(await this.db.execute(sql`select current_setting('autovacuum') as autovacuum`));
    return row?.["autovacuum"] !== "on";
  }

  /**
   * Makes the space of deleted rows (pruned events, deleted conversations, delivered webhooks, ended sessions)
   * usable again where no autovacuum does (see {@link withoutAutovacuum}): without it the files only grow, however
   * much is deleted. A plain VACUUM: it shrinks no file, takes no exclusive lock, and skips the pages that did not
   * change since the last one (a few ms then; about 50 ms after 100,000 deleted events). Where autovacuum runs, it
   * does nothing. True when it vacuumed.
   */
  async reclaimSpace(): Promise<boolean> {
    if (!(await this.withoutAutovacuum())) return false;
    await this.db.execute(sql`vacuum`);
    return true;
  }

  /**
   * Does what PostgreSQL's autovacuum does for the planner's statistics, where none runs (the embedded database;
   * see {@link withoutAutovacuum}): ANALYZEs each table changed by more rows than it held (and 50) since it was last
   * analyzed. A connection keeps the plans it made (of the SQL functions, of the foreign keys' checks) until a
   * table's statistics change: made while the tables were empty, they read them whole, so that every submission cost
   * more as the tables grew (on PGlite a burst of 9,600 fell from 780 to 200 a second). Autovacuum's rule is a tenth
   * of the table, in a worker of its own; on PGlite the ANALYZE holds the one connection (100–300 ms at 40,000 jobs),
   * so a table is analyzed each time it doubled: a plan needs to know that a table is large, not exactly how large.
   * Where autovacuum runs it does nothing. Resolves to the tables it analyzed.
   */
  async refreshStatistics(): Promise<string[]> {
    if (!(await this.withoutAutovacuum())) return [];
    // PGlite's counts of changes reach the statistics views at most once a second, when its one connection goes
    // idle: this makes the next idle moment (after this statement) send them. (PostgreSQL's other connections send
    // their own.)
    if (this.kind === "pglite") await this.db.execute(sql`select pg_stat_force_next_flush()`);
    const stale = rowsOf(
      await this.db.execute(sql`
        select s.relname as name
        from pg_stat_user_tables s join pg_class c on c.oid = s.relid
        where s.n_mod_since_analyze > 50 + greatest(c.reltuples, 0)
        order by s.relname`),
    ).map((row) => String(row["name"]));
    for (const name of stale) await this.db.execute(sql`analyze ${sql.identifier(name)}`);
    return stale;
  }
}
