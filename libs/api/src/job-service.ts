import type { ForgeClient } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS, isFinalStatus, JobScheduler, MAX_ATTEMPTS } from "@anvil/job-machine";
import type {
  DispatchDecision,
  GenerateProgram,
  Job,
  JobParams,
  JournalEntry,
  LineChange,
  SchedulingMode,
  WriteRejected,
} from "@anvil/job-machine";
import type {
  ImageStore,
  JobRecord,
  JobStore,
  LineState,
  SubmitJobInput as StoredSubmission,
  SubmitJobResult,
  TransitionPatch,
} from "@anvil/persistence";
import { FileImageStore, isDatabaseUnreachable, isTransientDatabaseError, toJob } from "@anvil/persistence";
import { Duration, Effect, Schedule } from "effect";
import type { InspectionEvent } from "xstate";
import { BackendMonitor } from "./backend-monitor";
import { CheckpointCatalog } from "./checkpoint-catalog";
import { Conflict, Invalid, NotFound, Unavailable } from "./errors";
import type { EventHub } from "./event-hub";
import { DEFAULT_EVENT_RETENTION_MS, EventRetention } from "./event-retention";
import { forgeGenerate } from "./generate";
import { LOCAL_USER, mayAccess } from "./caller";
import type { Caller } from "./caller";
import type { JobServiceObserver } from "./job-observer";
import type { SubmitJobInput } from "./schemas";
import { DEFAULT_MAX_QUEUED_PER_USER, QueueQuota } from "./queue-quota";
import { databaseDown, Submissions } from "./submissions";
import { Estimates, HISTORY_RUNS } from "./estimates";

export { MAX_ATTEMPTS } from "@anvil/job-machine";

/** How long a submission may wait for the database before it is refused as unavailable. */
const SUBMIT_DEADLINE_MS = 5_000;

/** How long a cancellation may wait for the database before it is refused as unavailable. */
const CANCEL_DEADLINE_MS = 5_000;

/** How long `health` waits for the database to answer a read. */
const HEALTH_DEADLINE_MS = 2_000;

/** Looking for stored submissions the scheduler never heard of: soon, then less often, for about a minute. */
const ORPHAN_SWEEP_RETRY = {
  schedule: Schedule.min([Schedule.exponential(Duration.millis(100), 2), Schedule.spaced(Duration.seconds(5))]),
  times: 15,
};

const cancelUnconfirmed = (cause?: unknown) =>
  new Unavailable({
    message: "The database is not reachable right now, so the cancellation could not be confirmed; try again shortly",
    cause,
  });

const withDeadline = <T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
};

/** A validated `jobs.submit` input; `priority` defaults to 0. */
export type SubmitInput = Omit<SubmitJobInput, "priority"> & { priority?: number };

/** Everything the service is built from; the images go to `images`, or to files in `imagesDir`. */
export type JobServiceOptions = JobServiceSettings & ({ images: ImageStore } | { imagesDir: string });

/** The service's settings besides where the images go. */
export interface JobServiceSettings {
  store: JobStore;
  events: EventHub;
  backends: readonly ForgeClient[];
  jobTimeoutMs: number;
  probeIntervalMs?: number;
  inspect?: (event: InspectionEvent) => void;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** Metrics and logs: told of submissions, status changes and backend failures. */
  observers?: readonly JobServiceObserver[];
  /** Job events younger than this are kept for `jobs.events` resumes (default 7 days; see event-retention.ts). */
  eventRetentionMs?: number;
  /** Time between two prunes of the event log (default the retention, at most an hour). */
  eventPruneIntervalMs?: number;
  /** `fair` (default): users take turns; `fifo`: submission order. */
  scheduling?: SchedulingMode;
  /** Model affinity with several backends (default true): a free GPU may take a job that needs the model it has. */
  modelAffinity?: boolean;
  /** Told why each job was started (for `/inspect`). */
  onDispatch?: (decision: DispatchDecision) => void;
  /** Queued jobs one user may have at once; one more is TOO_MANY_REQUESTS (0: no limit; default 200). */
  maxQueuedPerUser?: number;
  /** True for a URL that reaches this server (or its cluster) itself: refused as a `callbackUrl`. */
  isOwnUrl?: (url: URL) => boolean;
}

