import { LaneAbandoned } from "@anvil/job-machine";
import type { EffectRuntime, Job, JobScheduler } from "@anvil/job-machine";
import type { ImageStore, JobRecord, SubmitJobInput as StoredSubmission } from "@anvil/persistence";
import { BatchRejected, ConversationNotFound, databaseErrorText, isDatabaseUnreachable } from "@anvil/persistence";
import type { BackendMonitor } from "./backend-monitor";
import { LOCAL_USER, mayAccess } from "./caller";
import type { Caller } from "./caller";
import type { CheckpointCatalog } from "./checkpoint-catalog";
import { databaseAvailable } from "./database-available";
import { Conflict, Invalid, Unavailable } from "./errors";
import { HISTORY_RUNS } from "./estimates";
import type { Estimates } from "./estimates";
import type { EventRetention } from "./event-retention";
import type { StatisticsUpkeep } from "./statistics-upkeep";
import type { JobPublisher } from "./job-publisher";
import type { LiveJobs } from "./live-jobs";
import { conversationNotFound, ownConversation } from "./ownership";
import { countNewJobs } from "./queue-quota";
import type { QueueQuota } from "./queue-quota";
import type { Recovery } from "./recovery";
import { wireJobService } from "./service-wiring";
import type { JobServiceOptions, JobServiceParts } from "./service-wiring";
import { settleWithin } from "./settle-within";
import { toStoredSubmission, toStoredSubmissions } from "./stored-submission";
import type { SubmitInput } from "./stored-submission";
import { BATCH_NOT_ACCEPTED, databaseDown, termOver } from "./submissions";
import type { Submissions } from "./submissions";
import type { Persisted } from "./transition-writer";

export { MAX_ATTEMPTS } from "@anvil/job-machine";

/** How long a cancellation may wait for the database before it is refused as unavailable. */
const CANCEL_DEADLINE_MS = 5_000;

const cancelUnconfirmed = (cause?: unknown) =>
  new Unavailable({
    message: "The database is not reachable right now, so the cancellation could not be confirmed; try again shortly",
    cause,
  });

/** `work`, or `onTimeout()` once it has not settled within `ms` (the work itself goes on). */
const withDeadline = <T>(work: Promise<T>, ms: number, onTimeout: () => Unavailable): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
};

/**
 * Anvil's application service, as the routers see it: submits, cancels, moves and retries jobs, pauses the queue,
 * and answers reads with live positions. The work is its parts' (see service-wiring.ts): the journal persists
 * every transition before it is published, the read model answers, recovery rebuilds the line at start.
 */
