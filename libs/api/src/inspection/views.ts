import type { JobView } from "@anvil/job-machine";
import type { JobService } from "../job-service";
import type { DispatchRecord } from "./dispatch-log";
import type { Inspector } from "./inspector";
import type { InspectedState } from "./record";
import { SCHEDULER_ACTOR } from "./inspector";

const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());
const short = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** Why the first job in line is not running, in a word and in words. */
export type BlockedReason =
  "paused" | "images-not-stored" | "no-healthy-backend" | "all-backends-busy" | "dispatch-pending";

/** `debug.scheduler`: the line in order and who holds each GPU. */
export interface SchedulerDebugView {
  /** False once the server is stopping: nothing new starts. */
  dispatching: boolean;
  /** An admin paused the queue (`queue.pause`): nothing starts until `queue.resume`, whether or not a job waits. */
  paused: boolean;
  /** Why the head of the line waits; null when nothing waits. */
  blockedBy: { reason: BlockedReason; message: string } | null;
  /** How many jobs wait in all (the list below stops at `limit`). */
  queued: number;
  queue: {
    jobId: string;
    position: number;
    attempt: number;
    prompt: string;
    createdAt: string | null;
    waitingMs: number | null;
    /** How many times model affinity let a later job of its owner go first (bounded). */
    passedOver: number;
  }[];
  permits: { total: number; held: number; free: number };
  backends: {
    index: number;
    url: string;
    healthy: boolean;
    lastError: string | null;
    /** The job the scheduler assigned to this backend, and since when. */
    jobId: string | null;
    since: string | null;
    /** The GPU permit: held while a generation (and its clean-up on the backend) runs. */
    permit: { held: boolean; since: string | null };
    /** The model loaded there as far as the scheduler knows (checkpoint title and modules); null when unknown. */
    model: string | null;
  }[];
  /** Why the latest jobs got a GPU, newest first. */
  dispatches: DispatchRecord[];
}

const blockedBy = (
  waiting: number,
  dispatching: boolean,
  pausedByAdmin: boolean,
  imagesBlocked: boolean,
  slots: readonly { healthy: boolean; jobId: string | null }[],
): SchedulerDebugView["blockedBy"] => {
  if (waiting === 0) return null;
  if (!dispatching) return { reason: "paused", message: "The scheduler is not dispatching: the server is stopping" };
  if (pausedByAdmin) {
    return {
      reason: "paused",
      message: "An admin paused the queue (queue.pause): nothing starts until queue.resume; running jobs finish",
    };
  }
  if (imagesBlocked) {
    return {
      reason: "images-not-stored",
      message:
        "A finished image cannot be stored (the images folder is full or unwritable; see the log): nothing starts until it is",
    };
  }
  const healthy = slots.filter((slot) => slot.healthy);
  if (healthy.length === 0) {
    return { reason: "no-healthy-backend", message: "No backend is healthy; jobs wait until one answers its probe" };
  }
  if (healthy.every((slot) => slot.jobId !== null)) {
    return {
      reason: "all-backends-busy",
      message: "Every healthy backend runs a job; the first in line starts when one of them finishes",
    };
  }
  return { reason: "dispatch-pending", message: "A healthy backend is free; the first in line is being started" };
};

