import {
  GpuTimeModel,
  LineProjector,
  measureRun,
  modelOf,
  NO_ESTIMATES,
  placeFromTiming,
  toLineTiming,
} from "@anvil/job-machine";
import type {
  BackendState,
  JobEstimate,
  JobEstimates,
  JobStatus,
  LineChange,
  LineTiming,
  QueueSnapshot,
} from "@anvil/job-machine";
import type { JobRecord } from "@anvil/persistence";

/** How many finished runs a new leader learns from. */
export const HISTORY_RUNS = 500;

/** A projection is made again at least this often: a running job that overruns its prediction moves everyone. */
const STALE_MS = 1_000;

/**
 * How many waiting jobs a projection places one by one, by their own sizes; those behind go on at the pace of the
 * last stretch placed (`placeFromTiming`, as a client extrapolates a line event's timing). A projection is made again
 * after each start and end while anyone reads estimates: behind 35,000 waiting jobs, placing them all took 30 ms
 * each time, and one open `jobs.events` stream cut the GPUs' throughput from 102 to 8.5 jobs a second.
 */
export const PLACED_JOBS = 1_000;

/** What the estimates are made from: the live line and backends, the live records, the time. */
export interface EstimateSources {
  now: () => number;
  /** The backends' URLs, by index, as the scheduler numbers them. */
  backends: readonly string[];
  /** Whether an admin paused the queue, and who holds which backend since when. */
  queue: () => Pick<QueueSnapshot, "backends"> & { held: boolean };
  /** The first `limit` waiting jobs' ids in the order they would start. */
  line: (limit: number) => Iterable<string>;
  /** A waiting job's place in that order (1 = next), 0 when it does not wait. */
  position: (jobId: string) => number;
  /** A waiting or running job's record as last persisted, from memory. */
  record: (jobId: string) => JobRecord | undefined;
}

const isoOrNull = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

const time = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

// The model a job loads is its checkpoint with its modules: Forge loads again when either changes.
const work = (record: JobRecord) => ({
  pixels: record.params.width * record.params.height,
  steps: record.params.steps,
  checkpoint: modelOf(record.params),
});

/** A projection as made at `at`, and the jobs that joined the end of the line since, not placed yet. */
interface Made {
  at: number;
  projector: LineProjector;
  /**
   * False when the projection stopped short of the end of the line, or of its first {@link PLACED_JOBS}, at a job
   * without its record.
   */
  whole: boolean;
  /** Jobs that joined the end of the line since, in order; each is placed when asked for. */
  joined: number;
  timing: LineTiming | null | undefined;
}

/**
 * Every waiting and running job's `estimatedStartAt`/`estimatedFinishAt`, and the line's timing for `jobs.events`.
 * It learns each backend's GPU time from complete jobs (from their start until the backend took the next job, or
 * their end; never their wait): the database's recent ones when a server starts to lead, then each one as it
 * completes, so a new leader learns what the last one knew. The projection (projection.ts) is made when something
 * asks after a change, at most once per change and at least once a second: O(waiting jobs) then, O(1) per job read.
 * A job that joins at the end of the line changes nobody else's estimate: it is placed behind the projection as
 * it is (O(backends)), so a burst of submissions costs O(1) each instead of a projection each.
 */
export class Estimates {
  private readonly model = new GpuTimeModel();
  /** Whether each running job had to load another checkpoint, noted when it started. */
  private readonly switched = new Map<string, boolean | null>();
  /** When each backend was last given a job: where the run before it stopped using the GPU. */
  private readonly lastStart = new Map<string, number>();
  private made: Made | null = null;
  /** The timing line events last carried. */
  private sent: LineTiming | null = null;

  constructor(
    private readonly sources: EstimateSources,
    /** How many waiting jobs a projection places one by one (see {@link PLACED_JOBS}). */
    private readonly placed = PLACED_JOBS,
  ) {}

  /** Learns from runs that ended, in the order they started (a new leader's history): complete ones teach. */
  learnFrom(runs: readonly JobRecord[]): void {
    const next = new Map<JobRecord, number>();
    const previous = new Map<string, JobRecord>();
    for (const run of runs) {
      const started = time(run.startedAt);
      const before = run.backend === null ? undefined : previous.get(run.backend);
      if (before && started !== null) next.set(before, started);
      if (run.backend !== null) previous.set(run.backend, run);
    }
    for (const run of runs) {
      if (run.backend === null) continue;
      const switched = this.model.start(run.backend, modelOf(run.params));
      this.learn(run, switched, next.get(run) ?? null);
    }
    this.changed();
  }

  /**
   * A persisted status change of a job: a start notes which checkpoint its backend now has; a completion teaches
   * its GPU time. True when the estimates learned something (every client's estimates may have moved).
   */
  transition(from: JobStatus, record: JobRecord): boolean {
    this.changed();
    if (record.status === "processing" && from === "queued" && record.backend !== null) {
      this.switched.set(record.id, this.model.start(record.backend, modelOf(record.params)));
      const started = time(record.startedAt);
      if (started !== null) this.lastStart.set(record.backend, started);
      return false;
    }
    if (from !== "processing") return false;
    const switched = this.switched.get(record.id) ?? null;
    this.switched.delete(record.id);
    // The next job's start on this backend is persisted before this one's end (the backend is handed on first).
    return this.learn(record, switched, record.backend === null ? null : (this.lastStart.get(record.backend) ?? null));
  }

