import { assign, enqueueActions, setup, stopChild } from "xstate";
import type { ActorRefFrom } from "xstate";
import { imageJobMachine } from "./image-job.machine";
import type {
  ImageJobEvent,
  ImageJobInput,
  ImageJobOutput,
  ImageJobReport,
  ImageJobSummary,
} from "./image-job.machine";
import type { Clock, JobStatus } from "./job";
import { chooseDispatch, DEFAULT_AFFINITY, modelName, modelOf } from "./affinity";
import type { DispatchChoice, DispatchKind } from "./affinity";
import { FairLine } from "./fair-line";
import type { AffinityLimits, LineEntry, LineShift, PlaceChange, SchedulingMode } from "./fair-line";
import { toLineChanges } from "./line-change";
import type { LineChange } from "./line-change";

/** A job actor as the scheduler holds it. */
export type ImageJobActor = ActorRefFrom<typeof imageJobMachine>;

/** One backend (GPU) as the scheduler sees it. */
export interface BackendSlot {
  /** Probed and answering; nothing is dispatched to an unhealthy backend. */
  healthy: boolean;
  /** The job assigned to this backend, or null when it is free. */
  jobId: string | null;
  /** When the assignment began (epoch ms). */
  since: number | null;
  /** The model loaded there (see `modelOf`) as far as the scheduler knows; null when unknown. */
  model: string | null;
}

/** A status change of one job, reported for persisting and publishing. */
export interface JobTransition {
  jobId: string;
  from: JobStatus;
  to: JobStatus;
  /** `turn` is set on the way to `processing`: the owner's turn, persisted before the generation is sent. */
  job: Omit<ImageJobSummary, "turn"> & { turn?: number | null };
  /** Back in the line from `processing` (its backend went away): the backend it left, as `job.backend` is null again. */
  left?: number;
  /**
   * `fifo`: the places other waiting jobs of its owner bring since this job left the line (see `PlaceChange`),
   * written with this change, so that the line and what the database holds of it change together.
   */
  places?: PlaceChange[];
}

/** How the scheduler starts. */
export interface SchedulerInput {
  backends: number;
  /** Whether backends count as healthy before any probe says so (tests); default false. */
  healthy?: boolean;
  /** `fair` (default): users take turns; `fifo`: submission order. */
  mode?: SchedulingMode;
  /** Each owner's last turn, as persisted (a new leader rebuilds the same order). */
  served?: Iterable<[string, number]>;
  /** Paused by an admin, as persisted: nothing starts until resumed. */
  held?: boolean;
  /** Model affinity's reach (default {@link DEFAULT_AFFINITY}); null turns it off. */
  affinity?: AffinityLimits | null;
  /** The clock of every timestamp the scheduler and its job actors take (default `Date.now`). */
  now?: Clock;
}

/** What the scheduler holds of each job it was given, until the job ends. */
export interface HeldJob {
  status: JobStatus;
  progress: number;
  entry: LineEntry;
  /** What the job's actor is spawned with when the job is started. */
  input: ImageJobInput;
  /** `fifo`: place changes its leaving the line made, to be written with its next transition (see JobTransition). */
  places?: PlaceChange[];
}

/**
 * The scheduler's context: the line, the jobs it holds, their actors and the backends. A waiting job is an entry in
 * the line; its actor is spawned when it is started, so that each waiting job costs a few hundred bytes and no
 * step of the machine copies a map of thousands of actors (XState copies its children map on every spawn and stop).
 */
export interface SchedulerContext {
  queue: FairLine;
  /** The job actors: started jobs (and a job sent back to the line after its backend went away) until they end. */
  jobs: Map<string, ImageJobActor>;
  seen: Map<string, HeldJob>;
  backends: BackendSlot[];
  /** False once the scheduler is stopping. */
  dispatching: boolean;
  /** True while an admin has paused the queue. */
  held: boolean;
  /** True while finished images cannot be stored (a full disk): no job starts, so none more waits in memory. */
  imagesBlocked: boolean;
  /** Arrival counter for jobs submitted without a `seq`. */
  arrivals: number;
  /** Model affinity's reach; null when off. */
  affinity: AffinityLimits | null;
  now: Clock;
}