/** The scheduler's line (first `limit` entries), backends and latest dispatch decisions, for `debug.scheduler`. */
export function schedulerDebugView(
  service: JobService,
  limit: number,
  dispatches: DispatchRecord[] = [],
): SchedulerDebugView {
  const { scheduler, monitor } = service;
  const { backends } = scheduler.snapshot();
  const queue = scheduler.queued();
  const { dispatching } = scheduler;
  const health = monitor.health();
  const permits = scheduler.gpu.slots();
  const now = Date.now();
  const entries: SchedulerDebugView["queue"] = [];
  for (const jobId of queue) {
    if (entries.length >= limit) break;
    const view = scheduler.job(jobId);
    const job = service.liveJob(jobId);
    const createdAt = job ? Date.parse(job.createdAt) : null;
    entries.push({
      jobId,
      position: entries.length + 1,
      attempt: view?.attempt ?? 1,
      prompt: short(view?.prompt ?? job?.prompt ?? ""),
      createdAt: iso(createdAt),
      waitingMs: createdAt === null ? null : now - createdAt,
      passedOver: scheduler.passedOver(jobId),
    });
  }
  const held = permits.filter((permit) => permit.busy).length;
  return {
    dispatching,
    paused: scheduler.held,
    blockedBy: blockedBy(queue.length, dispatching, scheduler.held, scheduler.imagesBlocked, backends),
    queued: queue.length,
    queue: entries,
    permits: { total: permits.length, held, free: permits.length - held },
    backends: backends.map((slot, index) => ({
      index,
      url: health[index]?.url ?? "",
      healthy: slot.healthy,
      lastError: health[index]?.lastError ?? null,
      jobId: slot.jobId,
      since: iso(slot.since),
      permit: { held: permits[index]?.busy ?? false, since: iso(permits[index]?.since) },
      model: slot.model,
    })),
    dispatches,
  };
}

/** `debug.actors`: the scheduler, every live job actor, and jobs whose actors ended but are still in the ring. */
export interface ActorsDebugView {
  /** `children`: the job actors alive, i.e. the jobs started and not yet ended. */
  scheduler: { actorId: string; status: string; dispatching: boolean; children: number };
  /** How many jobs the scheduler holds in all, waiting or running (the list below stops at `limit`). */
  aliveCount: number;
  /** How many of all the held jobs are in each state (e.g. `{ queued: 998, processing: 2 }`), past `limit` too. */
  states: Record<string, number>;
  /**
   * Held jobs: a running job's actor, or a waiting job (status "not spawned yet"). Every job on a GPU first, so that
   * the GPUs' work is always listed, then the waiting ones in submission order, up to `limit` in all.
   */
  alive: {
    actorId: string;
    jobId: string;
    state: InspectedState;
    status: string;
    position: number;
    progress: number;
    backend: number | null;
    /** Its GPU gave the image and went on to the next job; the image is being stored (see `JobView.generated`). */
    generated: boolean;
    attempt: number;
    startedAt: string | null;
  }[];
  /** Ended job actors still in the inspection ring, most recently active first. */
  finished: {
    actorId: string;
    jobId: string;
    /** The last state its own actor was seen in; null when none of its snapshots is kept. */
    state: InspectedState | null;
    status: string | null;
    lastSeq: number;
    lastEventAt: string;
  }[];
}

/** The actors view for `debug.actors`. */
export function actorsDebugView(service: JobService, inspector: Inspector, limit: number): ActorsDebugView {
  const { scheduler } = service;
  const states: Record<string, number> = {};
  // The jobs on a GPU first, all of them (those run again after a failover joined the line last), then the waiting
  // ones in submission order, up to `limit` in all.
  const running: JobView[] = [];
  const waiting: JobView[] = [];
  for (const job of scheduler.jobs()) {
    states[job.state] = (states[job.state] ?? 0) + 1;
    if (job.backend !== null) running.push(job);
    else if (waiting.length < limit) waiting.push(job);
  }
  const listed = [...running, ...waiting.slice(0, Math.max(0, limit - running.length))];
  const alive: ActorsDebugView["alive"] = listed.map((job) => ({
    actorId: job.jobId,
    jobId: job.jobId,
    state: job.state as InspectedState,
    status: job.actorStatus,
    position: job.position,
    progress: job.progress,
    backend: job.backend,
    generated: job.generated,
    attempt: job.attempt,
    startedAt: iso(job.startedAt),
  }));
  const finished = inspector
    .seenJobs()
    .filter((job) => !scheduler.holds(job.jobId))
    .slice(0, limit)
    .map((job) => ({
      actorId: job.jobId,
      jobId: job.jobId,
      state: job.state,
      status: job.status,
      lastSeq: job.lastSeq,
      lastEventAt: new Date(job.lastAt).toISOString(),
    }));
  return {
    scheduler: {
      actorId: SCHEDULER_ACTOR,
      status: scheduler.actorStatus,
      dispatching: scheduler.dispatching,
      children: scheduler.actors,
    },
    aliveCount: scheduler.size,
    states,
    alive,
    finished,
  };
}
