import { LaneAbandoned } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import type { SubmitJobInput, SubmitJobResult, SubmitOutcome } from "@anvil/persistence";
import { isDatabaseUnreachable, isTransientDatabaseError } from "@anvil/persistence";
import type { Caller } from "./caller";
import { DATABASE_CHECK_DEADLINE_MS } from "./database-available";
import { databaseUnavailable, Unavailable, UserGone } from "./errors";

/** The most submissions stored in one transaction. */
const MAX_BATCH = 256;
/** From this many single submissions waiting with nothing in flight, they are cut in two batches that overlap. */
const SPLIT_AT = 8;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type StoreAnswer = { outcomes: readonly SubmitOutcome[] | null } | { error: unknown };

/**
 * The longest a submission waits past its deadline for a batch that a database which answers is still storing: a
 * batch held up for good (a lock that is never let go) is refused in the end, as a database that does not answer is.
 */
export const PATIENCE_MS = 60_000;

/** What a refused submission did not do; a call of another kind refused in the lane says its own (`notDone`). */
const NOT_ACCEPTED = "the job was not accepted";
/** What a refused all-or-nothing batch (`jobs.submitMany`) did not do. */
export const BATCH_NOT_ACCEPTED = "none of the jobs was accepted";

const notDoneOf = (entry: { atomic: boolean }) => (entry.atomic ? BATCH_NOT_ACCEPTED : NOT_ACCEPTED);

export const databaseDown = (cause?: unknown, notDone = NOT_ACCEPTED) => {
  const { reason, again } = databaseUnavailable(cause);
  return new Unavailable({ message: `${reason}; ${notDone}, try again ${again}`, cause });
};

const databaseSlow = (atomic: boolean) =>
  new Unavailable({
    message: atomic
      ? "The database did not answer in time; the jobs may still be accepted, all of them or none: submit them " +
        "again with the same idempotencyKey each to find out (without keys, look for them with jobs.list first)"
      : "The database did not answer in time; the job may still be accepted: submit it again with the same idempotencyKey to find out",
  });

const userGone = () =>
  new UserGone({
    message:
      "Your user was removed while this submission was on its way; the job was not accepted (an admin can make the " +
      "user again)",
  });

/** The lane's term as the leader ended before a call's turn: nothing of it was done. */
export const termOver = (cause: unknown, notDone = NOT_ACCEPTED) =>
  new Unavailable({
    message: `This server stopped running the queue (another server of the cluster takes over); ${notDone}, try again`,
    cause,
  });

/** What {@link Submissions} is built from. */
export interface SubmissionsOptions {
  /** Runs a task in the journal's lane (after everything recorded before it, before anything after). */
  run: (task: () => Promise<void>) => Promise<void>;
  /** When the lane last moved, on the monotonic clock of `performance.now()` (see Journal.lastProgressAt). */
  lastProgressAt: () => number;
  /** Stores many submissions in one transaction, in order, each with its own outcome. */
  store: (inputs: readonly SubmitJobInput[]) => Promise<SubmitOutcome[]>;
  /**
   * Stores new jobs in one statement on the in-order connection (batches sent one after another commit in that
   * order), or writes nothing and answers null when they need {@link store}'s general path. Absent, every batch
   * goes through {@link store}, one at a time.
   */
  storeNew?: (inputs: readonly SubmitJobInput[]) => Promise<SubmitJobResult[] | null>;
  /**
   * How many batches {@link storeNew} may have in flight at once (default 1): 2 where the database works beside this
   * thread, which then answers one batch while the next is stored.
   */
  inFlight?: number;
  /** Whether other work waits for the lane (see Journal.waiting): a turn of submissions then ends. */
  laneWaiting?: () => boolean;
  /** Stores all the inputs in one transaction, in order, or none of them (throws the refusal). */
  storeAll: (inputs: readonly SubmitJobInput[]) => Promise<SubmitJobResult[]>;
  /**
   * Takes stored jobs into the queue, in one step, and announces the new ones; called for every job stored,
   * answered in time or not. A repeated idempotency key answers with the job it made.
   */
  acceptAll: (results: readonly SubmitJobResult[]) => Job[];
  /**
   * Called when a store failed in a way that leaves its outcome unknown (the connection went while it committed):
   * the jobs may be stored although their clients are told they were not accepted.
   */
  onUncertain?: () => void;
  /** How long one submission may wait for a database that does not answer before it is refused. */
  deadlineMs: number;
  /**
   * Asks the database something small on a connection of its own, and settles when it answers (see
   * {@link Submissions.databaseAnswers}). Absent, a batch in flight past the deadline is taken for a database that
   * does not answer.
   */
  answering?: () => Promise<unknown>;
  /** How long past its deadline a submission waits on while the database answers; {@link PATIENCE_MS} unless given. */
  patienceMs?: number;
  /**
   * Whether the user who made a submission was removed since the call was admitted (see `UserRemovals`): it is then
   * refused as it is taken to the database. Removals run in the lane too, so a submission taken before one is in the
   * line when the removal ends, and one taken after it is refused.
   */
  removedSince?: (caller: Caller) => boolean;
}