/** Why a job was started: for `/inspect`. */
export interface DispatchDecision {
  jobId: string;
  owner: string;
  backend: number;
  /** The owner's turn counter, or null for a job run out of turn (moved to the very front, or running again). */
  turn: number | null;
  kind: DispatchKind;
  /** In words, e.g. "bob's turn: served least recently", "ann's turn: kept flux1-dev on GPU 1, passed over 1 job". */
  reason: string;
  /** The model the job needs (null: whatever is loaded), and the one the backend had loaded before (null: unknown). */
  model: string | null;
  loaded: string | null;
  /** Whether the backend must load another model for this job. */
  switched: boolean;
  /** How many of the owner's jobs model affinity passed over for this one. */
  passedOver: number;
}

/** Events the scheduler accepts. */
export type SchedulerEvent =
  /** `later` (here and for many): no job starts until `scheduler.dispatch`, so that the line can be read first. */
  | { type: "scheduler.enqueue"; job: ImageJobInput; later?: boolean }
  /** Many jobs at the end of the line, in order: one assign spawns them all (see the handler). */
  | { type: "scheduler.enqueueMany"; jobs: readonly ImageJobInput[]; later?: boolean }
  /** Starts what can start (after `scheduler.enqueueMany` with `later`). */
  | { type: "scheduler.dispatch" }
  /** `waitingOnly`: only while the job waits in the line (one that started meanwhile runs on). */
  | { type: "scheduler.cancel"; jobId: string; waitingOnly?: boolean; by?: string | undefined }
  | { type: "scheduler.pause" }
  | { type: "queue.hold" }
  | { type: "queue.release" }
  | { type: "images.blocked" }
  | { type: "images.stored" }
  | { type: "scheduler.move"; jobId: string; move?: number | null; front?: number | null }
  | { type: "backend.up"; backend: number }
  | { type: "backend.down"; backend: number }
  /** The model a backend has loaded, as the host read it (null: unknown); sent before it is marked up. */
  | { type: "backend.model"; backend: number; model: string | null }
  /** What a job actor tells of itself as it happens. */
  | ImageJobReport
  /** A job actor's end: its final status and result. */
  | { type: `xstate.done.actor.${string}`; output: ImageJobOutput };

/** Frees the backend slot `jobId` holds, if any; true when it held one. */
const release = (backends: BackendSlot[], jobId: string): boolean => {
  let held = false;
  for (const slot of backends) {
    if (slot.jobId === jobId) {
      slot.jobId = null;
      slot.since = null;
      held = true;
    }
  }
  return held;
};

/**
 * A generation with a model that did not finish may have left its backend with that model, the one before, or
 * none: what is loaded there is unknown until the next job with a model (or the host) says.
 */
const forgetModel = (backends: BackendSlot[], jobId: string, seen: { status: JobStatus; entry: LineEntry }): void => {
  if (seen.status !== "processing" || seen.entry.model == null) return;
  for (const slot of backends) if (slot.jobId === jobId) slot.model = null;
};

/** The line changes a mutation of `line` just made, from what it says it did (its size is already the new one). */
const lineChanges = (line: FairLine, shift: LineShift): LineChange[] =>
  toLineChanges(shift, line.size - shift.inserted.length + shift.removed.length);

/** `transition` with the place changes `held`'s leaving the line made (which it writes down, so they are taken). */
const withPlaces = (held: HeldJob, transition: JobTransition): JobTransition => {
  const { places } = held;
  if (!places) return transition;
  delete held.places;
  return { ...transition, places };
};

const schedulerSetup = setup({
  types: {
    input: {} as SchedulerInput,
    context: {} as SchedulerContext,
    events: {} as SchedulerEvent,
  },
  actors: { imageJob: imageJobMachine },
  actions: {
    reportTransition: (_, _transition: JobTransition) => {},
    reportProgress: (_, _progress: { jobId: string; progress: number }) => {},
    reportLineChange: (_, _change: LineChange) => {},
    reportPlaces: (_, _places: { jobId: string; places: PlaceChange[] }) => {},
    reportDispatch: (_, _decision: DispatchDecision) => {},
  },
});