/**
 * What a persisted journal entry turned into: the record as it is now and, for status changes, the event id and
 * the snapshot that was logged with it (what subscribers get).
 */
type Persisted = { record: JobRecord; eventId: number | null; snapshot?: Job } | null;

const patchFor = (
  entry: Extract<JournalEntry, { kind: "transition" }>,
  backendUrl: (backend: number) => string | null,
): TransitionPatch => {
  const { job } = entry;
  const finishedAt = job.finishedAt === null ? undefined : new Date(job.finishedAt);
  switch (entry.to) {
    case "processing":
      return {
        progress: 0,
        attempts: job.attempt,
        startedAt: new Date(job.startedAt ?? Date.now()),
        backend: job.backend === null ? null : backendUrl(job.backend),
        // The owner's turn goes to the database with the start, before the generation is sent.
        ...(job.turn == null ? {} : { turn: job.turn }),
      };
    case "complete":
      return {
        progress: 100,
        imageUrl: job.result?.imageUrl ?? null,
        usedSeed: job.result?.usedSeed ?? null,
        finishedAt,
      };
    case "error":
      return { error: job.error ?? "The generation failed", finishedAt };
    case "queued":
      // Its backend went away: it waits again, at the front, for its next attempt (the count of starts stays).
      return { progress: 0, startedAt: null };
    default:
      return { finishedAt };
  }
};

/**
 * Anvil's application service: submits jobs to the database and the scheduler, persists every transition
 * before publishing it, and answers reads with live positions.
 */
export class JobService {
  readonly scheduler: JobScheduler<Persisted>;
  readonly monitor: BackendMonitor;
  readonly checkpoints: CheckpointCatalog;
  /** Prunes the job event log to its retention. */
  readonly retention: EventRetention;
  /** Every waiting and running job's expected start and end, learned from the GPU time of finished jobs. */
  readonly estimates: Estimates;
  private readonly live = new Map<string, JobRecord>();
  private lineVersionNow = 0;
  private readonly submissions: Submissions;
  private readonly images: ImageStore;
  private readonly quota: QueueQuota;
  /** A look for stored submissions the scheduler never heard of, while one is under way. */
  private orphanSweep: Promise<void> | null = null;

