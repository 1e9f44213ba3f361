import type { GpuTimeModel, GpuWork } from "./gpu-time";

/** A waiting job as the projection needs it. */
export interface WaitingWork extends GpuWork {
  jobId: string;
  /** null: whatever the backend has loaded. */
  checkpoint: string | null;
}

/** A job on a backend now. */
export interface RunningWork extends WaitingWork {
  /** When it got the backend (epoch ms). */
  startedAt: number;
  /** 0..100, as the backend reports it. */
  progress: number;
  /** Whether it had to load another checkpoint first (null: not known). */
  switched: boolean | null;
}

/** One backend as the projection sees it. */
export interface BackendState {
  /** Its URL: the model learns per backend. */
  id: string;
  /** Nothing is started on an unhealthy backend; what runs there is still expected to end. */
  healthy: boolean;
  running: RunningWork | null;
  /** The checkpoint it has loaded, when the host knows better than the model's own guess (see GpuTimeModel.start). */
  loaded?: string | null;
}

/** Everything a projection is made from; `line` in the order the jobs would start. */
export interface ProjectionInput {
  now: number;
  /** Paused by an admin: nobody can tell when a waiting job starts. */
  held: boolean;
  backends: readonly BackendState[];
  line: Iterable<WaitingWork>;
}

/** A job's expected start (a running job's: when it started) and end, epoch ms; null when not known. */
export interface JobEstimate {
  startAt: number | null;
  finishAt: number | null;
}

/** What the projection says of every waiting and running job. */
export interface Projection {
  estimates: Map<string, JobEstimate>;
  /** The expected start and end of the job at each position (index 0 = position 1); null when they are not known. */
  line: { starts: number[]; ends: number[] } | null;
}

const UNKNOWN: JobEstimate = { startAt: null, finishAt: null };

/** When a running job is expected to hand its backend on: its prediction, or later when it is behind it. */
function expectedEnd(model: GpuTimeModel, backend: string, job: RunningWork, now: number): number | null {
  const base = model.predict(backend, job, false);
  const total = model.predict(backend, job, job.switched === true);
  if (base === null || total === null) return null;
  let end = job.startedAt + total;
  // Sampling has begun: what is left of it is known from the progress (a slow run pushes its end back).
  if (job.progress > 0) end = Math.max(end, now + (base * (100 - job.progress)) / 100);
  // Past its prediction without word from the backend: any moment now.
  return Math.max(end, now);
}

/**
 * Plays the line forward on the backends as the scheduler would dispatch it: each waiting job, in start order,
 * goes to the healthy backend that is free first (on a tie the one with its checkpoint loaded, else the lowest index),
 * when it is free, for the GPU time the
 * model predicts there (plus a checkpoint switch when that backend would have another one loaded), and ends the
 * model's keep time later (its image written while the next job has the backend). A running job frees its backend
 * when its own prediction says. Nothing is known for waiting jobs while the queue is paused,
 * while no backend is healthy, or while the model has learned nothing; a running job's end is known as soon as the
 * model knows anything. The start of the n-th job never comes before the (n-1)-th's. Pure: no clock, no I/O.
 */
export function projectLine(model: GpuTimeModel, input: ProjectionInput): Projection {
  const { now } = input;
  // A job ends a little after its backend is free for the next one: its image is written meanwhile.
  const keep = model.keepMs;
  const estimates = new Map<string, JobEstimate>();
  const free: { index: number; id: string; at: number; loaded: string | null }[] = [];
  let known = true;
  for (const [index, backend] of input.backends.entries()) {
    let at = now;
    let loaded = backend.loaded ?? model.loaded(backend.id);
    const job = backend.running;
    if (job) {
      const end = expectedEnd(model, backend.id, job, now);
      estimates.set(job.jobId, { startAt: job.startedAt, finishAt: end === null ? null : end + keep });
      if (end === null) known = false;
      else at = end;
      loaded = job.checkpoint ?? loaded;
    }
    if (backend.healthy) free.push({ index, id: backend.id, at, loaded });
  }
  const blocked = input.held || free.length === 0 || !known || !model.known;
  const starts: number[] = [];
  const ends: number[] = [];
  for (const job of input.line) {
    if (blocked) {
      estimates.set(job.jobId, UNKNOWN);
      continue;
    }
    // The backend free first; of several free at once, one that has the job's checkpoint (as the scheduler picks).
    let slot = free[0];
    for (const other of free) {
      const fits = other.loaded === job.checkpoint && slot?.loaded !== job.checkpoint;
      if (slot === undefined || other.at < slot.at || (other.at === slot.at && job.checkpoint !== null && fits)) {
        slot = other;
      }
    }
    if (slot === undefined) break;
    const switched = job.checkpoint !== null && slot.loaded !== null && job.checkpoint !== slot.loaded;
    const ms = model.predict(slot.id, job, switched) ?? 0;
    const startAt = slot.at;
    slot.at = startAt + ms;
    slot.loaded = job.checkpoint ?? slot.loaded;
    starts.push(startAt);
    ends.push(slot.at + keep);
    estimates.set(job.jobId, { startAt, finishAt: slot.at + keep });
  }
  return { estimates, line: blocked ? null : { starts, ends } };
}