/** Why `choice` was made, in words for /inspect. */
const describeDispatch = (
  choice: DispatchChoice,
  owner: string,
  servedBefore: number,
  alone: boolean,
  model: string | null,
  loaded: string | null,
): string => {
  const gpu = `GPU ${choice.backend}`;
  const turn = `${owner}'s turn`;
  if (choice.kind === "affinity") {
    const jobs = choice.passedOver === 1 ? "1 job" : `${choice.passedOver} jobs`;
    return `${turn}: kept ${modelName(loaded ?? model ?? "")} on ${gpu}, passed over ${jobs}`;
  }
  const why = {
    turn: `${turn}: ${alone ? "no other user waiting" : servedBefore === 0 ? "never served yet" : "served least recently"}`,
    front: "moved to the front by an admin",
    again: "runs again ahead of the line: its backend or its server went away while it ran",
    fifo: "fifo: first in line",
  }[choice.kind];
  if (model === null) return why;
  return loaded === model
    ? `${why}; ${modelName(model)} already loaded on ${gpu}`
    : `${why}; loads ${modelName(model)} on ${gpu}`;
};

// The line, the maps and the backend slots are owned by this actor and changed only in its own
// transitions; keeping them mutable is what makes a dequeue O(log n) with 10,000 jobs waiting.
const dispatch = schedulerSetup.enqueueActions(({ context, enqueue }) => {
  if (!context.dispatching || context.held || context.imagesBlocked) return;
  // With one backend the line's projection is the start order exactly; affinity is for several (docs/API.md).
  const affinity = context.backends.length > 1 ? context.affinity : null;
  for (;;) {
    const choice = chooseDispatch(context.queue, context.backends, affinity);
    const held = choice && context.seen.get(choice.jobId);
    const slot = choice && context.backends[choice.backend];
    if (!choice || !held || !slot) break;
    const { jobId, backend } = choice;
    const entry = context.queue.entry(jobId);
    const owner = entry?.owner ?? "";
    const model = entry?.model ?? null;
    const servedBefore = context.queue.servedAt(owner);
    const alone = context.queue.waitingOwners === 1;
    const started = context.queue.start(jobId);
    if (!started) break;
    const loaded = slot.model;
    slot.jobId = jobId;
    slot.since = context.now();
    // Anvil sends a checkpoint with `restore afterwards` off: the backend keeps it loaded for the next job.
    if (model !== null) slot.model = model;
    const reason = describeDispatch(choice, owner, servedBefore, alone, model, loaded);
    startJob(context, held, enqueue, { type: "job.start", backend, turn: started.served, reason });
    reportShift(enqueue, context.queue, started.change, { leaving: held });
    const decision: DispatchDecision = {
      jobId,
      owner,
      backend,
      turn: started.served,
      kind: choice.kind,
      reason,
      model,
      loaded,
      switched: model !== null && model !== loaded,
      passedOver: choice.passedOver,
    };
    enqueue({ type: "reportDispatch", params: decision });
  }
});

type Enqueue = Parameters<Parameters<typeof schedulerSetup.enqueueActions>[0]>[0]["enqueue"];

/**
 * Reports what a mutation of the line did: its line changes and, in `fifo` mode, the places it gave other jobs.
 * Those go with the next transition of `leaving` when the change is a job leaving the line (they are written in
 * one commit with it), else on their own, in the name of `subject`.
 */
function reportShift(
  enqueue: Enqueue,
  line: FairLine,
  shift: LineShift,
  to: { leaving: HeldJob } | { subject: string },
): void {
  for (const params of lineChanges(line, shift)) enqueue({ type: "reportLineChange", params });
  const { places } = shift;
  if (!places) return;
  if ("leaving" in to) to.leaving.places = [...(to.leaving.places ?? []), ...places];
  else enqueue({ type: "reportPlaces", params: { jobId: to.subject, places } });
}

/** Sends `start` to a job's actor, spawning the actor first when the job has not run before. */
function startJob(
  context: SchedulerContext,
  held: HeldJob,
  enqueue: Enqueue,
  start: Extract<ImageJobEvent, { type: "job.start" }>,
): void {
  const { jobId } = held.entry;
  const actor = context.jobs.get(jobId);
  if (actor) {
    enqueue.sendTo(actor, start);
    return;
  }
  enqueue.assign(({ spawn }) => {
    context.jobs.set(jobId, spawn("imageJob", { id: jobId, input: { ...held.input, now: context.now } }));
    return {};
  });
  // Resolved after the assign above: the actor exists by then.
  enqueue.sendTo(({ context: after }) => after.jobs.get(jobId) as ImageJobActor, start);
}