  private constructor(
    private readonly options: JobServiceOptions,
    line: LineState,
  ) {
    const { backends } = options;
    this.images = "images" in options ? options.images : new FileImageStore(options.imagesDir);
    this.checkpoints = new CheckpointCatalog(backends);
    this.quota = new QueueQuota(options.maxQueuedPerUser ?? DEFAULT_MAX_QUEUED_PER_USER, (owner) =>
      this.queuedOf(owner),
    );
    this.retention = new EventRetention(options.store, {
      retentionMs: options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS,
      intervalMs: options.eventPruneIntervalMs,
      log: options.log,
    });
    this.scheduler = new JobScheduler<Persisted>({
      backends: backends.length,
      jobTimeoutMs: options.jobTimeoutMs,
      mode: options.scheduling ?? "fair",
      ...(options.modelAffinity === false ? { affinity: null } : {}),
      served: line.served,
      held: line.paused,
      ...(options.onDispatch ? { onDispatch: options.onDispatch } : {}),
      generate: this.observed(
        forgeGenerate(backends, this.images, {
          unreachable: (backend, reason) => this.monitor.markDown(backend, reason),
        }),
      ),
      persist: (entries) => this.persist(entries),
      publish: (entry, persisted) => this.publish(entry, persisted),
      isUnreachable: isTransientDatabaseError,
      onPublishError: (error, entry) =>
        options.log?.("publishing a persisted change failed", { error: String(error), jobId: entry.jobId }),
      onRetry: (error, attempt) => {
        options.log?.("database write failed; retrying", { error: String(error.cause), attempt });
        // The lane is stuck behind this write until the database answers: a submission waiting there would only
        // run into its deadline, so it is refused now.
        this.submissions.refuseWaiting(databaseDown(error.cause));
      },
      onRejected: (error, entry) => this.rejected(error, entry),
      onLineChange: (change) => this.lineChanged(change),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    // Submissions run in the journal's lane: the scheduler's line follows the database's order (seq), and
    // every status event is published in the order of its id, so a resume cursor never skips one.
    this.submissions = new Submissions({
      run: (task) => this.scheduler.journal.run(task),
      lastProgressAt: () => this.scheduler.journal.lastProgressAt,
      store: (inputs) => options.store.submitJobs(inputs),
      storeAll: (inputs) => options.store.submitJobsAtomically(inputs),
      accept: (result) => this.accept(result),
      acceptAll: (results) => this.acceptAll(results),
      onUncertain: () => this.sweepOrphans(),
      deadlineMs: SUBMIT_DEADLINE_MS,
    });
    this.estimates = new Estimates({
      now: () => Date.now(),
      backends: backends.map((backend) => backend.baseUrl),
      queue: () => ({ ...this.scheduler.snapshot(), held: this.scheduler.held }),
      line: () => this.scheduler.queued(),
      position: (jobId) => this.scheduler.position(jobId),
      record: (jobId) => this.live.get(jobId),
    });
    this.monitor = new BackendMonitor(
      backends,
      {
        up: (i) => {
          this.scheduler.backendUp(i);
          this.retimed();
        },
        down: (i) => {
          this.scheduler.backendDown(i);
          this.retimed();
        },
        isOurs: (i) => this.scheduler.snapshot().backends[i]?.jobId != null,
        loaded: (i, model) => {
          this.scheduler.backendModel(i, model);
          const url = backends[i]?.baseUrl;
          if (url) this.estimates.loaded(url, model);
        },
        ...(options.log ? { log: options.log } : {}),
      },
      options.probeIntervalMs,
    );
  }

  /** Rebuilds the queue from the database, in order, starts probing the backends and pruning the event log. */
  static async start(options: JobServiceOptions): Promise<JobService> {
    const service = new JobService(options, await options.store.lineState());
    // What the last leader learned is in the database: every server that leads estimates the same.
    service.estimates.learnFrom(await options.store.recentRuns(HISTORY_RUNS));
    await service.recover();
    service.monitor.start();
    service.retention.start();
    return service;
  }

  /**
   * Accepts `by`'s job: persisted first, then queued, then announced. The same idempotency key never makes two.
   * A conversation must be the caller's own (an admin's may be anyone's).
   */
  async submit(input: SubmitInput, by: Caller = LOCAL_USER): Promise<Job> {
    const stored = await this.toStored(input, by);
    if (this.scheduler.journal.failing) throw databaseDown();
    return this.quota.admit(by.name, () => this.submissions.submit(stored));
  }

  /**
   * Accepts every job of `by` in one transaction, in the order given (their positions follow it), or none: the
   * first one refused refuses them all, named by its index. Each job counts against MAX_QUEUED_PER_USER.
   */
  async submitMany(inputs: readonly SubmitInput[], by: Caller = LOCAL_USER): Promise<Job[]> {
    const stored: StoredSubmission[] = [];
    for (const [i, input] of inputs.entries()) {
      stored.push(
        await this.toStored(input, by).catch((error: unknown) => {
          throw error instanceof Invalid
            ? new Invalid({ field: `jobs.${i}.${error.field}`, message: `jobs.${i}.${error.field}: ${error.message}` })
            : error;
        }),
      );
    }
    if (this.scheduler.journal.failing) throw databaseDown();
    return this.quota.admit(by.name, () => this.submissions.submitAll(stored), stored.length);
  }

  /** A validated submission as it is stored: names resolved as the backends list them, the callback checked. */
  private async toStored(input: SubmitInput, by: Caller): Promise<StoredSubmission> {
    const { prompt, conversationId, idempotencyKey, priority, callbackUrl, ...rest } = input;
    if (callbackUrl !== undefined && this.options.isOwnUrl?.(new URL(callbackUrl))) {
      // A server that calls itself back would feed its own API with job JSON, at best a loop of errors.
      throw new Invalid({ field: "callbackUrl", message: "callbackUrl must not point at this Anvil server itself" });
    }
    const params: JobParams = { ...rest, ...(await this.resolveNames(rest)) };
    return {
      prompt,
      params,
      owner: by.name,
      priority: priority ?? 0,
      ...(by.admin ? {} : { conversationOwner: by.name }),
      ...(conversationId ? { conversationId } : {}),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...(callbackUrl ? { callbackUrl } : {}),
    };
  }

  /** Checkpoint, modules, sampler and scheduler as the backends name them; an unknown one is BAD_REQUEST. */
  private async resolveNames(
    params: Pick<JobParams, "checkpoint" | "modules" | "sampler" | "scheduler">,
  ): Promise<Pick<JobParams, "checkpoint" | "modules" | "sampler" | "scheduler">> {
    const { checkpoints } = this;
    if (params.checkpoint === null && params.modules.length > 0) {
      // Forge takes modules as an override beside a checkpoint; alone they would be silently dropped.
      throw new Invalid({ field: "modules", message: "modules need a checkpoint to go with" });
    }
    return {
      checkpoint: params.checkpoint === null ? null : await checkpoints.resolve(params.checkpoint),
      modules: await checkpoints.resolveModules(params.modules),
      // Forge always has its default sampler: a job that keeps the defaults needs no backend to be accepted.
      sampler:
        params.sampler === DEFAULT_JOB_PARAMS.sampler
          ? params.sampler
          : await checkpoints.resolveSampler(params.sampler),
      scheduler: await checkpoints.resolveScheduler(params.scheduler),
    };
  }

  /**
   * Whether the database answers now: not while the journal's writes are failing, nor when a small read fails
   * or takes longer than a couple of seconds (an idle server has no writes that would tell).
   */
  async databaseAvailable(): Promise<boolean> {
    if (this.scheduler.journal.failing) return false;
    return withDeadline(this.options.store.latestEventId(), HEALTH_DEADLINE_MS, () => new Error("timed out")).then(
      () => true,
      () => false,
    );
  }

  /**
   * A stored submission: a new job joins the line and is announced; a repeated key answers with its job. A job
   * that is stored and waiting but that the scheduler never heard of (its first submission was committed but the
   * answer was lost on the way back) joins the line now.
   */
  private accept({ job, created }: SubmitJobResult): Job {
    if (!created && !(job.status === "queued" && !this.live.has(job.id))) return this.toLiveJob(job);
    return this.adopt(job);
  }

  /** {@link accept} for a whole batch, whose new jobs join the line in one step of the scheduler. */
  private acceptAll(results: readonly SubmitJobResult[]): Job[] {
    const joining = results.filter(
      ({ job, created }) => created || (job.status === "queued" && !this.live.has(job.id)),
    );
    for (const { job } of joining) this.live.set(job.id, job);
    this.scheduler.submitMany(joining.map(({ job }) => this.jobInput(job)));
    const announced = new Set(joining.map(({ job }) => job.id));
    return results.map(({ job }) => {
      const snapshot = this.toLiveJob(job);
      if (announced.has(job.id)) this.announce(job, snapshot);
      return snapshot;
    });
  }

  private announce(job: JobRecord, snapshot: Job): void {
    this.options.events.publish({ kind: "status", eventId: job.lastEventId, job: snapshot });
    this.notify((observer) => observer.submitted?.(snapshot));
  }

  /** Puts a stored, waiting job in the line and announces it. */
  private adopt(job: JobRecord): Job {
    this.live.set(job.id, job);
    this.scheduler.submit(this.jobInput(job));
    const snapshot = this.toLiveJob(job);
    this.announce(job, snapshot);
    return snapshot;
  }

  /**
   * After a store whose outcome is unknown (the connection went while it committed): once the database answers,
   * the waiting jobs the scheduler does not hold are taken into the line, so a submission that was committed
   * although its client was told otherwise still runs (and can be cancelled). In the lane, so no submission is
   * stored meanwhile; the line then follows the database's order (seq) except for these late ones.
   */
  private sweepOrphans(): void {
    this.orphanSweep ??= Effect.runPromise(
      Effect.tryPromise(() => this.scheduler.journal.run(() => this.adoptOrphans())).pipe(
        Effect.retry(ORPHAN_SWEEP_RETRY),
        Effect.catch((error) =>
          Effect.sync(() =>
            this.options.log?.("could not look for submissions stored without an answer", {
              error: String(error.cause),
            }),
          ),
        ),
      ),
    ).finally(() => {
      this.orphanSweep = null;
    });
  }

  private async adoptOrphans(): Promise<void> {
    const orphans = (await this.options.store.activeJobs()).filter(
      (job) => job.status === "queued" && !this.live.has(job.id),
    );
    for (const job of orphans) this.adopt(job);
    if (orphans.length > 0) {
      this.options.log?.("stored submissions whose answer was lost joined the line", { jobs: orphans.length });
    }
  }

  /**
   * Cancels a queued or running job; CONFLICT once it is complete or in error. Like a submission it does not wait
   * for a database that does not answer: after a few seconds it is refused as unavailable (a running generation
   * is stopped all the same, and its cancellation is written once the database is back).
   */
  async cancel(jobId: string): Promise<Job> {
    return withDeadline(this.cancelNow(jobId), CANCEL_DEADLINE_MS, () => cancelUnconfirmed()).catch(
      (error: unknown) => {
        throw isDatabaseUnreachable(error) ? cancelUnconfirmed(error) : error;
      },
    );
  }

  private async cancelNow(jobId: string): Promise<Job> {
    const record = await this.record(jobId);
    if (record.status === "cancelled") return this.toLiveJob(record);
    if (record.status === "complete" || record.status === "error") {
      throw new Conflict({ message: `Job ${jobId} is already ${record.status} and cannot be cancelled` });
    }
    if (this.scheduler.journal.failing) {
      // The cancellation is taken (the job leaves the line or its GPU now) but cannot be written yet.
      void this.scheduler.cancel(jobId);
      throw cancelUnconfirmed();
    }
    await this.scheduler.cancel(jobId);
    const after = await this.record(jobId);
    // Cancel raced with the end of the generation: whichever the job machine took first is the one final state.
    if (after.status === "complete" || after.status === "error") {
      throw new Conflict({ message: `Job ${jobId} finished (${after.status}) before it could be cancelled` });
    }
    return this.toLiveJob(after);
  }

  /** What the scheduler is given of a stored, waiting job: everything its place in the line depends on. */
  private jobInput(job: JobRecord) {
    return {
      jobId: job.id,
      prompt: job.prompt,
      params: job.params,
      attempt: job.attempts + 1,
      line: { owner: job.owner, priority: job.priority, seq: job.seq, move: job.line.move, front: job.line.front },
    };
  }

  /**
   * Moves a queued job to the front or back of its owner's waiting jobs, or (`global`, an admin's) ahead of the
   * whole line. The move is persisted before the line changes, so a new leader rebuilds the same order.
   */
  async move(jobId: string, to: "front" | "back", global = false, by: Caller = LOCAL_USER): Promise<Job> {
    const record = await this.record(jobId, by);
    if (record.status !== "queued") {
      throw new Conflict({ message: `Job ${jobId} is ${record.status}; only a queued job can be moved` });
    }
    if (global && to !== "front") throw new Invalid({ field: "to", message: "global moves go to the front only" });
    const moved = await this.options.store.moveJob(jobId, global ? "global" : to);
    if (!moved) throw new Conflict({ message: `Job ${jobId} started before it could be moved` });
    this.scheduler.move(jobId, global ? { front: moved.line.front } : { move: moved.line.move, front: null });
    return this.toLiveJob(record);
  }

  /** Pauses (nothing starts; running jobs finish) or resumes the queue; persisted first, so it holds across failover. */
  async setPaused(paused: boolean): Promise<void> {
    await this.options.store.setPaused(paused);
    // Pausing moves no position: the line and its version stay as they are; only the estimates change.
    this.scheduler.hold(paused);
    this.retimed();
  }

  /** A new job with the prompt, params and conversation of a job that ended in error or was cancelled. */
  async retry(jobId: string, by: Caller = LOCAL_USER): Promise<Job> {
    const record = await this.record(jobId, by);
    if (record.status !== "error" && record.status !== "cancelled") {
      throw new Conflict({
        message: `Job ${jobId} is ${record.status}; only a failed or cancelled job can be retried`,
      });
    }
    if (this.scheduler.journal.failing) throw databaseDown();
    return this.submissions.submit({
      prompt: record.prompt,
      params: record.params,
      conversationId: record.conversationId,
      owner: record.owner,
      priority: record.priority,
    });
  }

  /** How many of `owner`'s jobs wait in the line now. */
  private queuedOf(owner: string): number {
    let queued = 0;
    for (const record of this.live.values()) if (record.owner === owner && record.status === "queued") queued++;
    return queued;
  }

  /** One job with its live position. */
  async get(jobId: string): Promise<Job> {
    return this.toLiveJob(await this.record(jobId));
  }

  /**
   * Whose image this is, if it may be shown: only a complete job's (null otherwise). A job cancelled as its image
   * was written (or whose completion the database refused) may have left a file behind for a moment; it is never
   * served.
   */
  async imageOwner(jobId: string): Promise<string | null> {
    const record = this.live.get(jobId) ?? (await this.options.store.getJob(jobId));
    return record?.status === "complete" ? record.owner : null;
  }

  /** The job as the API shows it: the persisted record, with its position and estimates from the live line. */
  toLiveJob(record: JobRecord): Job {
    const current = this.live.get(record.id) ?? record;
    const position = current.status === "queued" ? Math.max(1, this.scheduler.position(record.id)) : 0;
    return toJob(current, position, this.estimates.of(current));
  }

  /** The waiting line's version: how many changes it has had since this service started. */
  get lineVersion(): number {
    return this.lineVersionNow;
  }

  /**
   * Where every change of the line is announced: the scheduler reports it here synchronously as it changes its
   * line, so a position read right after (`toLiveJob`) already reflects it. One small message per change, whatever
   * the number of waiting jobs; `jobs.events` folds them per subscriber (see line-events.ts).
   */
  private lineChanged(change: LineChange): void {
    this.estimates.lineChanged(change);
    this.options.events.publish({ kind: "line", version: ++this.lineVersionNow, change });
  }

  /**
   * The estimates moved while the line did not (a backend came or went, the queue was paused or resumed, a finished
   * job taught the model): subscribers get the line's new timing (one small message each, see line-events.ts).
   */
  private retimed(): void {
    this.estimates.changed();
    this.options.events.publish({ kind: "timing" });
  }

  /** A job still in the line or on a GPU, from memory; undefined once it has ended. */
  liveJob(jobId: string): Job | undefined {
    const record = this.live.get(jobId);
    return record ? this.toLiveJob(record) : undefined;
  }

  /**
   * Stops taking work: no job starts any more; running generations may finish for up to `graceMs`; what still
   * runs then is interrupted and stays to run again at the next start, as the same attempt (a shutdown is no
   * failure, so it never uses up one of the job's {@link MAX_ATTEMPTS}). Flushes everything recorded.
   */
  async stop(graceMs = 0, { abandon = false }: { abandon?: boolean } = {}): Promise<void> {
    const { store, log } = this.options;
    // A term that is over writes nothing more, not even what is still waiting: the next leader recovers from the
    // database, and runs what this one was running again (attempt + 1).
    if (abandon) this.scheduler.journal.abandon();
    await this.retention.stop();
    // Probing goes on through the grace: a running generation whose backend blinks waits for it to come back.
    const interrupted = await this.scheduler.stop(graceMs);
    await this.monitor.stop();
    for (const jobId of abandon ? [] : interrupted) {
      // The record as last persisted: an attempt whose start never reached the database was never counted.
      const record = this.live.get(jobId);
      if (record?.status !== "processing") continue;
      const refunded = await store.refundAttempt(jobId, record.attempts).catch((error: unknown) => {
        log?.("could not take back the attempt a shutdown interrupted", { jobId, error: String(error) });
        return false;
      });
      if (refunded) log?.("stopped before its generation finished: it runs again at the next start", { jobId });
    }
  }

  /** A job by id; another user's job is NOT_FOUND to `by` (its existence is not revealed). */
  private async record(jobId: string, by?: Caller): Promise<JobRecord> {
    const record = this.live.get(jobId) ?? (await this.options.store.getJob(jobId));
    if (!record || (by && !mayAccess(by, record.owner))) throw new NotFound({ message: `No job with id ${jobId}` });
    return record;
  }

  private async recover(): Promise<void> {
    const { store, log } = this.options;
    let waiting = 0;
    let resumed = 0;
    for (const active of await store.activeJobs()) {
      let job = active;
      if (job.status === "processing" && job.attempts >= MAX_ATTEMPTS) {
        await store.applyTransition({
          jobId: job.id,
          from: "processing",
          to: "error",
          patch: {
            error: `This job was interrupted ${MAX_ATTEMPTS} times (the server stopped while it was running); it was given up`,
            finishedAt: new Date(),
          },
          snapshot: (record) => toJob(record, 0),
        });
        log?.("job given up after repeated interruptions", { jobId: job.id, attempts: job.attempts });
        continue;
      }
      waiting++;
      if (job.status === "processing") {
        // It waits for a GPU again: the database says so (with the attempts it had) instead of a stale
        // `processing` with the old progress and start time. Nothing publishes yet, so the event is only logged.
        const requeued = await store.applyTransition({
          jobId: job.id,
          from: "processing",
          to: "queued",
          patch: { progress: 0, startedAt: null },
          snapshot: (record) => toJob(record, waiting),
        });
        if (requeued === null) continue;
        job = requeued.job;
        resumed++;
      }
      this.live.set(job.id, job);
      this.scheduler.submit(this.jobInput(job));
    }
    if (this.live.size > 0) log?.("queue rebuilt from the database", { jobs: this.live.size, resumed });
  }

  /**
   * A batch is one transaction: one commit for many transitions (the throughput of the pipeline is bound by
   * commits), and all of it or none, so a retry after a failed commit never finds half a batch applied.
   */
  private persist(entries: readonly JournalEntry[]): Promise<Persisted[]> {
    return this.options.store.transaction(async (store) => {
      const results: Persisted[] = [];
      for (const entry of entries) results.push(await this.persistOne(store, entry));
      return results;
    });
  }

  private async persistOne(store: JobStore, entry: JournalEntry): Promise<Persisted> {
    if (entry.kind === "progress") {
      const record = await store.updateProgress(entry.jobId, entry.progress);
      return record ? { record, eventId: null } : null;
    }
    const applied = await store.applyTransition({
      jobId: entry.jobId,
      from: entry.from,
      to: entry.to,
      patch: patchFor(entry, (backend) => this.options.backends[backend]?.baseUrl ?? null),
      snapshot: (record) => toJob(record, 0),
    });
    if (applied) return { record: applied.job, eventId: applied.eventId, snapshot: applied.snapshot };
    // Nothing matched `from`: either this write already committed before its acknowledgement was lost (a
    // retry), or the row moved elsewhere. Only the former is published, with the event it made: found in the
    // log, since the job may have moved on since (a batch that held its next transition too committed that).
    const current = await store.getJob(entry.jobId);
    if (!current) return null;
    const made = (await store.eventsAfter(0, { jobId: entry.jobId }, 64)).findLast(
      (event) => event.status === entry.to && event.job.attempt === toJob(current, 0).attempt,
    );
    return made ? { record: current, eventId: made.id, snapshot: made.job } : null;
  }

  private publish(entry: JournalEntry, persisted: Persisted): void {
    if (!persisted) return;
    const { events } = this.options;
    const { record, eventId } = persisted;
    if (isFinalStatus(record.status)) this.live.delete(record.id);
    else this.live.set(record.id, record);
    const learned = entry.kind === "transition" && eventId !== null && this.estimates.transition(entry.from, record);
    const job = persisted.snapshot ?? toJob(record, 0);
    if (entry.kind === "progress" || eventId === null) {
      events.publish({ kind: "progress", job });
      return;
    }
    events.publish({ kind: "status", eventId, job });
    // A job that ends without being complete keeps no image: one cancelled while its image was being written
    // may have it stored by now (see generate.ts writeImage).
    if (isFinalStatus(entry.to) && entry.to !== "complete") this.removeImage(entry.jobId);
    const change = {
      jobId: entry.jobId,
      from: entry.from,
      to: entry.to,
      backend: entry.job.backend,
      attempt: entry.job.attempt,
    };
    this.notify((observer) => observer.transition?.(change, job));
    if (learned) this.retimed();
  }

  private removeImage(jobId: string): void {
    this.images.remove(jobId).catch((error: unknown) =>
      this.options.log?.("could not remove the image of a job that did not complete", {
        jobId,
        error: String(error),
      }),
    );
  }

  /**
   * The database refused a journal write (the journal fails the job in its place): said loudly, and a job that
   * is still waiting or running leaves the line or its GPU, since its state can no longer be written as it goes.
   */
  private rejected(error: WriteRejected, entry: JournalEntry): void {
    this.options.log?.("the database refused a write; the job it belongs to fails, the rest goes on", {
      jobId: entry.jobId,
      write: entry.kind === "transition" ? `${entry.from} → ${entry.to}` : "progress",
      error: String(error.cause),
    });
    if (entry.kind === "transition" && this.scheduler.status(entry.jobId) !== undefined) {
      // Not awaited: this runs in the journal's lane, which the cancellation's own transition has to pass.
      void this.scheduler.cancel(entry.jobId);
    }
  }

  /** The backend call, telling the observers of each failure (with its ForgeError reason) before the job ends. */
  private observed(generate: GenerateProgram): GenerateProgram {
    if (!this.options.observers?.length) return generate;
    return (request, onProgress) => {
      const failed = Effect.tapError((error: unknown) =>
        Effect.sync(() => this.notify((observer) => observer.generationFailed?.(request, error))),
      );
      return generate(request, onProgress).pipe(
        failed,
        Effect.map((keep) => keep.pipe(failed)),
      );
    };
  }

  private notify(call: (observer: JobServiceObserver) => void): void {
    for (const observer of this.options.observers ?? []) {
      try {
        call(observer);
      } catch (error) {
        // An observer is metrics or a log line: its failure must never stop a job from being published.
        this.options.log?.("job observer failed", { error: String(error) });
      }
    }
  }
}
