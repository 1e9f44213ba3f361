import { assign, fromPromise, sendParent, setup } from "xstate";
import { isBackendLost, MAX_ATTEMPTS } from "./job";
import type { LineEntry } from "./fair-line";
import type { Clock, GenerateRequest, GenerateResult, JobParams, JobStatus } from "./job";

/** What the scheduler knows of a job when it spawns its actor. */
export interface ImageJobInput {
  jobId: string;
  prompt: string;
  params: JobParams;
  /** 1 for a first run; counts up when a job is run again (after a crash, a stop, a lost backend). */
  attempt: number;
  /**
   * How many of its earlier attempts a shutdown cut short (default 0): no fault, so they do not count toward
   * {@link MAX_ATTEMPTS}.
   */
  spared?: number;
  /** Where the job waits in the line: its owner, priority, submission order and moves (default: local, 0, arrival). */
  line?: Partial<Omit<LineEntry, "jobId">>;
  /**
   * It was running when a server went away (killed, or its term as leader over): it waits ahead of every turn, as a
   * job whose backend went away does, since it had its turn already.
   */
  again?: boolean;
}

/** What a job actor is started with: its job, and the clock its timestamps come from (default `Date.now`). */
export interface ImageJobActorInput extends ImageJobInput {
  now?: Clock;
}

/** The job actor's context: everything its transitions decide, nothing it had to fetch. */
export interface ImageJobContext extends ImageJobInput {
  now: Clock;
  status: JobStatus;
  backend: number | null;
  progress: number;
  result: GenerateResult | null;
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** The owner's turn this attempt was started in (persisted with `processing`); null for a job run out of turn. */
  turn: number | null;
  /**
   * The backend has finished and is free for the next job; the job stays `processing` while its output is kept
   * (the image written). The scheduler hands the backend on as soon as this turns true.
   */
  generated: boolean;
  /** Who cancelled it (its owner, or an admin); null unless it was cancelled by someone. */
  cancelledBy: string | null;
}

/** Events an image job accepts. */
export type ImageJobEvent =
  /** `reason`: why the scheduler chose this job (shown in /inspect's timeline with the event). */
  | { type: "job.start"; backend: number; turn?: number | null; reason?: string }
  | { type: "job.progress"; progress: number }
  | { type: "job.generated" }
  /** Its start is written down and its request goes to the backend now (see {@link HELD_START_MS}). */
  | { type: "job.sent" }
  /** `by`: the user who cancelled it. */
  | { type: "job.cancel"; by?: string | undefined };

/** What a job tells of itself when its status changes: its context without what never changes. */
export type ImageJobSummary = Pick<
  ImageJobContext,
  | "jobId"
  | "attempt"
  | "status"
  | "backend"
  | "progress"
  | "result"
  | "error"
  | "startedAt"
  | "finishedAt"
  | "turn"
  | "cancelledBy"
>;

/**
 * What a job actor tells its parent, the scheduler, as it happens. Its end is not among them: that is its
 * output, which XState sends the parent as `xstate.done.actor.<jobId>` once the actor has stopped.
 */
export type ImageJobReport =
  /** queued → processing: it holds a backend. */
  | { type: "job.started"; job: ImageJobSummary }
  /** Its progress went up (whole percent, below 100). */
  | { type: "job.progress"; jobId: string; progress: number }
  /** Its backend is done with it, and free; the job stays `processing` while its output is kept. */
  | { type: "job.generated"; jobId: string }
  /** Its start, written down late, is counted from `startedAt`, when its request went out (see HELD_START_MS). */
  | { type: "job.sent"; jobId: string; startedAt: number }
  /** processing → queued: its backend went away; it waits for another, as its next attempt. */
  | { type: "job.requeued"; job: ImageJobSummary };

/** What the invoked `generate` actor receives. */
export interface GenerateActorInput {
  request: GenerateRequest;
  /** Report 0..100; the machine keeps the value monotone and below 100 until the image exists. */
  onProgress: (progress: number) => void;
  /** Tell the job its backend is done (and free): what is left is keeping the output. */
  onGenerated: () => void;
  /** Tell the job its start is written down and its request goes out now (write-ahead). */
  onSent?: () => void;
}

/**
 * A job's start is written down before its request goes to the backend, which takes milliseconds. When that write
 * was held up longer than this (the database away, then back), the job's start is when its request went out: the
 * wait was no GPU time, and the runs that estimates learn from, and `runMs`, would count it as some.
 */
export const HELD_START_MS = 1_000;

/** Whether writing the job's start down took longer than {@link HELD_START_MS} until now. */
const startHeldUp = (context: ImageJobContext): boolean =>
  context.startedAt !== null && context.now() - context.startedAt > HELD_START_MS;

/** The final word of a job actor, sent to its parent in `xstate.done.actor.<jobId>`. */
export type ImageJobOutput = Pick<
  ImageJobContext,
  "jobId" | "status" | "backend" | "result" | "error" | "startedAt" | "finishedAt" | "attempt" | "cancelledBy"
>;

/** A readable message from whatever a failed generation threw. */
export const describeFailure = (error: unknown): string => {
  if (error instanceof Error && error.message) return error.message;
  if (typeof error === "string" && error) return error;
  return "The generation failed for an unknown reason";
};

const summaryOf = (context: ImageJobContext): ImageJobSummary => ({
  jobId: context.jobId,
  attempt: context.attempt,
  status: context.status,
  backend: context.backend,
  progress: context.progress,
  result: context.result,
  error: context.error,
  startedAt: context.startedAt,
  finishedAt: context.finishedAt,
  turn: context.turn,
  cancelledBy: context.cancelledBy,
});