/** A waiting job without an actor, cancelled: the transition its actor would have reported. */
const cancelledWhileWaiting = (held: HeldJob, finishedAt: number, by: string | null): JobTransition => ({
  jobId: held.input.jobId,
  from: "queued",
  to: "cancelled",
  job: {
    jobId: held.input.jobId,
    attempt: held.input.attempt,
    status: "cancelled",
    backend: null,
    progress: 0,
    result: null,
    error: null,
    startedAt: null,
    finishedAt,
    cancelledBy: by,
  },
});

/** Puts a job at the end of the line (nothing when the scheduler holds it already); its actor waits for its start. */
function enqueueJob(context: SchedulerContext, job: ImageJobInput): void {
  const { jobId, line } = job;
  if (context.seen.has(jobId)) return;
  const entry: LineEntry = {
    jobId,
    owner: line?.owner ?? "local",
    priority: line?.priority ?? 0,
    seq: line?.seq ?? context.arrivals + 1,
    move: line?.move ?? null,
    front: line?.front ?? null,
    model: modelOf(job.params),
    place: line?.place ?? null,
  };
  context.arrivals = Math.max(context.arrivals, entry.seq);
  context.seen.set(jobId, { status: "queued", progress: 0, entry, input: job });
}

/**
 * The scheduler: holds every submitted job, keeps the line in turn order (see FairLine) and is the only place that decides which job runs next, on which backend.
 * It does no I/O: transitions, progress and changes of the line are reported through the named
 * actions `reportTransition`, `reportProgress`, `reportLineChange` (each change of the line, see line-change.ts),
 * `reportPlaces` (`fifo`: the places jobs bring, when no transition carries them) and `reportDispatch`, which the host
 * provides.
 */
