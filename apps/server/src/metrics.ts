import { failureReason } from "@anvil/api";
import type { EventHub, JobService, JobServiceObserver } from "@anvil/api";
import { normalizeBackendUrl } from "@anvil/forge-client";
import { isFinalStatus, JOB_STATUSES } from "@anvil/job-machine";
import type { Job, JobStatus } from "@anvil/job-machine";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { GpuBusyTime } from "./gpu-busy-time";

/** Jobs per status, as the database counts them. */
export type JobCounts = Record<JobStatus, number>;

const BUSY_WINDOW_MS = 60_000;
const BUSY_SAMPLE_MS = 5_000;
const seconds = (from: string | null, to: string | null): number | null =>
  from === null || to === null ? null : Math.max(0, Date.parse(to) - Date.parse(from)) / 1000;

/**
 * Anvil's Prometheus metrics, in a registry of their own (so that several servers can run in one process).
 * Job counts start from the database and follow every persisted status change through `observer`; queue depth,
 * subscriptions and backend health are read at scrape time; GPU busy time adds up each job's time on its backend.
 */
export class AnvilMetrics {
  readonly registry = new Registry();
  private counts: JobCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as JobCounts;
  private readonly failures = new Map<string, string>();
  private readonly busy: GpuBusyTime;
  private readonly busyReported: number[];
  private samples: { at: number; busy: number[] }[];
  private readonly sampler: NodeJS.Timeout;
  private service: JobService | null = null;

