import { applyLineEvent, applyLineTiming } from "@anvil/job-machine";
import type { Job, JobStatus, LineEvent } from "@anvil/job-machine";
import type { TRPCClientError } from "@trpc/client";
import { expect } from "vitest";
import type { AppRouter } from "@anvil/api";
import type { AnvilClient } from "./clients";
import type { TestServer } from "./test-server";
import { waitFor } from "./wait";

/** `jobs.events` input. */
export type JobEventsInput = Parameters<AnvilClient["jobs"]["events"]["subscribe"]>[0];

/** One event as a client receives it: the tracked id and the job snapshot. */
export interface ReceivedEvent {
  id: string;
  job: Job;
}

/** A line event as a client receives it (subscriptions without `jobId`). */
export interface ReceivedLineEvent {
  id: string;
  line: LineEvent;
}

/** A subscription that records what it receives. */
export interface EventRecorder {
  /** The job snapshots received, in order. */
  readonly events: ReceivedEvent[];
  /** The line events received, in order. */
  readonly lines: ReceivedLineEvent[];
  /** Everything received, in order. */
  readonly received: (ReceivedEvent | ReceivedLineEvent)[];
  /** The error the subscription ended with, if it did. */
  error(): TRPCClientError<AppRouter> | null;
  /** Waits until the received events satisfy `check`. */
  until(check: (events: ReceivedEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits until the job has been received with `status`. */
  untilStatus(jobId: string, status: JobStatus): Promise<void>;
  stop(): void;
}

/**
 * Subscribes to `jobs.events` through `client` (SSE or WebSocket) and resolves once the server has attached the
 * subscription to its event hub, so nothing the test does afterwards can happen before the subscriber exists.
 */
export async function recordJobEvents(
  server: TestServer,
  client: AnvilClient,
  input: JobEventsInput,
  { attached = true }: { attached?: boolean } = {},
): Promise<EventRecorder> {
  const events: ReceivedEvent[] = [];
  const lines: ReceivedLineEvent[] = [];
  const received: (ReceivedEvent | ReceivedLineEvent)[] = [];
  let failure: TRPCClientError<AppRouter> | null = null;
  const hub = server.anvil.events;
  const before = hub.subscribers;
  const subscription = client.jobs.events.subscribe(input, {
    onData: ({ id, data }) => {
      if ("kind" in data) {
        const event = { id, line: data };
        lines.push(event);
        received.push(event);
      } else {
        const event = { id, job: data };
        events.push(event);
        received.push(event);
      }
    },
    onError: (error) => {
      failure = error;
    },
  });
  const recorder: EventRecorder = {
    events,
    lines,
    received,
    error: () => failure,
    until: (check, what, timeoutMs) =>
      waitFor(
        () => {
          if (failure) throw new Error(`the subscription failed while waiting until ${what}: ${failure.message}`);
          return check(events);
        },
        () => `${what}; received: ${describeEvents(events)}`,
        timeoutMs,
      ),
    untilStatus: (jobId, status) =>
      recorder.until(
        (received) => received.some((event) => event.job.id === jobId && event.job.status === status),
        `job ${jobId} arrives ${status}`,
      ),
    stop: () => subscription.unsubscribe(),
  };
  if (attached) await waitFor(() => hub.subscribers > before, "the subscription is attached to the event hub");
  return recorder;
}

/** The statuses one job went through as received, each run of repeats (position and progress updates) folded into one. */
export function statusChanges(events: readonly ReceivedEvent[], jobId: string): JobStatus[] {
  const changes: JobStatus[] = [];
  for (const { job } of events) {
    if (job.id === jobId && changes.at(-1) !== job.status) changes.push(job.status);
  }
  return changes;
}

/** The events of one job. */
export const eventsOf = (events: readonly ReceivedEvent[], jobId: string): ReceivedEvent[] =>
  events.filter((event) => event.job.id === jobId);

const describeEvents = (events: readonly ReceivedEvent[]): string =>
  events
    .map((e) => `${e.id}:${e.job.id.slice(0, 8)}:${e.job.status}:q${e.job.queuePosition}:p${e.job.progress}`)
    .join(", ") || "nothing";

/**
 * Checks that one job's events went through `expected` statuses in order and that each status change arrived
 * once: repeats of a status (position and progress updates) only ever follow it directly, no event id arrives
 * twice, and the status events' ids increase.
 */
export function expectEachStatusOnce(events: readonly ReceivedEvent[], jobId: string, expected: JobStatus[]): void {
  const mine = eventsOf(events, jobId);
  expect(statusChanges(mine, jobId)).toEqual(expected);
  const ids = mine.map((event) => event.id);
  expect(new Set(ids).size).toBe(ids.length);
  const statusEventIds = mine.filter((event) => /^\d+$/.test(event.id)).map((event) => Number(event.id));
  expect(statusEventIds).toEqual([...statusEventIds].sort((a, b) => a - b));
}

/** A job as a client that applies the stream holds it: its status, and its position derived from line events. */
export interface DerivedJob {
  status: JobStatus;
  /** null when a line event said to read it again. */
  queuePosition: number | null;
  /** As the last snapshot said, moved by the line events' timing since (see applyLineTiming). */
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

/** What a client holds after applying everything received in order: snapshots, then the line events after them. */
export function derivedJobs(recorder: EventRecorder): Map<string, DerivedJob> {
  const jobs = new Map<string, DerivedJob>();
  let version: number | null = null;
  for (const event of recorder.received) {
    if ("job" in event) {
      const { status, queuePosition, estimatedStartAt, estimatedFinishAt } = event.job;
      jobs.set(event.job.id, { status, queuePosition, estimatedStartAt, estimatedFinishAt });
      continue;
    }
    const { line } = event;
    const inStep = version === null || version === line.from;
    version = line.version;
    for (const job of jobs.values()) {
      if (job.status !== "queued" || job.queuePosition === null) continue;
      job.queuePosition = inStep ? applyLineEvent(job.queuePosition, line) : null;
      if (job.queuePosition === null || job.queuePosition === 0 || line.timing === undefined) continue;
      Object.assign(job, applyLineTiming(job, job.queuePosition, line.timing));
    }
  }
  return jobs;
}