export const schedulerMachine = schedulerSetup.extend({ actions: { dispatch } }).createMachine({
  id: "scheduler",
  context: ({ input }) => ({
    queue: new FairLine(input.mode ?? "fair", input.served ?? []),
    jobs: new Map(),
    seen: new Map(),
    backends: Array.from({ length: input.backends }, () => ({
      healthy: input.healthy ?? false,
      jobId: null,
      since: null,
      model: null,
    })),
    dispatching: true,
    held: input.held ?? false,
    imagesBlocked: false,
    arrivals: 0,
    affinity: input.affinity === undefined ? DEFAULT_AFFINITY : input.affinity,
    now: input.now ?? Date.now,
  }),
  on: {
    "scheduler.enqueue": {
      actions: [
        ({ context, event }) => enqueueJob(context, event.job),
        enqueueActions(({ context, event, enqueue }) => {
          const seen = context.seen.get(event.job.jobId);
          if (!seen || seen.status !== "queued") return;
          const change = event.job.again ? context.queue.unshift(seen.entry) : context.queue.add(seen.entry);
          reportShift(enqueue, context.queue, change, { subject: event.job.jobId });
        }),
        enqueueActions(({ event, enqueue }) => {
          if (!event.later) enqueue("dispatch");
        }),
      ],
    },
    "scheduler.enqueueMany": {
      actions: [
        ({ context, event }) => {
          for (const job of event.jobs) enqueueJob(context, job);
        },
        enqueueActions(({ context, event, enqueue }) => {
          for (const job of event.jobs) {
            const seen = context.seen.get(job.jobId);
            if (!seen || seen.status !== "queued") continue;
            const change = job.again ? context.queue.unshift(seen.entry) : context.queue.add(seen.entry);
            reportShift(enqueue, context.queue, change, { subject: job.jobId });
          }
          if (!event.later) enqueue("dispatch");
        }),
      ],
    },
    "scheduler.dispatch": { actions: "dispatch" },
    "scheduler.cancel": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const held = context.seen.get(event.jobId);
        if (!held || (event.waitingOnly && !context.queue.has(event.jobId))) return;
        // Leaving the line first keeps every other position exact at once.
        const change = context.queue.remove(event.jobId);
        reportShift(enqueue, context.queue, change, { leaving: held });
        const actor = context.jobs.get(event.jobId);
        if (actor) {
          // Its own transition to `cancelled` follows, with its end (`xstate.done.actor.<jobId>`).
          enqueue.sendTo(actor, { type: "job.cancel", by: event.by });
          return;
        }
        // Never started: there is no actor to stop, only the line entry (gone above) and its transition.
        context.seen.delete(event.jobId);
        const cancelled = cancelledWhileWaiting(held, context.now(), event.by ?? null);
        enqueue({ type: "reportTransition", params: withPlaces(held, cancelled) });
      }),
    },
    "scheduler.move": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const seen = context.seen.get(event.jobId);
        if (!seen || !context.queue.has(event.jobId)) return;
        const to = {
          ...(event.move !== undefined ? { move: event.move } : {}),
          ...(event.front !== undefined ? { front: event.front } : {}),
        };
        seen.entry = { ...seen.entry, ...to };
        const change = context.queue.move(event.jobId, to);
        reportShift(enqueue, context.queue, change, { subject: event.jobId });
      }),
    },
    "scheduler.pause": { actions: assign({ dispatching: false }) },
    "queue.hold": { actions: assign({ held: true }) },
    "queue.release": { actions: [assign({ held: false }), "dispatch"] },
    "images.blocked": { actions: assign({ imagesBlocked: true }) },
    "images.stored": { actions: [assign({ imagesBlocked: false }), "dispatch"] },
    "backend.up": {
      actions: [
        ({ context, event }) => {
          const slot = context.backends[event.backend];
          if (slot) slot.healthy = true;
        },
        "dispatch",
      ],
    },
    "backend.down": {
      actions: ({ context, event }) => {
        const slot = context.backends[event.backend];
        if (slot) slot.healthy = false;
      },
    },
    "backend.model": {
      actions: ({ context, event }) => {
        const slot = context.backends[event.backend];
        // A job already sent there decides what it has loaded next; the host's read may predate it.
        if (slot && slot.jobId === null) slot.model = event.model;
      },
    },
    "job.started": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const held = context.seen.get(event.job.jobId);
        if (!held) return;
        enqueue({
          type: "reportTransition",
          params: withPlaces(held, { jobId: event.job.jobId, from: held.status, to: event.job.status, job: event.job }),
        });
        held.status = event.job.status;
        held.progress = event.job.progress;
      }),
    },
    "job.progress": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const held = context.seen.get(event.jobId);
        if (!held) return;
        held.progress = event.progress;
        enqueue({ type: "reportProgress", params: { jobId: event.jobId, progress: event.progress } });
      }),
    },
    "job.sent": {
      actions: ({ context, event }) => {
        // Its backend has been busy with it since its request went out, not since it was picked.
        const slot = context.backends.find((backend) => backend.jobId === event.jobId);
        if (slot) slot.since = event.startedAt;
      },
    },
    "job.generated": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        // The backend is done with it: the next job gets the backend while this one's image is kept.
        if (context.seen.get(event.jobId)?.status === "processing" && release(context.backends, event.jobId)) {
          enqueue("dispatch");
        }
      }),
    },
    "job.requeued": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { job } = event;
        const held = context.seen.get(job.jobId);
        if (!held) return;
        const left = context.backends.findIndex((slot) => slot.jobId === job.jobId);
        const transition = withPlaces(held, { jobId: job.jobId, from: held.status, to: job.status, job });
        enqueue({ type: "reportTransition", params: left < 0 ? transition : { ...transition, left } });
        forgetModel(context.backends, job.jobId, held);
        // Its backend went away: the slot is free again and the job runs next, on whichever backend is up. Ahead of
        // every turn, no earlier move says where it waits, as the database has it (its moves cleared).
        release(context.backends, job.jobId);
        held.entry = { ...held.entry, move: null, front: null };
        const change = context.queue.unshift(held.entry);
        reportShift(enqueue, context.queue, change, { subject: job.jobId });
        held.status = job.status;
        held.progress = job.progress;
        enqueue("dispatch");
      }),
    },
    "xstate.done.actor.*": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (!("output" in event)) return;
        const { output } = event;
        const { jobId } = output;
        const held = context.seen.get(jobId);
        if (held) {
          if (output.status !== "complete") forgetModel(context.backends, jobId, held);
          const job = { ...output, progress: output.status === "complete" ? 100 : held.progress };
          enqueue({
            type: "reportTransition",
            params: withPlaces(held, { jobId, from: held.status, to: output.status, job }),
          });
        }
        context.seen.delete(jobId);
        context.jobs.delete(jobId);
        const change = context.queue.remove(jobId);
        reportShift(enqueue, context.queue, change, { subject: jobId });
        release(context.backends, jobId);
        enqueue(stopChild(jobId));
        enqueue("dispatch");
      }),
    },
  },
});
