import { randomBytes } from "node:crypto";
import { schedulerCounts } from "@anvil/job-machine";
import type { AnyEventObject, InspectionEvent, Snapshot } from "xstate";
import { HistoryGone } from "../errors";
import { DispatchLog } from "./dispatch-log";
import { InspectionRing } from "./inspection-ring";
import { toRecord } from "./record";
import type { InspectedState, InspectionRecord, InspectionType, StoredRecord } from "./record";

/** The actorId of the root actor, the scheduler. */
export const SCHEDULER_ACTOR = "scheduler";

/** How many inspection events are kept by default. */
export const DEFAULT_CAPACITY = 5_000;

/** What the inspector reads of an actor ref beyond `ActorRefLike` (Actor has both). */
interface ActorLike {
  sessionId: string;
  id?: string;
}

interface Identity {
  actorId: string;
  jobId: string | null;
}

/** The last state a job actor was seen in, from the ring. */
export interface SeenJob {
  jobId: string;
  state: InspectedState | null;
  status: string | null;
  lastSeq: number;
  lastAt: number;
}

const jobNamedBy = (event: AnyEventObject): string | null => {
  const { type } = event;
  if (type.startsWith("xstate.done.actor.")) return type.slice("xstate.done.actor.".length);
  if (type.startsWith("xstate.error.actor.")) return type.slice("xstate.error.actor.".length);
  const { jobId, job } = event as { jobId?: unknown; job?: { jobId?: unknown } | null };
  if (typeof jobId === "string") return jobId;
  return typeof job === "object" && job !== null && typeof job.jobId === "string" ? job.jobId : null;
};

/**
 * The jobs an event to the scheduler is about, each with the part of the event that is its own: a batch that joins
 * the line (`scheduler.enqueueMany`) is in the timeline of every job in it, as that job's enqueue, with the size of
 * its batch; any other event is about one job or none.
 */
const perJob = (event: AnyEventObject): (readonly [string | null, AnyEventObject])[] => {
  const { jobs } = event as { jobs?: unknown };
  if (event.type !== "scheduler.enqueueMany" || !Array.isArray(jobs)) return [[jobNamedBy(event), event]];
  return (jobs as { jobId?: unknown }[]).flatMap((job) =>
    typeof job.jobId === "string" ? [[job.jobId, { type: event.type, job, batch: jobs.length }] as const] : [],
  );
};

/**
 * Whether a job's first kept record is its joining the line after it had run already: taken from the database at
 * this server's start (a restart, or a failover from another server), so its earlier runs are not in this ring.
 */
const ranBefore = (first: StoredRecord): boolean => {
  if (first.type !== "@xstate.event" || !first.eventType?.startsWith("scheduler.enqueue")) return false;
  const { job } = first.event as { job?: { attempt?: unknown; again?: unknown } };
  return job?.again === true || (typeof job?.attempt === "number" && job.attempt > 1);
};

/**
 * The scheduler hears of each progress step from the job that made it; its copy would only repeat the job's own
 * record and halve how much of each job's timeline the ring can keep.
 */
const isProgressCopy = (root: boolean, event: AnyEventObject): boolean => root && event.type === "job.progress";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A snapshot's value, or null for actors without states (an empty object: the scheduler; undefined: promises). */
const stateOf = (value: unknown): InspectedState | null =>
  typeof value === "string" || (isRecord(value) && Object.keys(value).length > 0) ? (value as InspectedState) : null;

/**
 * Keeps the last `capacity` XState inspection events of the scheduler and its job actors in a ring, for the
 * `debug.*` procedures. `observe` is the hook for `createActor(…, { inspect })`: it stores references and
 * never serialises on the hot path; summaries and context diffs are computed when a record is read.
 */
export class Inspector {
  /** Tags this process's event ids, so a resume cursor from an earlier process is recognised as stale. */
  readonly instance = randomBytes(3).toString("hex");
  /** Why each job got its GPU: give `dispatches.record` to the scheduler as its `onDispatch`. */
  readonly dispatches = new DispatchLog();
  private readonly ring: InspectionRing;
  private readonly identities = new WeakMap<object, Identity>();
  /** Actors created and not started yet: whose they are shows when they start (see `onStart`). */
  private readonly unstarted = new WeakSet<object>();
  private readonly contexts = new WeakMap<object, Record<string, unknown>>();
  private wake: (() => void) | null = null;
  private woken: Promise<void> | null = null;
  private failures = 0;

