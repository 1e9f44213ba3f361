import { Data, Duration, Effect } from "effect";
import { createActor, fromPromise } from "xstate";
import type { Actor, InspectionEvent } from "xstate";
import { defaultRuntime } from "./effect-runtime";
import type { EffectRuntime } from "./effect-runtime";
import { GpuPool } from "./gpu-pool";
import type { GpuPoolService } from "./gpu-pool";
import { imageJobMachine } from "./image-job.machine";
import type { GenerateActorInput, ImageJobInput } from "./image-job.machine";
import type { Clock, GenerateRequest, GenerateResult, JobStatus } from "./job";
import { Journal } from "./journal";
import type { JournalOptions } from "./journal";
import type { LineChangeListener } from "./line-change";
import { schedulerMachine } from "./scheduler.machine";
import type { DispatchDecision, SchedulerContext } from "./scheduler.machine";
import type { AffinityLimits, LineEntry, SchedulingMode } from "./fair-line";

/**
 * What is left of an attempt once its backend is done: keeping the output (writing the image). It runs after the
 * GPU permit is given back, so the next job's generation overlaps it. It fails with an error whose message the
 * job's user reads (the job's `error`).
 */
export type KeepProgram<E extends Error = Error> = Effect.Effect<GenerateResult, E>;

/**
 * The backend call for one attempt: an Effect, so that interrupting it interrupts the backend. It succeeds once the
 * backend is done (and idle), with what keeps its output; its failure's message is what the job's user reads.
 */
export type GenerateProgram<E extends Error = Error> = (
  request: GenerateRequest,
  onProgress: (progress: number) => void,
) => Effect.Effect<KeepProgram<E>, E>;

/** An attempt held its GPU, or kept its output, for longer than the job timeout; its message says which. */
export class GenerationTimedOut extends Data.TaggedError("GenerationTimedOut")<{ message: string }> {}

/** Everything the scheduler needs from its host. */
export interface JobSchedulerOptions<P> extends Pick<
  JournalOptions<P>,
  | "persist"
  | "publish"
  | "onRetry"
  | "onAbandon"
  | "onPublishError"
  | "isUnreachable"
  | "onRejected"
  | "progressDelayMs"
> {
  /** The clock of every timestamp the scheduler, its job actors, its GPU permits and its journal take (default `Date.now`). */
  now?: Clock;
  /** Where the generations and the journal's writes run (default {@link defaultRuntime}). */
  runtime?: EffectRuntime;
  backends: number;
  generate: GenerateProgram;
  /** The longest one attempt may hold a GPU before it is interrupted and fails. */
  jobTimeoutMs: number;
  /** Told of every change of the waiting line, in order, as it happens (see line-change.ts). */
  onLineChange?: LineChangeListener;
  /** Called when a job is started, with why it was chosen. */
  onDispatch?: (decision: DispatchDecision) => void;
  /** `fair` (default) or `fifo`. */
  mode?: SchedulingMode;
  /** Model affinity with several backends (default: the owner's next 32 jobs, 3 passes at most); null: off. */
  affinity?: AffinityLimits | null;
  /** Each owner's last turn as persisted, and whether an admin paused the queue: a new leader rebuilds the same order. */
  served?: Iterable<[string, number]>;
  held?: boolean;
  /** Whether backends start healthy (tests); a host that probes its backends leaves this false. */
  healthy?: boolean;
  /** XState inspection observer for the scheduler and every job actor. */
  inspect?: (event: InspectionEvent) => void;
}

/** A held job as inspection shows it: its actor, or for a job still waiting to start, its line entry. */
export interface JobView {
  jobId: string;
  /** The machine's state ("queued", "processing", …). */
  state: string;
  /** The actor's own status ("active", "done", "stopped"), or "not spawned yet" for a job that never started. */
  actorStatus: string;
  /** 1 = next to get a GPU; 0 when not waiting. */
  position: number;
  prompt: string;
  progress: number;
  backend: number | null;
  /**
   * The backend gave its image and the GPU went on to the next job: what is left is storing the image, so the job
   * is still `processing` while another runs on its GPU.
   */
  generated: boolean;
  attempt: number;
  startedAt: number | null;
}

/** The queue at a glance. */
export interface QueueSnapshot {
  queued: number;
  /** Jobs in `processing`: on a backend, or done with it and keeping their image. */
  processing: number;
  backends: {
    healthy: boolean;
    busy: boolean;
    jobId: string | null;
    /**
     * The GPU is still busy, but with no job of the line: one that ended (cancelled, timed out) while Forge is
     * being interrupted, or what another server left there, waited out before the next job goes.
     */
    stopping: boolean;
    since: number | null;
    /** The model loaded there as far as the scheduler knows; null when unknown. */
    model: string | null;
  }[];
}

