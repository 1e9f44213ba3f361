import { assign, enqueueActions, setup, stopChild } from "xstate";
import type { ActorRefFrom, SnapshotFrom } from "xstate";
import { imageJobMachine } from "./image-job.machine";
import type { ImageJobContext, ImageJobInput, ImageJobOutput } from "./image-job.machine";
import type { JobStatus } from "./job";
import { OrderedQueue } from "./ordered-queue";

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
}

/** A status change of one job, reported for persisting and publishing. */
export interface JobTransition {
  jobId: string;
  from: JobStatus;
  to: JobStatus;
  job: Omit<ImageJobContext, "params" | "prompt" | "generated">;
}

/** How the scheduler starts. */
export interface SchedulerInput {
  backends: number;
  /** Whether backends count as healthy before any probe says so (tests); default false. */
  healthy?: boolean;
}

/** The scheduler's context: the line, the live job actors and the backends. */
export interface SchedulerContext {
  queue: OrderedQueue;
  jobs: Map<string, ImageJobActor>;
  seen: Map<string, { status: JobStatus; progress: number }>;
  backends: BackendSlot[];
  dispatching: boolean;
}

/** Events the scheduler accepts. */
export type SchedulerEvent =
  | { type: "scheduler.enqueue"; job: ImageJobInput }
  | { type: "scheduler.cancel"; jobId: string }
  | { type: "scheduler.pause" }
  | { type: "backend.up"; backend: number }
  | { type: "backend.down"; backend: number }
  | { type: `xstate.snapshot.${string}`; snapshot: SnapshotFrom<typeof imageJobMachine> }
  | { type: `xstate.done.actor.${string}`; output: ImageJobOutput };

const jobIdOf = (type: string, prefix: string): string => type.slice(prefix.length);

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

/** The part of a job's context that transitions carry (prompt and params never change). */
const summary = ({
  params: _params,
  prompt: _prompt,
  generated: _generated,
  ...rest
}: ImageJobContext): JobTransition["job"] => rest;

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
    reportQueueChanged: () => {},
  },
});

// The line, the maps and the backend slots are owned by this actor and changed only in its own
// transitions; keeping them mutable is what makes a dequeue O(log n) with 10,000 jobs waiting.
const dispatch = schedulerSetup.enqueueActions(({ context, enqueue }) => {
  if (!context.dispatching) return;
  for (const [backend, slot] of context.backends.entries()) {
    if (!slot.healthy || slot.jobId !== null) continue;
    const next = context.queue.peek();
    const actor = next === undefined ? undefined : context.jobs.get(next);
    if (next === undefined || !actor) break;
    context.queue.remove(next);
    slot.jobId = next;
    slot.since = Date.now();
    enqueue.sendTo(actor, { type: "job.start", backend });
    enqueue("reportQueueChanged");
  }
});

/**
 * The scheduler: spawns one image-job actor per submitted job (actor id = job id), keeps the line in
 * submission order and is the only place that decides which job runs next, on which backend.
 * It does no I/O: transitions, progress and changes of the line are reported through the named
 * actions `reportTransition`, `reportProgress` and `reportQueueChanged`, which the host provides.
 */
export const schedulerMachine = schedulerSetup.extend({ actions: { dispatch } }).createMachine({
  id: "scheduler",
  context: ({ input }) => ({
    queue: new OrderedQueue(),
    jobs: new Map(),
    seen: new Map(),
    backends: Array.from({ length: input.backends }, () => ({
      healthy: input.healthy ?? false,
      jobId: null,
      since: null,
    })),
    dispatching: true,
  }),
  on: {
    "scheduler.enqueue": {
      actions: [
        assign(({ context, event, spawn }) => {
          const { jobId } = event.job;
          if (context.jobs.has(jobId)) return {};
          const actor = spawn("imageJob", { id: jobId, input: event.job, syncSnapshot: true });
          context.jobs.set(jobId, actor);
          context.seen.set(jobId, { status: "queued", progress: 0 });
          context.queue.push(jobId);
          return {};
        }),
        "dispatch",
      ],
    },
    "scheduler.cancel": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const actor = context.jobs.get(event.jobId);
        if (!actor) return;
        // Leaving the line first keeps every other position exact at once; the actor's own
        // transition to `cancelled` follows through its snapshot.
        if (context.queue.remove(event.jobId)) enqueue("reportQueueChanged");
        enqueue.sendTo(actor, { type: "job.cancel" });
      }),
    },
    "scheduler.pause": { actions: assign({ dispatching: false }) },
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
    "xstate.snapshot.*": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (!("snapshot" in event)) return;
        const job = event.snapshot.context;
        const seen = context.seen.get(job.jobId);
        if (!seen) return;
        if (seen.status !== job.status) {
          enqueue({
            type: "reportTransition",
            params: { jobId: job.jobId, from: seen.status, to: job.status, job: summary(job) },
          });
          if (seen.status === "processing" && job.status === "queued") {
            // Its backend went away: the slot is free again and the job runs next, on whichever backend is up.
            release(context.backends, job.jobId);
            context.queue.unshift(job.jobId);
            enqueue("reportQueueChanged");
            enqueue("dispatch");
          }
          seen.status = job.status;
          seen.progress = job.progress;
        } else if (seen.progress !== job.progress) {
          seen.progress = job.progress;
          enqueue({ type: "reportProgress", params: { jobId: job.jobId, progress: job.progress } });
        }
        if (job.status === "processing" && job.generated && release(context.backends, job.jobId)) {
          // The backend is done with it: the next job gets the backend while this one's image is kept.
          enqueue("dispatch");
        }
      }),
    },
    "xstate.done.actor.*": {
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (!("output" in event)) return;
        const jobId = jobIdOf(event.type, "xstate.done.actor.");
        const seen = context.seen.get(jobId);
        const { output } = event;
        if (seen && seen.status !== output.status) {
          const job = {
            ...output,
            status: output.status,
            progress: output.status === "complete" ? 100 : seen.progress,
          };
          enqueue({ type: "reportTransition", params: { jobId, from: seen.status, to: output.status, job } });
        }
        context.seen.delete(jobId);
        context.jobs.delete(jobId);
        if (context.queue.remove(jobId)) enqueue("reportQueueChanged");
        release(context.backends, jobId);
        enqueue(stopChild(jobId));
        enqueue("dispatch");
      }),
    },
  },
});