/** A backend's progress as the job keeps it: whole percent, and below 100 until the image exists. */
/** The attempts up to this one that a fault ended, not a shutdown: these count toward {@link MAX_ATTEMPTS}. */
const faultedAttempts = (context: ImageJobContext): number => context.attempt - (context.spared ?? 0);

/** The attempts on which a job lost its backend, in words. */
const lostOn = (context: ImageJobContext): string =>
  context.spared
    ? `${faultedAttempts(context)} of its ${context.attempt} attempts (a shutdown cut the others short)`
    : `each of its ${context.attempt} attempts`;

const toProgress = (progress: number): number => Math.min(99, Math.floor(progress));

/**
 * One image job: queued → processing → complete | error, and queued | processing → cancelled; a job whose
 * backend went away mid-generation goes back to queued, as its next attempt.
 * The generation is the invoked `generate` actor; leaving `processing` for any reason stops it,
 * which interrupts the backend call behind it. It tells its parent what happened through the named action
 * `report` (see {@link ImageJobReport}); a job actor run without a parent needs `report` provided.
 */
export const imageJobMachine = setup({
  types: {
    input: {} as ImageJobActorInput,
    context: {} as ImageJobContext,
    events: {} as ImageJobEvent,
    output: {} as ImageJobOutput,
  },
  actors: {
    generate: fromPromise<GenerateResult, GenerateActorInput>(async () => {
      throw new Error("No backend is connected to this job machine");
    }),
  },
  actions: {
    report: sendParent((_, report: ImageJobReport) => report),
    noteCanceller: assign(({ event }) => ({ cancelledBy: event.type === "job.cancel" ? (event.by ?? null) : null })),
    finish: assign(({ context }, params: { status: JobStatus }) => ({
      status: params.status,
      finishedAt: context.now(),
    })),
  },
}).createMachine({
  id: "imageJob",
  initial: "queued",
  context: ({ input: { now, ...job } }) => ({
    ...job,
    now: now ?? Date.now,
    status: "queued",
    backend: null,
    progress: 0,
    result: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    turn: null,
    generated: false,
    cancelledBy: null,
  }),
  states: {
    queued: {
      on: {
        "job.start": {
          target: "processing",
          actions: assign(({ context, event }) => ({
            status: "processing",
            backend: event.backend,
            startedAt: context.now(),
            turn: event.turn ?? null,
          })),
        },
        "job.cancel": { target: "cancelled", actions: "noteCanceller" },
      },
    },
    processing: {
      entry: { type: "report", params: ({ context }) => ({ type: "job.started", job: summaryOf(context) }) },
      invoke: {
        src: "generate",
        input: ({ context, self }) => ({
          request: {
            jobId: context.jobId,
            prompt: context.prompt,
            params: context.params,
            attempt: context.attempt,
            backend: context.backend ?? 0,
          },
          // The backend call may report once more while it is being interrupted, after the job ended: dropped.
          onProgress: (progress: number) => {
            if (self.getSnapshot().status === "active") self.send({ type: "job.progress", progress });
          },
          onGenerated: () => {
            if (self.getSnapshot().status === "active") self.send({ type: "job.generated" });
          },
          // Sent only when its start was held up: an event for every job would crowd the inspector's timeline.
          onSent: () => {
            if (self.getSnapshot().status === "active" && startHeldUp(context)) self.send({ type: "job.sent" });
          },
        }),
        onDone: { target: "complete", actions: assign(({ event }) => ({ result: event.output, progress: 100 })) },
        onError: [
          {
            // The backend went away, not the job: back to the line, as the next attempt, for another backend.
            guard: ({ context, event }) => isBackendLost(event.error) && faultedAttempts(context) < MAX_ATTEMPTS,
            target: "queued",
            actions: [
              assign(({ context }) => ({
                status: "queued" as const,
                attempt: context.attempt + 1,
                backend: null,
                progress: 0,
                startedAt: null,
                generated: false,
              })),
              { type: "report", params: ({ context }) => ({ type: "job.requeued", job: summaryOf(context) }) },
            ],
          },
          {
            target: "error",
            actions: assign(({ context, event }) => ({
              error: isBackendLost(event.error)
                ? `${describeFailure(event.error)}; the job lost its backend on ${lostOn(context)} and was given up`
                : describeFailure(event.error),
            })),
          },
        ],
      },
      on: {
        "job.progress": {
          guard: ({ context, event }) => toProgress(event.progress) > context.progress,
          actions: [
            assign(({ event }) => ({ progress: toProgress(event.progress) })),
            {
              type: "report",
              params: ({ context }) => ({ type: "job.progress", jobId: context.jobId, progress: context.progress }),
            },
          ],
        },
        "job.generated": {
          guard: ({ context }) => !context.generated,
          actions: [
            assign({ generated: true }),
            { type: "report", params: ({ context }) => ({ type: "job.generated", jobId: context.jobId }) },
          ],
        },
        "job.sent": {
          guard: ({ context }) => startHeldUp(context),
          actions: [
            assign(({ context }) => ({ startedAt: context.now() })),
            {
              type: "report",
              params: ({ context }) => ({ type: "job.sent", jobId: context.jobId, startedAt: context.startedAt ?? 0 }),
            },
          ],
        },
        "job.cancel": { target: "cancelled", actions: "noteCanceller" },
      },
    },
    complete: { type: "final", entry: { type: "finish", params: { status: "complete" } } },
    error: { type: "final", entry: { type: "finish", params: { status: "error" } } },
    cancelled: { type: "final", entry: { type: "finish", params: { status: "cancelled" } } },
  },
  output: ({ context }) => ({
    jobId: context.jobId,
    status: context.status,
    backend: context.backend,
    result: context.result,
    error: context.error,
    startedAt: context.startedAt,
    finishedAt: context.finishedAt,
    attempt: context.attempt,
    cancelledBy: context.cancelledBy,
  }),
});