  constructor(options: { capacity?: number } = {}) {
    this.ring = new InspectionRing(Math.max(1, options.capacity ?? DEFAULT_CAPACITY));
  }

  /** The inspection hook: pass it as `inspect` to the scheduler. Never throws into the actor system. */
  readonly observe = (event: InspectionEvent): void => {
    try {
      if (event.type === "@xstate.event") this.onEvent(event.actorRef, event.rootId, event.event, event.sourceRef);
      else if (event.type === "@xstate.snapshot") this.onSnapshot(event.actorRef, event.rootId, event);
      else if (event.type === "@xstate.actor") this.onActor(event.actorRef, event.rootId);
    } catch {
      this.failures++;
    }
  };

  /** How many records the ring holds at most. */
  get capacity(): number {
    return this.ring.capacity;
  }

  /** Ring bounds and size, and how many events the hook failed to record (should stay 0). */
  stats(): { capacity: number; size: number; oldestSeq: number; latestSeq: number; failures: number } {
    const { capacity, size, oldestSeq, latestSeq } = this.ring;
    return { capacity, size, oldestSeq, latestSeq, failures: this.failures };
  }

  /** The tracked id of a record: `<instance>:<seq>`. */
  eventId(seq: number): string {
    return `${this.instance}:${seq}`;
  }

  /** The seq an event id of this process names ("<instance>:<seq>", or a bare seq); null for any other id. */
  seqOf(eventId: string): number | null {
    const match = /^(?:([0-9a-f]+):)?(\d+)$/.exec(eventId.trim());
    if (!match || (match[1] !== undefined && match[1] !== this.instance)) return null;
    return Number(match[2]);
  }

  /** Records after `seq` (of one job, or all); HistoryGone when records after it have already left the ring. */
  after(seq: number, jobId?: string): StoredRecord[] {
    const { oldestSeq, latestSeq } = this.ring;
    if (seq < oldestSeq - 1 || seq > latestSeq) {
      throw new HistoryGone({
        message: `Inspection event ${seq} is outside the kept ring (${oldestSeq - 1}..${latestSeq}); reload to start from the current ring`,
      });
    }
    return this.ring.after(seq, jobId);
  }

  /** The newest seq, 0 while nothing was recorded. */
  get latestSeq(): number {
    return this.ring.latestSeq;
  }

  /** One job's kept inspection events, oldest first. */
  timeline(jobId: string): InspectionRecord[] {
    return this.ring.ofJob(jobId).map(toRecord);
  }

  /**
   * Whether the start of a job's timeline is missing: some of its events have left the ring, or none is kept.
   * Not whether its actor's creation is kept: a waiting job has no actor yet, and its timeline is whole.
   */
  truncated(jobId: string): boolean {
    const [first] = this.ring.ofJob(jobId);
    return first === undefined || this.ring.lostSomeOf(jobId) || ranBefore(first);
  }

  /** Every job with events in the ring, with the last state its own actor was seen in; newest first. */
  seenJobs(): SeenJob[] {
    const jobs: SeenJob[] = [];
    for (const [jobId, records] of this.ring.jobs()) {
      const last = records.at(-1);
      if (!last) continue;
      const snapshot = records.findLast((record) => record.type === "@xstate.snapshot" && record.actorId === jobId);
      jobs.push({
        jobId,
        state: snapshot?.state ?? null,
        status: snapshot?.status ?? null,
        lastSeq: last.seq,
        lastAt: last.at,
      });
    }
    return jobs.sort((a, b) => b.lastSeq - a.lastSeq);
  }

