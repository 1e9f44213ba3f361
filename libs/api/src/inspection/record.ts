import { diffContexts, summarizeEvent } from "./summary";
import type { Json } from "./summary";

/** A state value: the state's key for a machine in an atomic state ("processing"), an object for nested states. */
export type InspectedState = string | { [key: string]: InspectedState };

/** The kinds of XState inspection event the inspector keeps (microsteps and actions are too fine-grained). */
export type InspectionType = "@xstate.event" | "@xstate.snapshot" | "@xstate.actor";

/** One kept inspection event, as `debug.timeline` and `debug.inspect` send it (plain JSON). */
export interface InspectionRecord {
  /** Monotone within one server process, from 1. */
  seq: number;
  /** When it happened (ISO-8601). */
  at: string;
  /** "scheduler" for the root actor, the job id for a job actor, "<jobId>/<child id>" for what a job invokes. */
  actorId: string;
  /**
   * The job the record concerns: a job actor's or its child's own; for the scheduler, the job its event names
   * (`scheduler.enqueue`, `scheduler.cancel`, `xstate.done.actor.<jobId>`), also on the snapshot that event caused.
   */
  jobId: string | null;
  type: InspectionType;
  /** The event's type (`job.start`, `xstate.done.actor.…`); for a snapshot, the event that caused it; null for `@xstate.actor`. */
  eventType: string | null;
  /** `@xstate.event`: the sender's actorId; null when sent from outside the actor system. */
  sourceId: string | null;
  /** `@xstate.snapshot`: the state value (a job's is the chart state key, e.g. "processing"); null for actors without states. */
  state: InspectedState | null;
  /** `@xstate.snapshot`: "active" | "done" | "error" | "stopped"; otherwise null. */
  status: string | null;
  /** `@xstate.event`: the event as short JSON, long strings cut, errors as name and message; otherwise null. */
  payloadSummary: string | null;
  /** `@xstate.snapshot`: the context's changed top-level keys, `{ key: [before, after] }`; null when none or not kept. */
  contextDiff: Record<string, [Json, Json]> | null;
}

/**
 * What the hook keeps per event: references only, so the hot path allocates one object. The event summary and
 * the context diff are computed when someone reads the record; both only read immutable values (events, job
 * contexts, and the scheduler view taken at the time).
 */
export interface StoredRecord extends Omit<InspectionRecord, "at" | "payloadSummary" | "contextDiff"> {
  /** When it happened (epoch milliseconds). */
  at: number;
  event: unknown;
  before: Record<string, unknown> | undefined;
  after: Record<string, unknown> | undefined;
}

/** The JSON form of a stored record. */
export const toRecord = (stored: StoredRecord): InspectionRecord => ({
  seq: stored.seq,
  at: new Date(stored.at).toISOString(),
  actorId: stored.actorId,
  jobId: stored.jobId,
  type: stored.type,
  eventType: stored.eventType,
  sourceId: stored.sourceId,
  state: stored.state,
  status: stored.status,
  payloadSummary: stored.type === "@xstate.event" ? summarizeEvent(stored.event) : null,
  contextDiff: diffContexts(stored.before, stored.after),
});
