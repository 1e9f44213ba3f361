import { chooseDispatch, DEFAULT_AFFINITY, FairLine, GpuTimeModel, projectLine } from "@anvil/job-machine";
import type { BackendState, SchedulingMode, WaitingWork } from "@anvil/job-machine";
import { performance } from "node:perf_hooks";
import { report } from "./stats";

/** A small deterministic generator, so every run simulates the same day. */
const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const SAMPLE_EVERY = 5 * MINUTE;
const SWITCH_MS = 9_000;

/** What each model costs on the reference GPU (ms per megapixel-step), and the steps people pick for it. */
const MODELS = {
  "flux1-dev": { rate: 400, steps: [20, 20, 28, 40] },
  "flux1-schnell": { rate: 400, steps: [4, 4, 8] },
  "sdxl-base": { rate: 120, steps: [25, 30, 40] },
} as const;
type Checkpoint = keyof typeof MODELS;
const CHECKPOINTS = Object.keys(MODELS) as Checkpoint[];
const FAVOURITES: Checkpoint[] = ["flux1-dev", "flux1-dev", "flux1-dev", "flux1-dev", "flux1-schnell"];
const SIZES = [
  [1024, 1024],
  [1024, 1024],
  [832, 1216],
  [1216, 832],
  [512, 512],
] as const;
/** Two GPUs of unequal speed: the second takes 1.35 times as long. */
const GPUS = [
  { id: "http://gpu-a:7860", speed: 1 },
  { id: "http://gpu-b:7860", speed: 1.35 },
];

interface SimJob extends WaitingWork {
  checkpoint: Checkpoint;
  owner: string;
  submittedAt: number;
  /** This job's own luck: a factor on its time (noise, now and then a stall), drawn once for every run of the day. */
  luck: number;
  /** The time it takes to end once its GPU is free (its image written). */
  keepMs: number;
}

/** One simulated run of a job: when it started, on which GPU, how long it took (Infinity: not yet). */
interface Run {
  startedAt: number;
  backend: string;
  switched: boolean | null;
  loadMs: number;
  gpuMs: number;
  generatedAt: number;
  finishedAt: number;
}

/** A job as one simulation plays it. */
interface Played extends SimJob {
  run: Run;
}

/** A day of arrivals: few at night, many by day, in bursts of one user's prompt iterations. */
function day(): SimJob[] {
  const next = random(2026);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const users = Array.from({ length: 8 }, (_, i) => ({ name: `user-${i}`, favourite: FAVOURITES[i] ?? "sdxl-base" }));
  const jobs: SimJob[] = [];
  for (let t = 0; ;) {
    const hour = (t / (60 * MINUTE)) % 24;
    const batchesPerMinute = hour >= 8 && hour < 20 ? 2 : 0.1;
    t += -Math.log(1 - next()) * (MINUTE / batchesPerMinute);
    // A burst spreads over a minute or so and may overlap the next: the line gets them in submission order.
    if (t >= DAY) return jobs.sort((a, b) => a.submittedAt - b.submittedAt);
    const user = pick(users);
    const size = next() < 0.5 ? 1 : next() < 0.9 ? 2 + Math.floor(next() * 7) : 20 + Math.floor(next() * 21);
    let checkpoint: Checkpoint = user.favourite;
    let [width, height] = pick(SIZES);
    let steps: number = pick(MODELS[checkpoint].steps);
    for (let i = 0; i < size; i++) {
      // People iterate on one prompt with the same settings, now and then changing something.
      if (i === 0 || next() < 0.2) {
        checkpoint = next() < 0.85 ? user.favourite : pick(CHECKPOINTS);
        [width, height] = pick(SIZES);
        steps = pick(MODELS[checkpoint].steps);
      }
      jobs.push({
        jobId: `job-${jobs.length}`,
        owner: user.name,
        pixels: width * height,
        steps,
        checkpoint,
        submittedAt: t + i * 2_000,
        luck: (next() < 0.01 ? 3 : 1) * Math.exp(0.08 * gauss()),
        keepMs: 30 + 40 * next(),
      });
    }
  }
}

/** How long a job really takes on a GPU: a fixed part, a part per megapixel-step, its luck. */
const trueGpuMs = (job: SimJob, speed: number): number => {
  const mp = job.pixels / 1_000_000;
  return Math.max(200, (600 + 900 * mp + MODELS[job.checkpoint].rate * mp * job.steps) * speed * job.luck);
};

/** An estimate made at `at` of when a job starts and ends. */
interface Foretold {
  job: Played;
  at: number;
  startAt: number | null;
  finishAt: number | null;
}

