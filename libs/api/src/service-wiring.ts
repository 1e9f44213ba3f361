import type { ForgeClient } from "@anvil/forge-client";
import { JobScheduler, makeEffectRuntime } from "@anvil/job-machine";
import type { DispatchDecision, EffectRuntime, SchedulingMode } from "@anvil/job-machine";
import type { ImageStore, JobStore, LineState } from "@anvil/persistence";
import { databaseErrorText, FileImageStore, isFenced, isTransientDatabaseError } from "@anvil/persistence";
import type { InspectionEvent } from "xstate";
import { BackendMonitor } from "./backend-monitor";
import { CheckpointCatalog } from "./checkpoint-catalog";
import { Estimates } from "./estimates";
import type { EventHub } from "./event-hub";
import { DEFAULT_EVENT_RETENTION_MS, EventRetention } from "./event-retention";
import { StatisticsUpkeep } from "./statistics-upkeep";
import { forgeGenerate } from "./generate";
import { Handovers } from "./handovers";
import type { JobServiceObserver } from "./job-observer";
import { JobPublisher } from "./job-publisher";
import { LineIntake } from "./line-intake";
import { LiveJobs } from "./live-jobs";
import { DEFAULT_MAX_QUEUED_PER_USER, QueueQuota } from "./queue-quota";
import { Recovery } from "./recovery";
import { databaseDown, Submissions } from "./submissions";
import { TransitionWriter } from "./transition-writer";
import type { Persisted } from "./transition-writer";
import { FailureSpell } from "./log-hook";
import type { LogHook } from "./log-hook";
import type { Caller } from "./caller";
import type { UserRemovals } from "./user-removals";

/** How long a submission may wait for the database before it is refused as unavailable. */
const SUBMIT_DEADLINE_MS = 5_000;

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
  log?: LogHook;
  /** Metrics and logs: told of submissions, status changes and backend failures. */
  observers?: readonly JobServiceObserver[];
  /** Job events younger than this are kept for `jobs.events` resumes (default 7 days; see event-retention.ts). */
  eventRetentionMs?: number;
  /** Time between two prunes of the event log (default the retention, at most an hour). */
  eventPruneIntervalMs?: number;
  /** Time between two looks at the planner statistics where no autovacuum runs (see statistics-upkeep.ts). */
  statisticsIntervalMs?: number;
  /** `fair` (default): users take turns; `fifo`: submission order. */
  scheduling?: SchedulingMode;
  /** Model affinity with several backends (default true): a free GPU may take a job that needs the model it has. */
  modelAffinity?: boolean;
  /** Told why each job was started (for `/inspect`). */
  onDispatch?: (decision: DispatchDecision) => void;
  /** Queued jobs one user may have at once; one more is TOO_MANY_REQUESTS (0: no limit; default 200). */
  maxQueuedPerUser?: number;
  /**
   * The users removed while the server runs (one for every term of its): a submission of a user removed since its
   * call was admitted is refused. Absent: submissions are not checked (a service without sign-in, tests).
   */
  removals?: UserRemovals;
  /**
   * Why `url` may not be a `callbackUrl` (it reaches this server itself, or a Forge backend it drives), or null:
   * the refusal is the BAD_REQUEST's message. A promise when it asks the database (another server of the cluster).
   */
  callbackRefusal?: (url: URL) => string | null | Promise<string | null>;
  /** How long a finished job's image waits at most for its backend's next request to go out (default 50 ms). */
  handoverWaitMs?: number;
  /**
   * How long the service waits before it first probes its backends, so before it starts any job (default 0). A new
   * leader of a cluster waits here for the calls its followers held during the election (a cancel, a pause): they
   * reach it before it starts a job they were about.
   */
  firstProbeAfterMs?: number;
  /**
   * How long a submission may wait for a database that does not answer before it is refused (default 5 s). For
   * tests.
   */
  submitDeadlineMs?: number;
}

/** The collaborators of one JobService, wired to each other. */
export interface JobServiceParts {
  /** The one Effect runtime every part runs its programs on. */
  runtime: EffectRuntime;
  /** Where the generated images are kept. */
  images: ImageStore;
  scheduler: JobScheduler<Persisted>;
  monitor: BackendMonitor;
  checkpoints: CheckpointCatalog;
  retention: EventRetention;
  /** Keeps the planner statistics up where no autovacuum does (PGlite; PostgreSQL with it off). */
  statistics: StatisticsUpkeep;
  estimates: Estimates;
  live: LiveJobs;
  submissions: Submissions;
  quota: QueueQuota;
  recovery: Recovery;
  publisher: JobPublisher;
}