  private readonly waitSeconds = new Histogram({
    name: "anvil_job_wait_seconds",
    help: "Time a job waited in the queue, from submission to the start of its first generation (counted once a job)",
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  private readonly gpuSeconds = new Histogram({
    name: "anvil_job_gpu_seconds",
    help: "Time a job held its GPU, from the start of its generation to its end, by final status",
    labelNames: ["status"],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly fellBehindCount = new Counter({
    name: "anvil_subscriptions_fell_behind_total",
    help: "Streams ended because their client read too slowly, by transport: an SSE subscription with 10,000 events unread (TIMEOUT), a WebSocket with more than 4 MiB unsent (closed with 1013); their clients resume from the last event id",
    labelNames: ["transport"],
    registers: [this.registry],
  });
  private readonly backendErrors = new Counter({
    name: "anvil_backend_errors_total",
    help: "Jobs that ended in error, by cause: the Forge error reason (e.g. OutOfMemory), ImageNotSaved, NoSuchBackend, Timeout or Unknown",
    labelNames: ["reason"],
    registers: [this.registry],
  });

  /**
   * `leaseLapsed`: a cluster's leader cut off from the database past LEASE_MS no longer leads (another may), although
   * it has not stepped down yet: it exports what a follower does, so that scraping every server counts each job once.
   */
  constructor(
    events: EventHub,
    backendUrls: readonly string[],
    private readonly leaseLapsed: () => boolean = () => false,
  ) {
    const labels = backendUrls.map(normalizeBackendUrl);
    this.busy = new GpuBusyTime(labels.length);
    this.busyReported = labels.map(() => 0);
    this.samples = [{ at: Date.now(), busy: labels.map(() => 0) }];
    this.sampler = setInterval(() => this.sample(), BUSY_SAMPLE_MS).unref();
    const registers = [this.registry];
    // prom-client calls `collect` with the metric as `this`; these closures reach the live figures.
    const counts = () => this.counts;
    const service = () => (this.leaseLapsed() ? null : this.service);
    const busyNow = () => this.busyNow(Date.now());
    const busyRatios = () => this.busyRatios(Date.now());
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "anvil_jobs",
      help: "Jobs by status",
      labelNames: ["status"],
      registers,
      collect() {
        // A follower of a cluster counts nothing: the leader's series are the cluster's (see anvil_leads).
        this.reset();
        if (!service()) return;
        for (const status of JOB_STATUSES) this.set({ status }, counts()[status]);
      },
    });
    new Gauge({
      name: "anvil_queue_depth",
      help: "Jobs waiting for a GPU",
      registers,
      collect() {
        this.set(service()?.scheduler.snapshot().queued ?? 0);
      },
    });
    new Counter({
      name: "anvil_gpu_busy_seconds_total",
      help: "Time each backend spent running jobs",
      labelNames: ["backend"],
      registers,
      collect() {
        const busy = busyNow();
        this.reset();
        if (!service()) return;
        labels.forEach((backend, i) => this.inc({ backend }, busy[i] ?? 0));
      },
    });
    new Gauge({
      name: "anvil_gpu_busy_ratio",
      help: `Share of the last ${BUSY_WINDOW_MS / 1000} s each backend spent running jobs (0..1)`,
      labelNames: ["backend"],
      registers,
      collect() {
        this.reset();
        if (!service()) return;
        const ratios = busyRatios();
        labels.forEach((backend, i) => this.set({ backend }, ratios[i] ?? 0));
      },
    });
    new Gauge({
      name: "anvil_backend_up",
      help: "Whether each backend answers its health probe (1) or not (0)",
      labelNames: ["backend"],
      registers,
      collect() {
        this.reset();
        const health = service()?.monitor.health();
        if (!health) return;
        labels.forEach((backend, i) => this.set({ backend }, health[i]?.healthy ? 1 : 0));
      },
    });
    new Gauge({
      name: "anvil_images_not_stored",
      help: "1 while a finished image cannot be stored (the images folder is full or unwritable): no job starts until it is",
      registers,
      collect() {
        this.set(service()?.scheduler.imagesBlocked ? 1 : 0);
      },
    });
    new Gauge({
      name: "anvil_leads",
      help: "1 on the server that drives the GPUs (every server outside a cluster), 0 on a follower, whose anvil_jobs, anvil_queue_depth, anvil_gpu_busy_* and anvil_backend_up carry nothing: read those from the leader",
      registers,
      collect() {
        this.set(service() ? 1 : 0);
      },
    });
    new Gauge({
      name: "anvil_event_subscriptions",
      help: "Open jobs.events subscriptions",
      registers,
      collect() {
        this.set(events.subscribers);
      },
    });
    new Counter({
      name: "anvil_events_published_total",
      help: "Job change messages published to subscriptions",
      registers,
      collect() {
        this.reset();
        this.inc(events.published);
      },
    });
  }

  /** Feeds the metrics from the job service: pass it in `JobServiceOptions.observers`. */
  readonly observer: JobServiceObserver = {
    submitted: () => {
      this.counts.queued++;
    },
    generationFailed: (request, error) => {
      this.failures.set(request.jobId, failureReason(error));
    },
    transition: (change, job) => {
      this.counts[change.from] = Math.max(0, this.counts[change.from] - 1);
      this.counts[change.to]++;
      if (change.from === "processing") this.left(change.backend, change.to, job);
      if (change.to === "processing") this.started(change.backend, job);
      if (change.to === "error") {
        const reason = this.failures.get(job.id) ?? (/timed out/i.test(job.error ?? "") ? "Timeout" : "Unknown");
        this.backendErrors.inc({ reason });
      }
      // A job that goes back to the line (its backend was lost, or a restart) fails afresh, if it does, on its next run.
      if (isFinalStatus(change.to) || change.to === "queued") this.failures.delete(job.id);
    },
    // Gone with their conversation: counted no more, as a restart, which counts the database, would not count them.
    deleted: (jobs) => {
      for (const { status } of jobs) this.counts[status] = Math.max(0, this.counts[status] - 1);
    },
  };

  /**
   * Starts reading the live figures from `service`, with job counts from the database. The count runs in the
   * journal's lane, so no status change is counted twice or missed between it and the observer's updates.
   */
  async attach(service: JobService, countJobs: () => Promise<JobCounts>): Promise<void> {
    this.service = service;
    await service.scheduler.journal.run(async () => {
      this.counts = await countJobs();
    });
  }

  /** A stream was ended because its client read too slowly (see anvil_subscriptions_fell_behind_total). */
  fellBehind(transport: "sse" | "websocket"): void {
    this.fellBehindCount.inc({ transport });
  }

  /** This server no longer drives the GPUs (its term as the cluster's leader ended). */
  detach(): void {
    this.service = null;
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops the sampling timer. */
  close(): void {
    clearInterval(this.sampler);
  }

  private started(backend: number | null, job: Job): void {
    // A job run again is not counted twice, the second time with its first run in its wait.
    const wait = job.attempt === 1 ? seconds(job.createdAt, job.startedAt) : null;
    if (wait !== null) this.waitSeconds.observe(wait);
    if (backend !== null) this.busy.started(backend, job.id, job.startedAt ? Date.parse(job.startedAt) : Date.now());
  }

  /** The job left its GPU: it ended, or went back to the line. */
  private left(backend: number | null, status: JobStatus, job: Job): void {
    if (isFinalStatus(status)) {
      const held = seconds(job.startedAt, job.finishedAt);
      if (held !== null) this.gpuSeconds.observe({ status }, held);
    }
    if (backend !== null) this.busy.ended(backend, job.id, job.finishedAt ? Date.parse(job.finishedAt) : Date.now());
  }

  /** Busy seconds per backend so far, the running job's share included; never lower than reported before. */
  private busyNow(now: number): number[] {
    return this.busy.seconds(now).map((total, i) => {
      // A job's end is published only after it was persisted; meanwhile its running share keeps growing past its
      // real end. Holding the highest value keeps the counter monotone; the next job's time catches it up.
      const reported = Math.max(this.busyReported[i] ?? 0, total);
      this.busyReported[i] = reported;
      return reported;
    });
  }

  private busyRatios(now: number): number[] {
    const busy = this.busyNow(now);
    const oldest = this.samples[0];
    if (!oldest || now <= oldest.at) return busy.map(() => 0);
    const wall = (now - oldest.at) / 1000;
    return busy.map((total, i) => Math.min(1, Math.max(0, (total - (oldest.busy[i] ?? 0)) / wall)));
  }

  private sample(): void {
    const now = Date.now();
    this.samples.push({ at: now, busy: this.busyNow(now) });
    while (this.samples.length > 1 && (this.samples[0]?.at ?? now) < now - BUSY_WINDOW_MS) this.samples.shift();
  }
}