/** Relative errors of what was foretold; `include` sees whether a job submitted after the estimate started first. */
function errorsOf(jobs: readonly Played[], foretold: readonly Foretold[], include: (passed: boolean) => boolean) {
  // The earliest start among the jobs submitted from index i on (jobs are in submission order).
  const firstStartFrom = jobs.map((job) => job.run.startedAt);
  for (let i = firstStartFrom.length - 2; i >= 0; i--) {
    firstStartFrom[i] = Math.min(firstStartFrom[i] ?? Infinity, firstStartFrom[i + 1] ?? Infinity);
  }
  const submittedAfter = (at: number) => {
    let lo = 0;
    let hi = jobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((jobs[mid]?.submittedAt ?? Infinity) <= at) lo = mid + 1;
      else hi = mid;
    }
    return firstStartFrom[lo] ?? Infinity;
  };
  const start: number[] = [];
  const finish: number[] = [];
  let unknown = 0;
  for (const { job, at, startAt, finishAt } of foretold) {
    if (finishAt === null) {
      unknown++;
      continue;
    }
    const { startedAt, finishedAt } = job.run;
    if (!include(submittedAfter(at) < startedAt)) continue;
    const waited = startedAt - at;
    // A job that got a GPU at once has no wait to foretell.
    if (startAt !== null && waited >= 1_000) start.push(Math.abs(startAt - startedAt) / waited);
    finish.push(Math.abs(finishAt - finishedAt) / (finishedAt - at));
  }
  return { start, finish, unknown };
}