const timeoutMessage = (ms: number): string =>
  `The generation timed out after ${Duration.format(Duration.millis(ms))}; the backend was interrupted`;

const keepTimeoutMessage = (ms: number): string =>
  `The image could not be saved within ${Duration.format(Duration.millis(ms))}`;

/** Fails `effect` with `message` once it has run for `ms`. */
const within =
  (ms: number, message: string) =>
  <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | GenerationTimedOut> =>
    Effect.timeoutOrElse(effect, {
      duration: Duration.millis(ms),
      orElse: () => Effect.fail(new GenerationTimedOut({ message })),
    });

/**
 * The persisted `processing` transition of each attempt, for its generation to wait on. The job actor starts its
 * generation in the same step in which it reports the transition, so either side may come first.
 */
class DecisionLog {
  private readonly pending = new Map<
    string,
    { promise: Promise<void>; resolve: (written: Promise<void>) => void; recorded: boolean; asked: boolean }
  >();

  private entry(key: string) {
    let entry = this.pending.get(key);
    if (!entry) {
      let resolve: (written: Promise<void>) => void = () => undefined;
      const promise = new Promise<void>((done) => {
        resolve = (written) => done(written);
      });
      entry = { promise, resolve, recorded: false, asked: false };
      this.pending.set(key, entry);
    }
    return entry;
  }

  /** The journal's promise for the `processing` transition of this attempt. */
  record(jobId: string, attempt: number, written: Promise<void>): void {
    const key = `${jobId}#${attempt}`;
    const entry = this.entry(key);
    entry.recorded = true;
    entry.resolve(written);
    if (entry.asked) this.pending.delete(key);
  }

  /** Settles once that transition is persisted (and published); asked once, by the attempt's generation. */
  written(jobId: string, attempt: number): Promise<void> {
    const key = `${jobId}#${attempt}`;
    const entry = this.entry(key);
    entry.asked = true;
    if (entry.recorded) this.pending.delete(key);
    return entry.promise;
  }

  /** Drops what an attempt that ended without generating (cancelled as it started) left behind. */
  forget(jobId: string, attempt: number): void {
    this.pending.delete(`${jobId}#${attempt}`);
  }
}

/**
 * The host's handle on the scheduler actor: it wires the backend call into the job machine under the
 * GPU permits, and every transition into the journal (persist, then publish).
 */
export class JobScheduler<P> {
  /** The running scheduler actor (its children are the job actors). */
  readonly actor: Actor<typeof schedulerMachine>;
  /** The GPU permits every generation runs under. */
  readonly gpu: GpuPoolService;
  /** Where transitions are written down before anyone hears of them. */
  readonly journal: Journal<P>;
  /** Where its Effect programs run. */
  private readonly runtime: EffectRuntime;