/** How long a progress value may wait in the journal's lane, well inside the 250 ms of the contract. */
const PROGRESS_DELAY_MS = 100;

/**
 * Builds the scheduler and what surrounds it, from the line as the database keeps it: the journal writes through
 * the TransitionWriter and publishes through the JobPublisher; the backend monitor moves backends in and out of
 * the scheduler; submissions are stored in the journal's lane and join the line through the LineIntake. Nothing
 * runs yet: JobService.start recovers, then starts the loops.
 */
export const wireJobService = (options: JobServiceOptions, line: LineState): JobServiceParts => {
  const { backends, store, events, log } = options;
  const images = "images" in options ? options.images : new FileImageStore(options.imagesDir);
  const backendUrls = backends.map((backend) => backend.baseUrl);
  const runtime = makeEffectRuntime();
  const checkpoints = new CheckpointCatalog(backends, runtime, log);
  const retention = new EventRetention(store, {
    retentionMs: options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS,
    intervalMs: options.eventPruneIntervalMs,
    log,
    runtime,
  });
  const statistics = new StatisticsUpkeep(store, { intervalMs: options.statisticsIntervalMs, log, runtime });
  // The read model and the estimates read each other and the scheduler: each reaches the others once all exist.
  const estimates: Estimates = new Estimates({
    now: () => Date.now(),
    backends: backendUrls,
    // Held by an admin's pause, by an image waiting to be stored or by a stop (what waits runs at the next start, or
    // on the next leader): no waiting job is foretold to start.
    queue: () => ({
      ...scheduler.snapshot(),
      held: scheduler.held || scheduler.imagesBlocked || !scheduler.dispatching,
    }),
    line: (limit) => scheduler.queued(limit),
    position: (jobId) => scheduler.position(jobId),
    record: (jobId) => live.record(jobId),
  });
  const live: LiveJobs = new LiveJobs({ store, events, estimates, position: (jobId) => scheduler.position(jobId) });
  const publisher = new JobPublisher({ events, live, estimates, images, observers: options.observers, log });
  const writer = new TransitionWriter(store, (backend) => backendUrls[backend] ?? null);
  const handovers = new Handovers(options.handoverWaitMs);
  // The database away: one warning when its writes start failing, one line when they go through again.
  const writeFailures = new FailureSpell(log, "database writes go through again");
  const imageFailures = new FailureSpell(log, "images are stored again");
  let imagesWaiting = 0;
  /** Holds the line while an image waits to be stored, and tells the estimates, as a pause does. */
  const holdForImages = (held: boolean) => {
    scheduler.blockForImages(held);
    live.retimed();
  };
  // A write refused because this server's term as leader is over is no outage: said once, as what it is.
  let termOverSaid = false;
  // Persisted across restarts and failovers: a server that starts on a paused queue says why nothing runs.
  if (line.paused) log?.("the queue is paused (queue.pause): no job starts until queue.resume", {}, "warn");
  const scheduler: JobScheduler<Persisted> = new JobScheduler<Persisted>({
    runtime,
    backends: backends.length,
    jobTimeoutMs: options.jobTimeoutMs,
    mode: options.scheduling ?? "fair",
    ...(options.modelAffinity === false ? { affinity: null } : {}),
    served: line.served,
    held: line.paused,
    onDispatch: (decision) => {
      handovers.started(decision.backend, decision.jobId);
      options.onDispatch?.(decision);
    },
    generate: publisher.observed(
      forgeGenerate(
        backends,
        images,
        {
          unreachable: (backend, reason) => monitor.markDown(backend, reason),
          loading: (backend, loading) => monitor.loadingModel(backend, loading),
          // While an image waits for the images folder, no job starts: running ones finish, and no more GPU work
          // piles up in memory behind it.
          imageStorage: (change, cause) => {
            if (change === "waiting") {
              if (imagesWaiting++ === 0) holdForImages(true);
              imageFailures.failed(
                "an image could not be stored: no job starts until it is; it is tried again until then, or until its job times out",
                { error: databaseErrorText(cause) },
              );
              return;
            }
            if (--imagesWaiting === 0) holdForImages(false);
            if (change === "stored") imageFailures.succeeded();
          },
        },
        handovers,
        (names) => checkpoints.namesForDispatch(names),
      ),
    ),
    persist: async (entries) => {
      const persisted = await writer.write(entries);
      writeFailures.succeeded();
      return persisted;
    },
    // Progress waits up to this long behind status changes: it never holds up the next job's start (docs/API.md:
    // the latest progress arrives within 250 ms).
    progressDelayMs: PROGRESS_DELAY_MS,
    publish: (entry, persisted) => publisher.publish(entry, persisted),
    // The term ended (another server leads): what failed to be written is the next leader's to go on from.
    onAbandon: () => {
      const over =
        "no longer tried here: this server's term as leader ended, and the next leader goes on from what the database holds";
      writeFailures.over(`database writes are ${over}`);
      imageFailures.over(`images are ${over}`);
    },
    isUnreachable: isTransientDatabaseError,
    onPublishError: (error, entry) =>
      log?.("publishing a persisted change failed", { error: databaseErrorText(error), jobId: entry.jobId }, "error"),
    onRetry: (error, attempt) => {
      if (!isFenced(error.cause)) {
        writeFailures.failed("database write failed; retrying", { error: databaseErrorText(error.cause), attempt });
      } else if (!termOverSaid) {
        termOverSaid = true;
        log?.(
          "another server leads the cluster now: this server's writes are refused, and the next leader goes on from what the database holds",
          { error: databaseErrorText(error.cause) },
          "warn",
        );
      }
      // The lane is stuck behind this write until the database answers: a submission waiting there would only
      // run into its deadline, so it is refused now.
      submissions.refuseWaiting((notDone) => databaseDown(error.cause, notDone));
    },
    onRejected: (error, entry) => {
      if (entry.kind === "places") {
        // No job fails for it: the line here goes on as it is; only a new leader would order them otherwise.
        log?.(
          "the database refused the places of waiting jobs in the line (SCHEDULING=fifo); a new leader may start that user's jobs in another order",
          { jobId: entry.jobId, error: databaseErrorText(error.cause) },
          "error",
        );
        return;
      }
      // The journal fails the job in the refused write's place: said loudly, and a job that is still waiting or
      // running leaves the line or its GPU, since its state can no longer be written as it goes.
      log?.(
        "the database refused a write; the job it belongs to fails, the rest goes on",
        {
          jobId: entry.jobId,
          write: entry.kind === "transition" ? `${entry.from} → ${entry.to}` : "progress",
          error: databaseErrorText(error.cause),
        },
        "error",
      );
      if (entry.kind === "transition" && scheduler.status(entry.jobId) !== undefined) {
        // Not awaited: this runs in the journal's lane, which the cancellation's own transition has to pass.
        void scheduler.cancel(entry.jobId);
      }
    },
    onLineChange: (change) => live.lineChanged(change),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  const intake = new LineIntake({ live, scheduler, publisher });
  const lane = (task: () => Promise<void>) => scheduler.journal.run(task);
  const recovery = new Recovery({ store, live, intake, lane, log, runtime });
  // Submissions run in the journal's lane: the scheduler's line follows the database's order (seq), and
  // every status event is published in the order of its id, so a resume cursor never skips one.
  const { removals } = options;
  const submissions = new Submissions({
    run: lane,
    lastProgressAt: () => scheduler.journal.lastProgressAt,
    store: (inputs) => store.submitJobs(inputs),
    storeNew: (inputs) => store.submitNewJobs(inputs),
    inFlight: store.pipelinesSubmissions ? 2 : 1,
    laneWaiting: () => scheduler.journal.waiting,
    storeAll: (inputs) => store.submitJobsAtomically(inputs),
    acceptAll: (results) => intake.acceptAll(results),
    onUncertain: () => recovery.sweepOrphans(),
    deadlineMs: options.submitDeadlineMs ?? SUBMIT_DEADLINE_MS,
    // Any answer will do (read-only too): the database is there, and works on what it was sent.
    answering: () => store.takesWrites(),
    ...(removals ? { removedSince: (caller: Caller) => removals.removedSince(caller) } : {}),
  });
  const quota = new QueueQuota(options.maxQueuedPerUser ?? DEFAULT_MAX_QUEUED_PER_USER, (owner) =>
    live.queuedOf(owner),
  );
  const monitor: BackendMonitor = new BackendMonitor(
    backends,
    {
      up: (i) => {
        scheduler.backendUp(i);
        live.retimed();
      },
      down: (i) => {
        scheduler.backendDown(i);
        live.retimed();
      },
      isOurs: (i) => scheduler.snapshot().backends[i]?.jobId != null,
      loaded: (i, model) => {
        scheduler.backendModel(i, model);
        const url = backendUrls[i];
        if (url) estimates.loaded(url, model);
      },
      ...(log ? { log } : {}),
      runtime,
    },
    options.probeIntervalMs,
  );
  return {
    runtime,
    images,
    scheduler,
    monitor,
    checkpoints,
    retention,
    statistics,
    estimates,
    live,
    submissions,
    quota,
    recovery,
    publisher,
  };
};