  /** Resolves at the next recorded event, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    this.woken ??= new Promise<void>((resolve) => (this.wake = resolve));
    if (!signal) return this.woken;
    const woken = this.woken;
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done);
      void woken.then(done);
    });
  }

  private onActor(ref: object, rootId: string): void {
    if ((ref as ActorLike).sessionId === rootId) this.pushActor(ref, rootId);
    else this.unstarted.add(ref);
  }

  private pushActor(ref: object, rootId: string): void {
    const { actorId, jobId } = this.identify(ref, rootId);
    this.push("@xstate.actor", actorId, jobId, null, null, null, null, undefined, undefined, undefined);
  }

  /**
   * An actor's parent starts it, and inspection names the parent as the source of its `xstate.init`: that is
   * where an actor learns whose it is (a job's own, or what a job invokes). Its `@xstate.actor` record, held back
   * since it was created, goes in just before.
   */
  private onStart(ref: object, rootId: string, parent: object): void {
    const id = (ref as ActorLike).id ?? (ref as ActorLike).sessionId;
    if ((parent as ActorLike).sessionId === rootId) this.identities.set(ref, { actorId: id, jobId: id });
    else {
      const owner = this.identify(parent, rootId);
      this.identities.set(ref, { actorId: `${owner.actorId}/${id}`, jobId: owner.jobId });
    }
    if (this.unstarted.delete(ref)) this.pushActor(ref, rootId);
  }

  private onEvent(ref: object, rootId: string, event: AnyEventObject, source: object | undefined): void {
    const toRoot = (ref as ActorLike).sessionId === rootId;
    if (event.type === "xstate.init" && source && !toRoot) this.onStart(ref, rootId, source);
    if (isProgressCopy(toRoot, event)) return;
    const target = this.identify(ref, rootId);
    const sourceId = source ? this.identify(source, rootId).actorId : null;
    for (const [jobId, own] of toRoot ? perJob(event) : [[target.jobId, event] as const]) {
      this.push("@xstate.event", target.actorId, jobId, event.type, sourceId, null, null, own, undefined, undefined);
    }
  }

  private onSnapshot(
    ref: object,
    rootId: string,
    { event, snapshot }: { event: AnyEventObject; snapshot: unknown },
  ): void {
    const root = (ref as ActorLike).sessionId === rootId;
    if (isProgressCopy(root, event)) return;
    const { status, value, context } = snapshot as { status: string; value?: unknown; context?: unknown };
    const identity = this.identify(ref, rootId);
    // The scheduler's context is large and changes in place: its record keeps the counts at the time.
    const after = root ? schedulerCounts(snapshot as Snapshot<unknown>) : isRecord(context) ? context : undefined;
    const before = this.contexts.get(ref);
    if (after) this.contexts.set(ref, after);
    // The scheduler's snapshot after an event about a job (enqueue, its end) belongs to that job's timeline too.
    for (const [jobId] of root ? perJob(event) : [[identity.jobId] as const]) {
      this.push(
        "@xstate.snapshot",
        identity.actorId,
        jobId,
        event.type,
        null,
        stateOf(value),
        status,
        undefined,
        before,
        after,
      );
    }
  }

  /** Who `ref` is: the scheduler, or as learnt when it started; an actor not started yet counts as a job's own. */
  private identify(ref: object, rootId: string): Identity {
    const known = this.identities.get(ref);
    if (known) return known;
    const actor = ref as ActorLike;
    if (actor.sessionId === rootId) {
      const root = { actorId: SCHEDULER_ACTOR, jobId: null };
      this.identities.set(ref, root);
      return root;
    }
    const id = actor.id ?? actor.sessionId;
    return { actorId: id, jobId: id };
  }

  private push(
    type: InspectionType,
    actorId: string,
    jobId: string | null,
    eventType: string | null,
    sourceId: string | null,
    state: InspectedState | null,
    status: string | null,
    event: unknown,
    before: Record<string, unknown> | undefined,
    after: Record<string, unknown> | undefined,
  ): void {
    const seq = this.ring.nextSeq();
    this.ring.push({
      seq,
      at: Date.now(),
      actorId,
      jobId,
      type,
      eventType,
      sourceId,
      state,
      status,
      event,
      before,
      after,
    });
    if (this.wake) {
      const wake = this.wake;
      this.wake = null;
      this.woken = null;
      wake();
    }
  }
}