/** Plays the day on the GPUs, taking an estimate of each job as it is submitted and of the whole line every 5 minutes. */
function simulate(day: readonly SimJob[], mode: SchedulingMode) {
  const jobs: Played[] = day.map((job) => ({
    ...job,
    run: {
      startedAt: Infinity,
      backend: "",
      switched: null,
      loadMs: 0,
      gpuMs: 0,
      generatedAt: Infinity,
      finishedAt: Infinity,
    },
  }));
  const model = new GpuTimeModel();
  const line = new FairLine(mode);
  const byId = new Map(jobs.map((job) => [job.jobId, job]));
  const backends = GPUS.map((gpu) => ({ ...gpu, running: null as Played | null, loaded: null as Checkpoint | null }));
  const keeping: Played[] = [];
  const atSubmission: Foretold[] = [];
  const whileWaiting: Foretold[] = [];
  let busyMs = 0;
  let longest = 0;
  let now = 0;
  const waiting = function* () {
    for (const id of line) {
      const job = byId.get(id);
      if (job) yield job;
    }
  };
  const project = () => {
    const states: BackendState[] = backends.map((backend) => {
      const job = backend.running;
      if (!job) return { id: backend.id, healthy: true, running: null };
      const { startedAt, loadMs, gpuMs, switched } = job.run;
      const progress = Math.max(0, Math.min(99, Math.floor((100 * (now - startedAt - loadMs)) / (gpuMs - loadMs))));
      return { id: backend.id, healthy: true, running: { ...job, startedAt, progress, switched } };
    });
    return projectLine(model, { now, held: false, backends: states, line: waiting() }).estimates;
  };
  const foretell = (job: Played, into: Foretold[], estimates: ReturnType<typeof project>) => {
    const estimate = estimates.get(job.jobId);
    into.push({ job, at: now, startAt: estimate?.startAt ?? null, finishAt: estimate?.finishAt ?? null });
  };
  // As the scheduler dispatches: the first in line to a free GPU, one with its checkpoint if any, or (model affinity)
  // one of that user's next jobs that needs the checkpoint a free GPU has.
  const dispatch = () => {
    for (;;) {
      const slots = backends.map((b) => ({ healthy: true, jobId: b.running?.jobId ?? null, model: b.loaded }));
      const choice = chooseDispatch(line, slots, DEFAULT_AFFINITY);
      const job = byId.get(choice?.jobId ?? "");
      const backend = backends[choice?.backend ?? -1];
      if (!job || !backend) return;
      line.start(job.jobId);
      const loadMs = backend.loaded === job.checkpoint ? 0 : SWITCH_MS * backend.speed;
      const gpuMs = loadMs + trueGpuMs(job, backend.speed);
      const switched = model.start(backend.id, job.checkpoint);
      Object.assign(job.run, { startedAt: now, backend: backend.id, switched, loadMs, gpuMs });
      backend.loaded = job.checkpoint;
      backend.running = job;
      busyMs += gpuMs;
    }
  };

  let arrived = 0;
  let sampleAt = 0;
  for (;;) {
    const arrival = jobs[arrived];
    const generated = backends.map(({ running }) => (running ? running.run.startedAt + running.run.gpuMs : Infinity));
    const nextGenerated = Math.min(...generated);
    const nextFinished = Math.min(...keeping.map((job) => job.run.finishedAt));
    now = Math.min(arrival?.submittedAt ?? Infinity, nextGenerated, nextFinished, sampleAt);
    if (now === Infinity) break;
    if (now === sampleAt) {
      sampleAt = now < DAY ? now + SAMPLE_EVERY : Infinity;
      const estimates = project();
      for (const job of waiting()) foretell(job, whileWaiting, estimates);
    } else if (now === nextFinished) {
      const [job] = keeping.splice(
        keeping.findIndex((j) => j.run.finishedAt === now),
        1,
      );
      if (!job) continue;
      const { startedAt, generatedAt, finishedAt, backend, switched } = job.run;
      model.learn({ ...job, backend, ms: generatedAt - startedAt, keepMs: finishedAt - generatedAt, switched });
    } else if (now === nextGenerated) {
      const backend = backends[generated.indexOf(now)];
      const job = backend?.running;
      if (!backend || !job) continue;
      backend.running = null;
      Object.assign(job.run, { generatedAt: now, finishedAt: now + job.keepMs });
      keeping.push(job);
      dispatch();
    } else if (arrival) {
      arrived++;
      line.add({ jobId: arrival.jobId, owner: arrival.owner, priority: 0, seq: arrived, model: arrival.checkpoint });
      longest = Math.max(longest, line.size);
      dispatch();
      foretell(arrival, atSubmission, project());
    }
  }
  return {
    atSubmission: errorsOf(jobs, atSubmission, () => true),
    whileWaiting: errorsOf(jobs, whileWaiting, () => true),
    notPassed: errorsOf(jobs, atSubmission, (passed) => !passed),
    busy: busyMs / (DAY * GPUS.length),
    longest,
  };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

const errorLine = (name: string, errors: number[]) => {
  const sorted = [...errors].sort((a, b) => a - b);
  console.log(
    `${name}: median ${quantile(sorted, 0.5).toFixed(3)}, p90 ${quantile(sorted, 0.9).toFixed(3)} of |estimate − actual| / actual, n=${errors.length}`,
  );
};

/**
 * A simulated day of mixed jobs (three checkpoints, four sizes, 4 to 40 steps, eight users, two GPUs of unequal
 * speed, 9 s checkpoint switches, now and then a stalled run) through the real estimator (GpuTimeModel and
 * projectLine, learning from scratch) and the real line, on a virtual clock: no real waiting, it takes seconds. Each
 * estimate is checked against what then happened, counted from when it was made: |foretold − actual| / actual of
 * the time until the start (jobs that waited a second or more) and until the end.
 */
export function estimateFigures(): void {
  projectionCost();
  const jobs = day();
  const fair = simulate(jobs, "fair");
  const fifo = simulate(jobs, "fifo");
  const submitted = fair.atSubmission;
  const waiting = fair.whileWaiting;
  const notPassed = fair.notPassed;
  const inOrder = fifo.atSubmission;
  console.log(
    `estimates, a simulated day: ${jobs.length} jobs from 8 users, 3 checkpoints, 4 sizes, 4–40 steps, 2 GPUs of unequal speed, 9 s switches; GPUs busy ${(fair.busy * 100).toFixed(0)} %, longest line ${fair.longest}; ${submitted.unknown} job(s) submitted before anything was learned`,
  );
  errorLine("estimate error, fair turns, start, at submission", submitted.start);
  errorLine("estimate error, fair turns, end, at submission", submitted.finish);
  errorLine("estimate error, fair turns, start, every 5 min while waiting", waiting.start);
  errorLine("estimate error, fair turns, end, every 5 min while waiting", waiting.finish);
  errorLine(
    "estimate error, fair turns, start, at submission, jobs no later submission went ahead of",
    notPassed.start,
  );
  errorLine("estimate error, fifo, start, at submission", inOrder.start);
  errorLine("estimate error, fifo, end, at submission", inOrder.finish);
}

/** What one projection costs with 10,000 jobs waiting from 100 users, on two GPUs: made once per change of the line. */
function projectionCost(): void {
  const model = new GpuTimeModel();
  for (const [i, gpu] of GPUS.entries()) {
    for (const checkpoint of CHECKPOINTS) {
      model.learn({ backend: gpu.id, pixels: 1 << 20, steps: 20 + i, checkpoint, ms: 9_000, switched: false });
    }
  }
  const waiting: WaitingWork[] = Array.from({ length: 10_000 }, (_, i) => ({
    jobId: `job-${i}`,
    pixels: (SIZES[i % SIZES.length]?.[0] ?? 1024) * 1024,
    steps: 4 + (i % 37),
    checkpoint: CHECKPOINTS[i % CHECKPOINTS.length] ?? null,
  }));
  const backends: BackendState[] = GPUS.map((gpu) => ({ id: gpu.id, healthy: true, running: null }));
  const samples: number[] = [];
  for (let i = 0; i < 60; i++) {
    const start = performance.now();
    projectLine(model, { now: Date.now(), held: false, backends, line: waiting });
    // The first ten warm the JIT up and are not counted.
    if (i >= 10) samples.push(performance.now() - start);
  }
  report("estimates, one projection of 10,000 waiting jobs on 2 GPUs (made once per change of the line)", samples);
}
