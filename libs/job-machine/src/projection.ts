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

/**
 * When a running job is expected to hand its backend on: its prediction until sampling begins; then what is left of
 * the sampling time, at the run's own pace where it is faster than predicted (the model learns one rate per backend,
 * and a job much larger or smaller than those it learned from may run far from it), and moving from the prediction
 * to the run's pace where it is slower, fully from halfway (the first steps' pace says little: warm-up).
 */
function expectedEnd(model: GpuTimeModel, backend: string, job: RunningWork, now: number): number | null {
  const base = model.predict(backend, job, false);
  const total = model.predict(backend, job, job.switched === true);
  if (base === null || total === null) return null;
  let end = job.startedAt + total;
  if (job.progress > 0) {
    const done = job.progress / 100;
    // Sampling began after the checkpoint load the model foresaw, if any.
    const sampling = Math.max(0, now - job.startedAt - (total - base));
    const paced = sampling / done;
    const expected = paced < base ? paced : base + Math.min(1, 2 * done) * (paced - base);
    end = now + (1 - done) * expected;
  }
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
  const projector = new LineProjector(model, input);
  for (const job of input.line) projector.place(job);
  return projector.projection;
}

/**
 * {@link projectLine} a job at a time: the backends as the jobs placed so far leave them, so a job that joins at
 * the end of the line is placed in O(backends) and gets exactly what a projection of the whole line would give it.
 * The model must not learn meanwhile (a projection made again after that is another one).
 */
export class LineProjector {
  private readonly estimates = new Map<string, JobEstimate>();
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** The healthy backends, each with when it is free next and what it will have loaded then. */
  private readonly free: { index: number; id: string; at: number; loaded: string | null }[] = [];
  private readonly blocked: boolean;
  /** A job ends a little after its backend is free for the next one: its image is written meanwhile. */
  private readonly keep: number;
  private waiting = 0;

  constructor(
    private readonly model: GpuTimeModel,
    input: Omit<ProjectionInput, "line">,
  ) {
    const { now } = input;
    this.keep = model.keepMs;
    let known = true;
    for (const [index, backend] of input.backends.entries()) {
      let at = now;
      let loaded = backend.loaded ?? model.loaded(backend.id);
      const job = backend.running;
      if (job) {
        const end = expectedEnd(model, backend.id, job, now);
        this.estimates.set(job.jobId, { startAt: job.startedAt, finishAt: end === null ? null : end + this.keep });
        if (end === null) known = false;
        else at = end;
        loaded = job.checkpoint ?? loaded;
      }
      if (backend.healthy) this.free.push({ index, id: backend.id, at, loaded });
    }
    this.blocked = input.held || this.free.length === 0 || !known || !model.known;
  }

  /** How many waiting jobs were placed. */
  get size(): number {
    return this.waiting;
  }

  /** The estimates of the running jobs and of every waiting job placed, and the line's timing so far. */
  get projection(): Projection {
    return { estimates: this.estimates, line: this.blocked ? null : { starts: this.starts, ends: this.ends } };
  }

  /** Places the next waiting job of the line, behind every one placed before; returns its estimate. */
  place(job: WaitingWork): JobEstimate {
    this.waiting++;
    // The backend free first; of several free at once, one that has the job's checkpoint (as the scheduler picks).
    let slot = this.free[0];
    if (this.blocked || slot === undefined) {
      this.estimates.set(job.jobId, UNKNOWN);
      return UNKNOWN;
    }
    for (const other of this.free) {
      const fits = other.loaded === job.checkpoint && slot.loaded !== job.checkpoint;
      if (other.at < slot.at || (other.at === slot.at && job.checkpoint !== null && fits)) slot = other;
    }
    const switched = job.checkpoint !== null && slot.loaded !== null && job.checkpoint !== slot.loaded;
    const ms = this.model.predict(slot.id, job, switched) ?? 0;
    const startAt = slot.at;
    slot.at = startAt + ms;
    slot.loaded = job.checkpoint ?? slot.loaded;
    const estimate = { startAt, finishAt: slot.at + this.keep };
    this.starts.push(startAt);
    this.ends.push(estimate.finishAt);
    this.estimates.set(job.jobId, estimate);
    return estimate;
  }
}