  private learn(run: JobRecord, switched: boolean | null, nextStart: number | null): boolean {
    const started = time(run.startedAt);
    const finished = time(run.finishedAt);
    if (run.status !== "complete" || run.backend === null || started === null || finished === null) return false;
    this.model.learn({ backend: run.backend, ...work(run), ...measureRun(started, finished, nextStart), switched });
    return true;
  }

  /** A backend said which model it has loaded (when it came up): what a first job there must switch from. */
  loaded(backend: string, model: string | null): void {
    this.model.assume(backend, model);
    this.changed();
  }

  /** Something the projection depends on changed (the line, a backend, the pause): make it again when asked. */
  changed(): void {
    this.made = null;
  }

  /**
   * The line changed: a job that joined its end keeps the projection (it is placed when asked for), and so does any
   * change behind the jobs a projection places, which moves none of them; else as {@link changed}.
   */
  lineChanged(change: LineChange): void {
    const made = this.made;
    if (!made?.whole) {
      this.made = null;
      return;
    }
    const first = change.op === "reorder" ? change.from : change.at;
    if (first > this.placed) return;
    if (change.op === "insert" && change.at === made.projector.size + made.joined + 1) made.joined++;
    else this.made = null;
  }

  /** A job's estimates as the API shows them: none once it ended, or while nothing is known. */
  of(record: JobRecord): JobEstimates {
    if (record.status !== "queued" && record.status !== "processing") return NO_ESTIMATES;
    const estimate = this.estimate(record.id);
    if (estimate)
      return { estimatedStartAt: isoOrNull(estimate.startAt), estimatedFinishAt: isoOrNull(estimate.finishAt) };
    // (A job given a backend a moment ago, its start not persisted yet, has its start from the projection.) A running
    // job whose backend is already free (its image is being kept) ends any moment; a job the line has not taken in
    // yet has nothing projected.
    const keeping = record.status === "processing" && this.model.known;
    return keeping ? { estimatedStartAt: null, estimatedFinishAt: isoOrNull(this.sources.now()) } : NO_ESTIMATES;
  }

  /** When each position of the line is expected to start, for line events (null: not known). */
  timing(): LineTiming | null {
    this.sent = this.currentTiming();
    return this.sent;
  }

  /**
   * When the head of the line is expected to start: as line events last told subscribers, and as it is now (epoch
   * ms; null: nobody waits, or nothing is known). Reading it tells nobody.
   */
  headStart(): { sent: number | null; now: number | null } {
    const at = (timing: LineTiming | null | undefined) => (timing ? Date.parse(timing.at) : null);
    return { sent: at(this.sent), now: at(this.currentTiming()) };
  }

  private currentTiming(): LineTiming | null {
    const made = this.placeJoined();
    made.timing ??= toLineTiming(made.projector.projection.line);
    return made.timing;
  }

  private estimate(jobId: string): JobEstimate | undefined {
    const made = this.projection();
    const known = made.projector.projection.estimates.get(jobId);
    if (known) return known;
    const position = this.sources.position(jobId);
    if (position > this.placed) {
      const place = placeFromTiming(position, this.currentTiming());
      return place === null ? undefined : { startAt: place.start, finishAt: place.end };
    }
    if (made.joined === 0) return undefined;
    // The next one to join is placed alone; any other means placing those that joined before it first.
    const next = position === made.projector.size + 1 ? this.sources.record(jobId) : undefined;
    if (next?.status === "queued") return this.placeNext(made, next);
    return this.placeJoined().projector.projection.estimates.get(jobId);
  }

  private placeNext(made: Made, record: JobRecord): JobEstimate {
    made.joined--;
    made.timing = undefined;
    return made.projector.place({ jobId: record.id, ...work(record) });
  }

  /** The projection with every job that joined the end of the line placed: made again, since their ids are not known. */
  private placeJoined(): Made {
    const made = this.projection();
    if (made.joined > 0) this.made = null;
    return this.projection();
  }

  private projection(): Made {
    const now = this.sources.now();
    if (this.made && now - this.made.at < STALE_MS) return this.made;
    const { backends, record } = this.sources;
    const queue = this.sources.queue();
    const states: BackendState[] = backends.map((id, i) => {
      const slot = queue.backends[i];
      const job = slot?.jobId ? record(slot.jobId) : undefined;
      return {
        id,
        healthy: slot?.healthy ?? false,
        loaded: slot?.model ?? null,
        running: job
          ? {
              jobId: job.id,
              ...work(job),
              startedAt: slot?.since ?? (job.startedAt ? Date.parse(job.startedAt) : now),
              progress: job.progress,
              switched: this.switched.get(job.id) ?? null,
            }
          : null,
      };
    });
    const projector = new LineProjector(this.model, { now, held: queue.held, backends: states });
    let whole = true;
    for (const jobId of this.sources.line(this.placed)) {
      if (projector.size === this.placed) break;
      const job = this.sources.record(jobId);
      // Every waiting job has its record in memory; one that has none cannot be placed, and neither can those behind.
      if (!job) {
        whole = false;
        break;
      }
      projector.place({ jobId, ...work(job) });
    }
    this.made = { at: now, projector, whole, joined: 0, timing: undefined };
    return this.made;
  }
}
