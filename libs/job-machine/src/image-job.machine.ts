import { assign, fromPromise, setup } from "xstate";
import { isBackendLost, MAX_ATTEMPTS } from "./job";
import type { LineEntry } from "./fair-line";
import type { GenerateRequest, GenerateResult, JobParams, JobStatus } from "./job";

/** What the scheduler knows of a job when it spawns its actor. */
export interface ImageJobInput {
  jobId: string;
  prompt: string;
  params: JobParams;
  /** 1 for a first run; counts up when a job is run again after a crash. */
  attempt: number;
  /** Where the job waits in the line: its owner, priority, submission order and moves (default: local, 0, arrival). */
  line?: Partial<Omit<LineEntry, "jobId">>;
}

/** The job actor's context: everything its transitions decide, nothing it had to fetch. */
export interface ImageJobContext extends ImageJobInput {
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
}

/** Events an image job accepts. */
export type ImageJobEvent =
  /** `reason`: why the scheduler chose this job (shown in /inspect's timeline with the event). */
  | { type: "job.start"; backend: number; turn?: number | null; reason?: string }
  | { type: "job.progress"; progress: number }
  | { type: "job.generated" }
  | { type: "job.cancel" };

/** What the invoked `generate` actor receives. */
export interface GenerateActorInput {
  request: GenerateRequest;
  /** Report 0..100; the machine keeps the value monotone and below 100 until the image exists. */
  onProgress: (progress: number) => void;
  /** Tell the job its backend is done (and free): what is left is keeping the output. */
  onGenerated: () => void;
}

/** The final word of a job actor, sent to its parent in `xstate.done.actor.<jobId>`. */
export type ImageJobOutput = Pick<
  ImageJobContext,
  "jobId" | "status" | "backend" | "result" | "error" | "startedAt" | "finishedAt" | "attempt"
>;

/** A readable message from whatever a failed generation threw. */
export const describeFailure = (error: unknown): string => {
  if (error instanceof Error && error.message) return error.message;
  if (typeof error === "string" && error) return error;
  return "The generation failed for an unknown reason";
};

/**
 * One image job: queued → processing → complete | error, and queued | processing → cancelled; a job whose
 * backend went away mid-generation goes back to queued, as its next attempt.
 * The generation is the invoked `generate` actor; leaving `processing` for any reason stops it,
 * which interrupts the backend call behind it.
 */
export const imageJobMachine = setup({
  types: {
    input: {} as ImageJobInput,
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
    finish: assign((_, params: { status: JobStatus }) => ({ status: params.status, finishedAt: Date.now() })),
  },
}).createMachine({
  id: "imageJob",
  initial: "queued",
  context: ({ input }) => ({
    ...input,
    status: "queued",
    backend: null,
    progress: 0,
    result: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    turn: null,
    generated: false,
  }),
  states: {
    queued: {
      on: {
        "job.start": {
          target: "processing",
          actions: assign(({ event }) => ({
            status: "processing",
            backend: event.backend,
            startedAt: Date.now(),
            turn: event.turn ?? null,
          })),
        },
        "job.cancel": "cancelled",
      },
    },
    processing: {
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
          onProgress: (progress: number) => self.send({ type: "job.progress", progress }),
          onGenerated: () => self.send({ type: "job.generated" }),
        }),
        onDone: { target: "complete", actions: assign(({ event }) => ({ result: event.output, progress: 100 })) },
        onError: [
          {
            // The backend went away, not the job: back to the line, as the next attempt, for another backend.
            guard: ({ context, event }) => isBackendLost(event.error) && context.attempt < MAX_ATTEMPTS,
            target: "queued",
            actions: assign(({ context }) => ({
              status: "queued" as const,
              attempt: context.attempt + 1,
              backend: null,
              progress: 0,
              startedAt: null,
              generated: false,
            })),
          },
          {
            target: "error",
            actions: assign(({ context, event }) => ({
              error: isBackendLost(event.error)
                ? `${describeFailure(event.error)}; the job lost its backend on each of its ${context.attempt} attempts and was given up`
                : describeFailure(event.error),
            })),
          },
        ],
      },
      on: {
        "job.progress": {
          guard: ({ context, event }) => event.progress > context.progress,
          actions: assign(({ event }) => ({ progress: Math.min(99, Math.floor(event.progress)) })),
        },
        "job.generated": { guard: ({ context }) => !context.generated, actions: assign({ generated: true }) },
        "job.cancel": "cancelled",
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
  }),
});