interface Waiting {
  inputs: readonly SubmitJobInput[];
  /** Who made the submission, when a caller did (an admin's retry is the admin's, whoever's job it repeats). */
  by: Caller | undefined;
  /** All or none (`jobs.submitMany`): stored alone, in a transaction of its own. */
  atomic: boolean;
  /** Sent to the database: from now on a refusal cannot promise that it was not stored. */
  sent: boolean;
  /** When its deadline first passed while the database, answering, was storing a batch (see `arm`). */
  patientSince?: number;
  settled: boolean;
  timer?: NodeJS.Timeout;
  resolve(jobs: Job[]): void;
  reject(error: unknown): void;
}

/**
 * Submissions, stored in batches: all that arrive while the lane is busy go to the database together, in one
 * transaction, in their order, so a burst of submissions costs a commit, not a commit each.
 *
 * Each one has a deadline. Refused while it still waits, it is withdrawn and never stored (its client was told
 * "not accepted"); refused once sent, the client is told that it may still have been accepted. The deadline is for a
 * database that does not answer: one that is storing a large batch, and answers a question on another connection
 * meanwhile, is waited for, and the batch gets its real outcome.
 */
export class Submissions {
  private waiting: Waiting[] = [];
  /** A turn of the lane is queued or running: it takes whatever waits, and queues the next turn when it ends. */
  private scheduled = false;
  /** When a batch was last answered: a lane that stores submissions moves, however long its turn. */
  private movedAt = 0;
  /** Batches sent to the database and not answered yet. */
  private storing = 0;
  /** The question of {@link databaseAnswers} in flight, shared by the submissions whose deadline passes meanwhile. */
  private asking: Promise<boolean> | null = null;

  constructor(private readonly options: SubmissionsOptions) {}

  /** Stores one submission of `by`'s, batched with others that arrive meanwhile. */
  async submit(input: SubmitJobInput, by?: Caller): Promise<Job> {
    const [job] = await this.enqueue([input], false, by);
    if (job === undefined) throw new Error("the store returned no job");
    return job;
  }

  /** Stores every input of `by`'s, in order, in one transaction of their own, or none of them. */
  submitAll(inputs: readonly SubmitJobInput[], by?: Caller): Promise<Job[]> {
    return this.enqueue(inputs, true, by);
  }

  private enqueue(inputs: readonly SubmitJobInput[], atomic: boolean, by: Caller | undefined): Promise<Job[]> {
    return new Promise<Job[]>((resolve, reject) => {
      const entry: Waiting = {
        inputs,
        by,
        atomic,
        sent: false,
        settled: false,
        resolve,
        reject,
      };
      this.arm(entry, this.options.deadlineMs);
      this.waiting.push(entry);
      this.schedule();
    });
  }

  /**
   * The deadline counts time in which the lane does not move: behind a burst of work the database is busy, not
   * gone, and a waiting submission is kept; behind a write that hangs it is refused after `deadlineMs`. While a
   * batch of submissions is in flight (a submission's own, or the one it waits behind), the lane moves only when it
   * is answered, which takes long for a large one: the database is then asked whether it answers at all, and the
   * submission is refused only when it does not, or once it has waited {@link PATIENCE_MS} past its deadline.
   */
  private arm(entry: Waiting, ms: number): void {
    entry.timer = setTimeout(() => {
      const movedAt = Math.max(this.options.lastProgressAt(), this.movedAt);
      const left = movedAt + this.options.deadlineMs - performance.now();
      if (left > 0 && !entry.sent) return this.arm(entry, left);
      const refusal = () => (entry.sent ? databaseSlow(entry.atomic) : databaseDown(undefined, notDoneOf(entry)));
      if (this.storing === 0) return this.refuse(entry, refusal());
      void this.databaseAnswers().then((answers) => {
        if (entry.settled) return;
        const now = performance.now();
        entry.patientSince ??= now;
        const patience = this.options.patienceMs ?? PATIENCE_MS;
        if (answers && now - entry.patientSince < patience) this.arm(entry, this.options.deadlineMs);
        else this.refuse(entry, refusal());
      });
    }, ms);
  }