  constructor(options: JobSchedulerOptions<P>) {
    const now = options.now ?? Date.now;
    const runtime = options.runtime ?? defaultRuntime;
    const gpu = GpuPool.makeSync(options.backends, now, runtime);
    const journal = new Journal<P>({ ...options, now, runtime });
    const decisions = new DecisionLog();
    const generate = fromPromise<GenerateResult, GenerateActorInput>(({ input, signal }) => {
      const { request } = input;
      // Write-ahead: the job is `processing` in the database before its request goes to the backend.
      const decided = Effect.promise(() => decisions.written(request.jobId, request.attempt));
      const { jobTimeoutMs } = options;
      return runtime.runPromise(
        gpu
          .withGpu(request.backend)(
            decided.pipe(
              Effect.tap(() => Effect.sync(() => input.onSent?.())),
              Effect.andThen(options.generate(request, input.onProgress)),
              within(jobTimeoutMs, timeoutMessage(jobTimeoutMs)),
            ),
          )
          .pipe(
            // The permit is back: the job tells its parent, which hands the backend on, and keeps the image meanwhile.
            Effect.tap(() => Effect.sync(input.onGenerated)),
            Effect.flatMap(within(jobTimeoutMs, keepTimeoutMessage(jobTimeoutMs))),
          ),
        { signal },
      );
    });
    const machine = schedulerMachine.provide({
      actors: { imageJob: imageJobMachine.provide({ actors: { generate } }) },
      actions: {
        reportTransition: (_, transition) => {
          const written = journal.record({ kind: "transition", ...transition });
          if (transition.to === "processing") decisions.record(transition.jobId, transition.job.attempt, written);
          else if (transition.from === "processing") decisions.forget(transition.jobId, transition.job.attempt);
        },
        reportProgress: (_, { jobId, progress }) => void journal.record({ kind: "progress", jobId, progress }),
        reportPlaces: (_, { jobId, places }) => void journal.record({ kind: "places", jobId, places }),
        reportLineChange: (_, change) => options.onLineChange?.(change),
        reportDispatch: (_, decision) => options.onDispatch?.(decision),
      },
    });
    this.gpu = gpu;
    this.journal = journal;
    this.runtime = runtime;
    this.actor = createActor(machine, {
      input: {
        backends: options.backends,
        healthy: options.healthy ?? false,
        mode: options.mode ?? "fair",
        served: options.served ?? [],
        held: options.held ?? false,
        now,
        ...(options.affinity === undefined ? {} : { affinity: options.affinity }),
      },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.actor.start();
  }

  /** The scheduler's context: read here only, so that other code asks these methods instead of reaching in. */
  private get state(): SchedulerContext {
    return this.actor.getSnapshot().context;
  }

  /** Puts a job at the end of the line (jobs must be submitted in their submission order). */
  submit(job: ImageJobInput): void {
    this.actor.send({ type: "scheduler.enqueue", job });
  }

  /**
   * Puts many jobs at the end of the line, in the order given, in one step of the machine (one: {@link submit}).
   * `meanwhile` runs once they joined and before any job starts: what it reads of the line is the line they joined,
   * as the database stored them. (Read after a start, a job that just got a GPU still waits at 1 until its start is
   * persisted, beside the one that is #1 now.)
   */
  submitMany(jobs: readonly ImageJobInput[], meanwhile?: () => void): void {
    const later = meanwhile !== undefined && jobs.length > 0;
    const [first] = jobs;
    if (jobs.length > 1) this.actor.send({ type: "scheduler.enqueueMany", jobs, later });
    else if (first !== undefined) this.actor.send({ type: "scheduler.enqueue", job: first, later });
    try {
      meanwhile?.();
    } finally {
      if (later) this.actor.send({ type: "scheduler.dispatch" });
    }
  }

  /**
   * Cancels a queued or running job (with `waitingOnly`, only a job still waiting in the line: one that started
   * meanwhile runs on); settles once its transition is persisted and published. `by`: the user who cancels it, kept
   * with the job (`cancelledBy`).
   */
  async cancel(jobId: string, { waitingOnly = false, by }: { waitingOnly?: boolean; by?: string } = {}): Promise<void> {
    this.actor.send({ type: "scheduler.cancel", jobId, waitingOnly, by });
    await this.journal.settled(jobId);
  }

  /** 1 = next to get a GPU; 0 when the job is not waiting. */
  position(jobId: string): number {
    return this.state.queue.position(jobId);
  }

  /** The live status of a job this scheduler holds, or undefined once it has ended (or was never here). */
  status(jobId: string): JobStatus | undefined {
    return this.state.seen.get(jobId)?.status;
  }

  /** Waiting jobs in start order (the first `limit`). */
  queued(limit = Infinity): string[] {
    return this.state.queue.firsts(limit);
  }

  /** Where a waiting job stands in the line: its owner, priority, seq and moves. */
  lineEntry(jobId: string): LineEntry | undefined {
    return this.state.queue.entry(jobId);
  }

  /** Moves a waiting job within its owner's jobs (`move` < 0 front, > 0 back) or, with `front`, ahead of all. */
  move(jobId: string, to: { move?: number | null; front?: number | null }): void {
    this.actor.send({ type: "scheduler.move", jobId, ...to });
  }

  /** Pauses (nothing starts; running jobs finish) or resumes the queue. */
  hold(held: boolean): void {
    this.actor.send({ type: held ? "queue.hold" : "queue.release" });
  }

  /** Whether an admin paused the queue. */
  get held(): boolean {
    return this.state.held;
  }

  /**
   * Stops starting jobs while finished images cannot be stored (`blocked`), and starts them again once they can:
   * the running jobs finish, and their images wait to be stored, but no more GPU work piles up behind them.
   */
  blockForImages(blocked: boolean): void {
    this.actor.send({ type: blocked ? "images.blocked" : "images.stored" });
  }

  /** Whether jobs wait because finished images cannot be stored. */
  get imagesBlocked(): boolean {
    return this.state.imagesBlocked;
  }

  /** Whether this scheduler holds `jobId` (waiting or running). */
  holds(jobId: string): boolean {
    return this.state.seen.has(jobId);
  }

  /** Whether jobs are started (false once the scheduler is stopping). */
  get dispatching(): boolean {
    return this.state.dispatching;
  }

  /** The scheduler actor's own status ("active" until stopped). */
  get actorStatus(): string {
    return this.actor.getSnapshot().status;
  }

  /** Every job held, in submission order, with its state and what its machine holds (at most `limit`). */
  jobs(limit = Infinity): JobView[] {
    const views: JobView[] = [];
    for (const jobId of this.state.seen.keys()) {
      if (views.length >= limit) break;
      const view = this.job(jobId);
      if (view) views.push(view);
    }
    return views;
  }

  /** How many jobs are held (waiting or running). */
  get size(): number {
    return this.state.seen.size;
  }

  /** How many job actors are alive: a waiting job has none until it is started. */
  get actors(): number {
    return this.state.jobs.size;
  }

  /** One held job, or undefined once it ended. */
  job(jobId: string): JobView | undefined {
    const { jobs, seen } = this.state;
    const held = seen.get(jobId);
    if (!held) return undefined;
    const actor = jobs.get(jobId);
    if (!actor) {
      const { input } = held;
      return {
        jobId,
        state: "queued",
        actorStatus: "not spawned yet",
        position: this.position(jobId),
        prompt: input.prompt,
        progress: 0,
        backend: null,
        generated: false,
        attempt: input.attempt,
        startedAt: null,
      };
    }
    const { value, status, context } = actor.getSnapshot();
    return {
      jobId,
      state: String(value),
      actorStatus: status,
      position: this.position(jobId),
      prompt: context.prompt,
      progress: context.progress,
      backend: context.backend,
      generated: context.generated,
      attempt: context.attempt,
      startedAt: context.startedAt,
    };
  }

  /** Counts and backends, for `queue.status`. */
  snapshot(): QueueSnapshot {
    const { queue, backends, jobs, seen } = this.state;
    const slots = this.gpu.slots();
    // Processing: on a backend, or done with it and keeping its image (which, while images cannot be stored, is
    // every started job with none on a backend). An actor sent back to the line is queued again.
    let processing = 0;
    for (const jobId of jobs.keys()) if (seen.get(jobId)?.status === "processing") processing += 1;
    return {
      queued: queue.size,
      processing,
      backends: backends.map((b, i) => ({
        healthy: b.healthy,
        busy: b.jobId !== null || (slots[i]?.busy ?? false),
        jobId: b.jobId,
        stopping: b.jobId === null && (slots[i]?.busy ?? false),
        since: b.since,
        model: b.model,
      })),
    };
  }

  /** Marks a backend as answering (after its probe) so that jobs are dispatched to it. */
  backendUp(backend: number): void {
    this.actor.send({ type: "backend.up", backend });
  }

  /** Tells the scheduler which model a backend has loaded (null: unknown), for model affinity. */
  backendModel(backend: number, model: string | null): void {
    this.actor.send({ type: "backend.model", backend, model });
  }

  /** How many times model affinity passed a waiting job over. */
  passedOver(jobId: string): number {
    return this.state.queue.passedOver(jobId);
  }

  /** Marks a backend as unreachable; nothing new is dispatched to it. */
  backendDown(backend: number): void {
    this.actor.send({ type: "backend.down", backend });
  }

  /**
   * Stops taking work: no job starts any more; running generations may finish for up to `graceMs`, then what
   * still runs is interrupted (its job stays as persisted, to run again at the next start) and everything
   * recorded is flushed. Returns the ids of the jobs it interrupted.
   */
  async stop(graceMs = 0): Promise<string[]> {
    this.actor.send({ type: "scheduler.pause" });
    // Running: on a backend, or done with it and keeping its image.
    const running = () =>
      [...this.state.seen].flatMap(([jobId, seen]) => (seen.status === "processing" ? [jobId] : []));
    // A job's status leaves `processing` in the same step that records its transition.
    const idle = Effect.callback<void>((resume) => {
      const check = () => {
        if (running().length === 0) resume(Effect.void);
      };
      const subscription = this.actor.subscribe(check);
      check();
      return Effect.sync(() => subscription.unsubscribe());
    });
    if (graceMs > 0) await this.runtime.runPromise(Effect.timeoutOption(idle, Duration.millis(graceMs)));
    const interrupted = running();
    this.actor.stop();
    await this.runtime.runPromise(this.gpu.drain);
    await this.journal.flush();
    return interrupted;
  }
}