export class JobService {
  readonly scheduler: JobScheduler<Persisted>;
  readonly monitor: BackendMonitor;
  readonly checkpoints: CheckpointCatalog;
  /** Prunes the job event log to its retention. */
  readonly retention: EventRetention;
  private readonly statistics: StatisticsUpkeep;
  /** Every waiting and running job's expected start and end, learned from the GPU time of finished jobs. */
  readonly estimates: Estimates;
  private readonly live: LiveJobs;
  private readonly submissions: Submissions;
  private readonly quota: QueueQuota;
  private readonly recovery: Recovery;
  private readonly runtime: EffectRuntime;
  private readonly images: ImageStore;
  private readonly publisher: JobPublisher;
  /** The last pause, resume or move: the next one is written once it is applied (see {@link inTurn}). */
  private controls: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: JobServiceOptions,
    parts: JobServiceParts,
  ) {
    this.scheduler = parts.scheduler;
    this.monitor = parts.monitor;
    this.checkpoints = parts.checkpoints;
    this.retention = parts.retention;
    this.statistics = parts.statistics;
    this.estimates = parts.estimates;
    this.live = parts.live;
    this.submissions = parts.submissions;
    this.quota = parts.quota;
    this.recovery = parts.recovery;
    this.runtime = parts.runtime;
    this.images = parts.images;
    this.publisher = parts.publisher;
  }

  /**
   * Rebuilds the queue from the database, in order, starts probing the backends, pruning the event log and keeping
   * the planner statistics up where no autovacuum does.
   */
  static async start(options: JobServiceOptions): Promise<JobService> {
    const service = new JobService(options, wireJobService(options, await options.store.lineState()));
    // What the last leader learned is in the database: every server that leads estimates the same.
    service.estimates.learnFrom(await options.store.recentRuns(HISTORY_RUNS));
    await service.recovery.rebuildLine();
    const { leftBehind, movedAheadAgain } = service.recovery;
    // The places those moves hand on again are the journal's to write: the first pause, resume or move waits for
    // them as for a move's own (see move).
    service.controls = service.placesWritten(movedAheadAgain);
    service.monitor.start(
      options.firstProbeAfterMs,
      options.backends.flatMap((backend, i) => (leftBehind.has(backend.baseUrl) ? [i] : [])),
    );
    service.retention.start();
    service.statistics.start();
    return service;
  }

  /**
   * Accepts `by`'s job: persisted first, then queued, then announced. The same idempotency key never makes two,
   * and returns the job it made even when `by` has as many waiting as MAX_QUEUED_PER_USER allows.
   * A conversation must be the caller's own, an admin's too (see {@link whoseConversation}).
   */
  async submit(input: SubmitInput, by: Caller = LOCAL_USER): Promise<Job> {
    const stored = await toStoredSubmission(input, by, this.checks());
    if (this.scheduler.journal.failing) throw databaseDown(this.scheduler.journal.failure);
    return this.admit(by.name, [stored], () => this.submissions.submit(stored, by)).catch((error: unknown) =>
      this.whoseConversation(error, by, (field) => field),
    );
  }

  /**
   * Accepts every job of `by` in one transaction, in the order given (their positions follow it), or none: the
   * first one refused refuses them all, named by its index. Each new job counts against MAX_QUEUED_PER_USER
   * (one whose idempotency key returns the job it made does not).
   */
  async submitMany(inputs: readonly SubmitInput[], by: Caller = LOCAL_USER): Promise<Job[]> {
    const stored = await toStoredSubmissions(inputs, by, this.checks());
    if (this.scheduler.journal.failing) throw databaseDown(this.scheduler.journal.failure, BATCH_NOT_ACCEPTED);
    return this.admit(by.name, stored, () => this.submissions.submitAll(stored, by)).catch((error: unknown) =>
      this.whoseConversation(error, by, (field, i) => `jobs.${i}.${field}`),
    );
  }

  /**
   * Rethrows a refused submission's error. An admin sees and acts on anyone's conversation, but a new job goes into a
   * conversation of the user who submits it (an admin's job in ann's conversation would be a card there that ann may
   * not read): the store refuses one into another's conversation as not found, as it does for anyone, and only then,
   * off the path of every submission that goes through, an admin is told whose conversation it is.
   */
  private async whoseConversation(
    error: unknown,
    by: Caller,
    named: (field: string, index: number) => string,
  ): Promise<never> {
    const refused = error instanceof BatchRejected ? error.cause : error;
    if (by.admin && refused instanceof ConversationNotFound) {
      const { conversationId } = refused;
      const conversation = await this.options.store.getConversation(conversationId).catch(() => null);
      if (conversation && conversation.owner !== by.name) {
        const field = named("conversationId", error instanceof BatchRejected ? error.index : 0);
        throw new Invalid({
          field,
          message: `${field}: conversation ${conversationId} is ${conversation.owner}'s; a job goes into a conversation of the user who submits it (leave conversationId out to start a new one)`,
        });
      }
    }
    throw error;
  }

  private checks() {
    return { checkpoints: this.checkpoints, callbackRefusal: this.options.callbackRefusal };
  }

  /** `submit` of `inputs`, unless the new jobs among them would pass MAX_QUEUED_PER_USER (TOO_MANY_REQUESTS). */
  private admit<T>(owner: string, inputs: readonly StoredSubmission[], submit: () => Promise<T>): Promise<T> {
    return this.quota.admit({ owner, inputs, submit, countNew: () => countNewJobs(this.options.store, owner, inputs) });
  }

  /**
   * A new job with the prompt, params, conversation, priority and `callbackUrl` of a job that ended in error or was
   * cancelled; a new waiting job, so it counts against MAX_QUEUED_PER_USER like a submission. With `idempotencyKey`
   * it is a submission of the job's owner under that key: sent again (its answer lost), it returns the job it made.
   */
  async retry(jobId: string, by: Caller = LOCAL_USER, idempotencyKey?: string): Promise<Job> {
    const record = await this.live.find(jobId, by);
    if (record.status !== "error" && record.status !== "cancelled") {
      throw new Conflict({
        message: `Job ${jobId} is ${record.status}; only a failed or cancelled job can be retried`,
      });
    }
    if (this.scheduler.journal.failing) throw databaseDown(this.scheduler.journal.failure);
    const again: StoredSubmission = {
      prompt: record.prompt,
      params: record.params,
      conversationId: record.conversationId,
      owner: record.owner,
      priority: record.priority,
      // The service that asked to be called back about the first attempt wants to hear how this one ends too.
      ...(record.callbackUrl === null ? {} : { callbackUrl: record.callbackUrl }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    // Counted against the job's owner, whose waiting jobs it joins (an admin may retry anyone's).
    return this.admit(record.owner, [again], () => this.submissions.submit(again, by));
  }

  /**
   * Removes the user `name` with `remove` (which deletes their row; false when there was none) in the submission
   * lane: every submission of theirs taken to the database before it is in the line when it ends, and every one
   * still on its way (admitted before the removal, not yet stored) is refused, so that their waiting jobs, cancelled
   * after it, are all there are. Like a submission, it is refused at once while the database does not answer.
   */
  async removeUser(name: string, remove: () => Promise<boolean>): Promise<boolean> {
    const { journal } = this.scheduler;
    const notDone = "the user was not removed";
    if (journal.failing) throw databaseDown(journal.failure, notDone);
    return journal
      .run(async () => {
        const gone = await remove();
        if (gone) this.options.removals?.removed(name);
        return gone;
      })
      .catch((error: unknown) => {
        // This server's term as the leader ended before the removal's turn: nothing was removed.
        throw error instanceof LaneAbandoned ? termOver(error, notDone) : error;
      });
  }

  /**
   * Cancels a queued or running job; CONFLICT once it is complete or in error. Like a submission it does not wait
   * for a database that does not answer: after a few seconds it is refused as unavailable (a running generation
   * is stopped all the same, and its cancellation is written once the database is back). `by`: the user who cancels
   * it, kept as its `cancelledBy`.
   */
  async cancel(jobId: string, by?: string): Promise<Job> {
    return withDeadline(this.cancelNow(jobId, by), CANCEL_DEADLINE_MS, () => cancelUnconfirmed()).catch(
      (error: unknown) => {
        throw isDatabaseUnreachable(error) ? cancelUnconfirmed(error) : error;
      },
    );
  }

  private async cancelNow(jobId: string, by: string | undefined): Promise<Job> {
    const record = await this.live.find(jobId);
    if (record.status === "cancelled") return this.live.toJob(record);
    if (record.status === "complete" || record.status === "error") {
      const ended = record.status === "error" ? "has already failed" : "is already complete";
      throw new Conflict({ message: `Job ${jobId} ${ended} and cannot be cancelled` });
    }
    if (this.scheduler.journal.failing) {
      // The cancellation is taken (the job leaves the line or its GPU now) but cannot be written yet.
      void this.scheduler.cancel(jobId, { by });
      throw cancelUnconfirmed();
    }
    await this.scheduler.cancel(jobId, { by });
    const after = await this.live.find(jobId);
    // Cancel raced with the end of the generation: whichever the job machine took first is the one final state.
    if (after.status === "complete" || after.status === "error") {
      throw new Conflict({ message: `Job ${jobId} finished (${after.status}) before it could be cancelled` });
    }
    // Not written: this server's term ended as it was (the journal gave up its writes, and the next leader runs the
    // job), or the line did not hold the job yet. Answered as done, the caller would never send it again.
    if (after.status !== "cancelled") {
      throw new Unavailable({ message: "The cancellation could not be confirmed; try again shortly" });
    }
    return this.live.toJob(after);
  }

  /**
   * Cancels every job of `by` still waiting in the line, or every waiting job of `conversationId` that `by` may see
   * (the caller's conversation, or anyone's for an admin), or with `everyone`, an admin's, every user's: the line
   * cleared, or with `owner`, an admin's, every waiting job of that user (none of a name nobody has). Running jobs
   * run on, and so does one that starts while this runs. Returns the ids of the jobs it cancelled, in the order they
   * would have started, once each one's cancellation is persisted and published. NOT_FOUND for a conversation that
   * is not the caller's. Who may use `everyone` and `owner` is the procedure's to check.
   */
  async cancelWaiting(
    by: Caller,
    scope: { conversationId?: string | undefined; everyone?: boolean; owner?: string | undefined } = {},
  ): Promise<{ jobIds: string[] }> {
    const { conversationId, everyone = false } = scope;
    const owner = scope.owner ?? by.name;
    if (conversationId !== undefined) await ownConversation({ store: this.options.store, user: by }, conversationId);
    if (this.scheduler.journal.failing) throw cancelUnconfirmed();
    // Only jobs the caller may see: an older Anvil let an admin submit into a user's conversation (the job is the admin's).
    const inConversation =
      conversationId === undefined
        ? null
        : new Set(
            (await this.options.store.listAllJobs({ conversationId, status: ["queued"] }))
              .filter((job) => mayAccess(by, job.owner))
              .map((job) => job.id),
          );
    const taken = (jobId: string): boolean =>
      inConversation ? inConversation.has(jobId) : everyone || this.scheduler.lineEntry(jobId)?.owner === owner;
    // Read from the line and cancelled in the same tick: nothing can start in between.
    const jobIds = this.scheduler.queued().filter(taken);
    const cancelled = Promise.all(
      jobIds.map((jobId) => this.scheduler.cancel(jobId, { waitingOnly: true, by: by.name })),
    );
    await withDeadline(cancelled, CANCEL_DEADLINE_MS, () => cancelUnconfirmed());
    return { jobIds };
  }

  /**
   * Deletes a conversation with its messages, its jobs, their events and their images, for good; its jobs still
   * waiting or running are cancelled first (a running generation is interrupted on its backend). NOT_FOUND for an
   * unknown conversation or another user's (an admin may delete anyone's).
   */
  async deleteConversation(conversationId: string, by: Caller = LOCAL_USER): Promise<{ id: string }> {
    const { store, log } = this.options;
    await ownConversation({ store, user: by }, conversationId);
    // A job submitted into it while its others are cancelled makes another round; a few are plenty.
    for (let round = 1; ; round++) {
      const deletion = await store.deleteConversation(conversationId);
      if (deletion.kind === "missing") throw conversationNotFound(conversationId);
      if (deletion.kind === "deleted") {
        this.publisher.deleted(deletion.jobs);
        // The rows are gone, so nothing serves these any more; a file left by a failed removal is only disk space.
        await Promise.all(
          deletion.jobs.map(({ id: jobId }) =>
            this.images
              .remove(jobId)
              .catch((error: unknown) =>
                log?.("could not remove a deleted job's image", { jobId, error: databaseErrorText(error) }),
              ),
          ),
        );
        return { id: conversationId };
      }
      if (round === 3) {
        throw new Conflict({ message: "Jobs keep being added to this conversation; delete it once they stop" });
      }
      // Waiting jobs first (see ConversationDeletion), so that none starts on a GPU its neighbour gave back.
      for (const jobId of deletion.jobIds) {
        // One that ended meanwhile is as good as cancelled here.
        await this.cancel(jobId, by.name).catch((error: unknown) => {
          if (!(error instanceof Conflict)) throw error;
        });
      }
    }
  }

  /**
   * Moves a queued job to the front or back of its owner's waiting jobs, or (`global`, an admin's) ahead of the
   * whole line. The move is persisted before the line changes, so a new leader rebuilds the same order; `by` is
   * kept as the job's `movedBy`.
   */
  async move(jobId: string, to: "front" | "back", global = false, by: Caller = LOCAL_USER): Promise<Job> {
    const record = await this.live.find(jobId, by);
    if (record.status !== "queued") {
      throw new Conflict({ message: `Job ${jobId} is ${record.status}; only a queued job can be moved` });
    }
    if (global && to !== "front") throw new Invalid({ field: "to", message: "global moves go to the front only" });
    return this.inTurn(
      async () => {
        const moved = await this.options.store.moveJob(jobId, global ? "global" : to, by.name);
        if (!moved) throw new Conflict({ message: `Job ${jobId} started before it could be moved` });
        this.live.moved(jobId, moved.movedBy);
        this.scheduler.move(jobId, global ? { front: moved.line.front } : { move: moved.line.move, front: null });
        const job = this.live.toJob(record);
        // A stream of the job's conversation is sent only its new place (a line event): its card learns who moved it.
        this.publisher.changed(job);
        return job;
      },
      // The places the move handed on (fifo) are written after its commit, by the journal. Until they are, a new
      // leader redoes the move from the owner's jobs as they are (Recovery.rebuildLine): another move committed
      // meanwhile (its owner's of another job, or of this one back among them) would make it hand them on otherwise.
      () => this.placesWritten([jobId]),
    );
  }

  /** Settles once the journal has written what it holds for `jobIds` (at most a few seconds while the database does not answer). */
  private async placesWritten(jobIds: readonly string[]): Promise<void> {
    const { journal } = this.scheduler;
    await settleWithin(Promise.all(jobIds.map((id) => journal.settled(id))), CANCEL_DEADLINE_MS, undefined);
  }

  /** Pauses (nothing starts; running jobs finish) or resumes the queue; persisted first, so it holds across failover. */
  setPaused(paused: boolean, by?: string): Promise<void> {
    return this.inTurn(async () => {
      await this.options.store.setPaused(paused);
      // Pausing moves no position: the line and its version stay as they are; only the estimates change.
      this.scheduler.hold(paused);
      this.live.retimed();
      this.options.log?.(paused ? "queue paused: no job starts until queue.resume" : "queue resumed", {
        ...(by === undefined ? {} : { by }),
      });
    });
  }

  /**
   * Runs a pause, resume or move once the ones before it are written and applied to the line (and what they left
   * for the journal to write, `writtenOn`, is written: for at most a few seconds while the database does not answer).
   * Sent together on a pool of connections, two of them commit in one order and may be answered in the other: the
   * line then kept the one the database had overwritten (a queue that ran while the database said paused, a job at the
   * front that the database, and the next leader, put at the back).
   */
  private inTurn<T>(work: () => Promise<T>, writtenOn?: () => Promise<void>): Promise<T> {
    const turn = this.controls.then(work);
    // Holds the next turn, not this answer.
    this.controls = turn.then(writtenOn).then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Whether the journal's last writes failed and it is retrying them (the database away, or its disk full). */
  get writesFailing(): boolean {
    return this.scheduler.journal.failing;
  }

  /** Whether the database is there for this server (see {@link databaseAvailable}): what `health` says. */
  databaseAvailable(): Promise<boolean> {
    return databaseAvailable(
      { takesWrites: () => this.options.store.takesWrites(), writesFailing: () => this.writesFailing },
      this.runtime,
    );
  }

  /** One job with its live position. */
  async get(jobId: string): Promise<Job> {
    return this.live.toJob(await this.live.find(jobId));
  }

  /**
   * Who submitted the job (NOT_FOUND when there is none): what an ownership check needs, without the job's estimates,
   * which after any change of the line cost a projection of every waiting job.
   */
  async ownerOf(jobId: string): Promise<string> {
    return (await this.live.find(jobId)).owner;
  }

  /** Whose image this is, if it may be shown: only a complete job's (null otherwise). */
  imageOwner(jobId: string): Promise<string | null> {
    return this.live.imageOwner(jobId);
  }

  /** The job as the API shows it: the persisted record, with its position and estimates from the live line. */
  toLiveJob(record: JobRecord): Job {
    return this.live.toJob(record);
  }

  /**
   * The first `limit` waiting jobs `by` may see (an admin: everyone's, anyone else their own) in the order they will
   * start, with how many such jobs wait in all and of how many users: a view of a deep line that reads only its head.
   * `version` is the line's as read: the line events after it (`from` at or past it) are the changes it does not hold.
   */
  line(by: Caller, limit: number): { items: Job[]; total: number; users: number; version: number } {
    const owners = new Set<string>();
    const shown: string[] = [];
    let total = 0;
    for (const jobId of this.scheduler.queued()) {
      const owner = this.scheduler.lineEntry(jobId)?.owner;
      if (owner === undefined || !mayAccess(by, owner)) continue;
      owners.add(owner);
      total++;
      if (shown.length < limit) shown.push(jobId);
    }
    return {
      items: shown.flatMap((jobId) => this.live.job(jobId) ?? []),
      total,
      users: owners.size,
      version: this.live.lineVersion,
    };
  }

  /** A job still in the line or on a GPU, from memory; undefined once it has ended. */
  liveJob(jobId: string): Job | undefined {
    return this.live.job(jobId);
  }

  /** The waiting line's version: how many changes it has had since this service started. */
  get lineVersion(): number {
    return this.live.lineVersion;
  }

  /**
   * Stops taking work: no job starts any more; running generations may finish for up to `graceMs`; what still
   * runs then is interrupted and stays to run again at the next start, as its next attempt, spared (a shutdown is
   * no failure, so it never uses up one of the job's {@link MAX_ATTEMPTS}). Flushes everything recorded.
   */
  async stop(graceMs = 0, { abandon = false }: { abandon?: boolean } = {}): Promise<void> {
    // A term that is over writes nothing more, not even what is still waiting: the next leader recovers from the
    // database, and runs what this one was running again (attempt + 1).
    if (abandon) this.scheduler.journal.abandon();
    await Promise.all([this.retention.stop(), this.statistics.stop()]);
    // Probing goes on through the grace: a running generation whose backend blinks waits for it to come back.
    // Once it is over, a generation stopped behind a job from Forge's own UI is not waited for that job's length:
    // the next start interrupts what is left there.
    const giveUp = setTimeout(() => {
      for (const backend of this.options.backends) backend.abandonStops();
    }, graceMs);
    const stopped = this.scheduler.stop(graceMs).finally(() => clearTimeout(giveUp));
    // Nothing starts any more: the waiting jobs' estimates go, and subscribers are told, as for a pause.
    this.live.retimed();
    const interrupted = await stopped;
    await this.monitor.stop();
    if (!abandon) await this.recovery.spareInterrupted(interrupted);
  }
}