  /**
   * Whether the database answers a small question within {@link DATABASE_CHECK_DEADLINE_MS} (as `health` asks it):
   * then a batch in flight is being worked on, not lost on a connection that went silent.
   */
  private databaseAnswers(): Promise<boolean> {
    const { answering } = this.options;
    if (answering === undefined) return Promise.resolve(false);
    this.asking ??= new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), DATABASE_CHECK_DEADLINE_MS);
      Promise.resolve()
        .then(answering)
        .then(
          () => resolve(true),
          () => resolve(false),
        )
        .finally(() => clearTimeout(timer));
    }).finally(() => (this.asking = null));
    return this.asking;
  }

  /**
   * Refuses (and withdraws) every submission not yet sent to the database, e.g. when a write just failed: each
   * with `refusal` of what it did not do (one job, or a batch's jobs).
   */
  refuseWaiting(refusal: (notDone: string) => unknown): void {
    for (const entry of [...this.waiting]) this.refuse(entry, refusal(notDoneOf(entry)));
  }

  private refuse(entry: Waiting, error: unknown): void {
    if (!entry.sent) this.waiting = this.waiting.filter((w) => w !== entry);
    this.settle(entry, () => entry.reject(error));
  }

  /**
   * Takes `count` submissions from the front to send them, less those whose user was removed since they were
   * admitted: those are refused here, never stored. In the lane, so no removal comes between this and the store.
   */
  private take(count: number): Waiting[] {
    const taken = this.waiting.splice(0, count);
    const { removedSince } = this.options;
    if (removedSince === undefined) return taken;
    return taken.filter((entry) => {
      if (entry.by === undefined || !removedSince(entry.by)) return true;
      this.settle(entry, () => entry.reject(userGone()));
      return false;
    });
  }

  private settle(entry: Waiting, answer: () => void): void {
    clearTimeout(entry.timer);
    if (entry.settled) return;
    entry.settled = true;
    answer();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.options
      .run(async () => {
        try {
          await this.storeBatches();
        } finally {
          this.scheduled = false;
          if (this.waiting.length > 0) this.schedule();
        }
      })
      .catch((error: unknown) => {
        // Anything else is a fault of this turn's own, whose `finally` already ran: as loud as before.
        if (!(error instanceof LaneAbandoned)) throw error;
        // The lane was abandoned before this turn ran (this server's term as the leader is over): nothing waiting
        // was sent, and nothing here will send it.
        this.scheduled = false;
        this.refuseWaiting((notDone) => termOver(error, notDone));
      });
  }

  /** The single submissions waiting in a row at the front (up to the first all-or-nothing group). */
  private singlesAhead(): number {
    const atomic = this.waiting.findIndex((entry) => entry.atomic);
    return atomic < 0 ? this.waiting.length : atomic;
  }

  /**
   * One turn of the lane: the submissions waiting now and those that arrive while it runs (they queue no turn of
   * their own meanwhile, which would count as other work waiting), as long as nothing else waits for the lane.
   * Single submissions go in one-statement batches on the in-order connection, up to
   * {@link SubmissionsOptions.inFlight} at once: the database stores one while the batch before it is answered and
   * its callers submit again, and they commit in the order sent, so the line and the event ids keep that order. An
   * all-or-nothing group, or a batch the one statement cannot take, goes alone, once nothing is in flight.
   */
  private async storeBatches(): Promise<void> {
    // Group commit: one turn of the event loop before the batch is cut, so that submissions already on their way
    // (requests just read from their sockets, callers just answered that submit again) share this commit.
    await nextTurn();
    const storeNew = this.options.storeNew;
    const depth = storeNew === undefined ? 1 : (this.options.inFlight ?? 1);
    const inFlight: { batch: Waiting[]; answer: Promise<StoreAnswer> }[] = [];
    const general: Waiting[] = [];
    let sent = false;
    for (;;) {
      for (;;) {
        const singles = this.singlesAhead();
        if (inFlight.length >= depth || general.length > 0 || singles === 0) break;
        // After this turn's first batch, whatever else waits for the lane goes first.
        const yielding = this.options.laneWaiting?.() ?? true;
        if (sent && yielding) break;
        // Cut in two only when the second half may follow the first at once.
        const split = depth > 1 && inFlight.length === 0 && singles >= SPLIT_AT && !yielding;
        const batch = this.take(Math.min(split ? Math.ceil(singles / 2) : MAX_BATCH, singles));
        if (batch.length === 0) continue;
        for (const entry of batch) entry.sent = true;
        // One input each: a batch of single submissions.
        const inputs = batch.flatMap((entry) => entry.inputs);
        const stored = storeNew === undefined ? this.options.store(inputs) : storeNew(inputs);
        this.storing++;
        inFlight.push({
          batch,
          answer: stored
            .then(
              (outcomes) => ({ outcomes }),
              (error: unknown) => ({ error }),
            )
            .finally(() => this.storing--),
        });
        sent = true;
      }
      const head = inFlight.shift();
      if (head === undefined) break;
      const answer = await head.answer;
      this.movedAt = performance.now();
      if ("error" in answer) this.failed(head.batch, answer.error);
      else if (answer.outcomes === null) general.push(...head.batch);
      else this.answer(head.batch, answer.outcomes);
      // Callers just answered submit again within this turn: they join the next batch.
      if (inFlight.length > 0 || this.waiting.length > 0) await nextTurn();
    }
    // Nothing is in flight now: what the one statement could not take goes the general way, still in this turn.
    if (general.length > 0) await this.storeAlone(general, false);
    else if (!sent && this.waiting[0]?.atomic) {
      const group = this.take(1);
      if (group.length > 0) await this.storeAlone(group, true);
    }
  }

  /** Stores `batch` in a transaction of its own: an all-or-nothing group, or single submissions the general way. */
  private async storeAlone(batch: Waiting[], atomic: boolean): Promise<void> {
    for (const entry of batch) entry.sent = true;
    // An all-or-nothing group is one entry; single submissions are one input each.
    const inputs = batch.flatMap((entry) => entry.inputs);
    let outcomes: readonly SubmitOutcome[];
    this.storing++;
    try {
      outcomes = atomic ? await this.options.storeAll(inputs) : await this.options.store(inputs);
    } catch (error) {
      this.failed(batch, error);
      return;
    } finally {
      this.storing--;
    }
    this.movedAt = performance.now();
    this.answer(batch, outcomes);
  }

  /** A store failed: each of `batch` is refused, and its outcome is unknown when the connection went meanwhile. */
  private failed(batch: readonly Waiting[], error: unknown): void {
    // The driver fails a query at once when the database cannot be reached, and a database with a full disk or
    // in read-only mode refuses it: neither is an internal error.
    const transient = isTransientDatabaseError(error);
    for (const entry of batch) {
      this.settle(entry, () => entry.reject(transient ? databaseDown(error, notDoneOf(entry)) : error));
    }
    // The connection may have gone after the COMMIT reached the server: then these jobs are stored and waiting.
    if (isDatabaseUnreachable(error)) this.options.onUncertain?.();
  }

  /**
   * Takes a batch's stored jobs into the queue, in one step of the scheduler, and answers each entry: a single
   * submission refused alone (an unknown conversation, say) gets its refusal, an all-or-nothing group all of its
   * jobs.
   */
  private answer(batch: readonly Waiting[], outcomes: readonly SubmitOutcome[]): void {
    const stored: { entry: Waiting; results: SubmitJobResult[] }[] = [];
    let offset = 0;
    for (const entry of batch) {
      const mine = outcomes.slice(offset, offset + entry.inputs.length);
      offset += entry.inputs.length;
      const refused = mine.find((outcome) => outcome instanceof Error);
      if (refused !== undefined) this.settle(entry, () => entry.reject(refused));
      else if (mine.length !== entry.inputs.length) {
        this.settle(entry, () => entry.reject(new Error("the store returned no outcome")));
      } else stored.push({ entry, results: mine as SubmitJobResult[] });
    }
    let jobs: Job[] | null = null;
    try {
      jobs = this.options.acceptAll(stored.flatMap(({ results }) => results));
    } catch {
      // One entry at a time below, so that a failure refuses only the submission it belongs to.
    }
    offset = 0;
    for (const { entry, results } of stored) {
      if (jobs !== null) {
        const mine = jobs.slice(offset, offset + results.length);
        offset += results.length;
        this.settle(entry, () => entry.resolve(mine));
        continue;
      }
      try {
        const mine = this.options.acceptAll(results);
        this.settle(entry, () => entry.resolve(mine));
      } catch (error) {
        // Never out of this task: the lane's promise is not awaited, a throw would be an unhandled rejection.
        this.settle(entry, () => entry.reject(error));
      }
    }
  }
}
