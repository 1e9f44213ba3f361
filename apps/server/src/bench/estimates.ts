import { FairLine, GpuTimeModel, projectLine } from "@anvil/job-machine";
import type { BackendState, SchedulingMode, WaitingWork } from "@anvil/job-machine";

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

/** One simulated run of a job. */
interface Run {
  startedAt: number;
  backend: number;
  switched: boolean | null;
  loadMs: number;
  gpuMs: number;
  generatedAt?: number;
  finishedAt?: number;
}

/** A day of arrivals: few at night, many by day, in bursts of one user's prompt iterations. */
function day(): SimJob[] {
  const next = random(2026);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] ?? items[0]!;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const users = Array.from({ length: 8 }, (_, i) => ({ name: `user-${i}`, favourite: FAVOURITES[i] ?? "sdxl-base" }));
  const jobs: SimJob[] = [];
  for (let t = 0; ;) {
    const hour = (t / (60 * MINUTE)) % 24;
    const batchesPerMinute = hour >= 8 && hour < 20 ? 2 : 0.1;
    t += -Math.log(1 - next()) * (MINUTE / batchesPerMinute);
    if (t >= DAY) return jobs;
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
  job: SimJob;
  at: number;
  startAt: number | null;
  finishAt: number | null;
}

/** Plays the day on the GPUs, taking an estimate of each job as it is submitted and of the whole line every 5 minutes. */
function simulate(jobs: readonly SimJob[], mode: SchedulingMode) {
  const model = new GpuTimeModel();
  const line = new FairLine(mode);
  const byId = new Map(jobs.map((job) => [job.jobId, job]));
  const runs = new Map<string, Run>();
  const backends = GPUS.map((gpu) => ({ ...gpu, running: null as SimJob | null, loaded: null as Checkpoint | null }));
  const keeping: SimJob[] = [];
  const atSubmission: Foretold[] = [];
  const whileWaiting: Foretold[] = [];
  let busyMs = 0;
  let longest = 0;
  let now = 0;
  const run = (job: SimJob) => runs.get(job.jobId)!;

  const project = () => {
    const states: BackendState[] = backends.map((backend) => {
      const job = backend.running;
      if (!job) return { id: backend.id, healthy: true, running: null };
      const { startedAt, loadMs, gpuMs, switched } = run(job);
      const progress = Math.max(0, Math.min(99, Math.floor((100 * (now - startedAt - loadMs)) / (gpuMs - loadMs))));
      return { id: backend.id, healthy: true, running: { ...job, startedAt, progress, switched } };
    });
    const waiting = function* () {
      for (const id of line) yield byId.get(id)!;
    };
    return projectLine(model, { now, held: false, backends: states, line: waiting() }).estimates;
  };
  const dispatch = () => {
    for (const [index, backend] of backends.entries()) {
      if (backend.running) continue;
      const id = line.peek();
      if (id === undefined) return;
      line.start(id);
      const job = byId.get(id)!;
      const loadMs = backend.loaded === job.checkpoint ? 0 : SWITCH_MS * backend.speed;
      const gpuMs = loadMs + trueGpuMs(job, backend.speed);
      runs.set(id, {
        startedAt: now,
        backend: index,
        switched: model.start(backend.id, job.checkpoint),
        loadMs,
        gpuMs,
      });
      backend.loaded = job.checkpoint;
      backend.running = job;
      busyMs += gpuMs;
    }
  };

  let arrived = 0;
  let sampleAt = 0;
  for (;;) {
    const nextArrival = jobs[arrived]?.submittedAt ?? Infinity;
    const generated = backends.map((b) => (b.running ? run(b.running).startedAt + run(b.running).gpuMs : Infinity));
    const nextGenerated = Math.min(...generated);
    const nextFinished = Math.min(...keeping.map((job) => run(job).finishedAt!));
    now = Math.min(nextArrival, nextGenerated, nextFinished, sampleAt);
    if (now === Infinity) break;
    if (now === sampleAt) {
      sampleAt = now < DAY ? now + SAMPLE_EVERY : Infinity;
      const estimates = project();
      for (const id of line) {
        const estimate = estimates.get(id);
        const job = byId.get(id)!;
        whileWaiting.push({ job, at: now, startAt: estimate?.startAt ?? null, finishAt: estimate?.finishAt ?? null });
      }
    } else if (now === nextFinished) {
      const job = keeping.splice(
        keeping.findIndex((j) => run(j).finishedAt === now),
        1,
      )[0]!;
      const { startedAt, generatedAt, finishedAt, backend, switched } = run(job);
      model.learn({
        backend: GPUS[backend]!.id,
        ...job,
        ms: generatedAt! - startedAt,
        keepMs: finishedAt! - generatedAt!,
        switched,
      });
    } else if (now === nextGenerated) {
      const backend = backends[generated.indexOf(now)]!;
      const job = backend.running!;
      backend.running = null;
      Object.assign(run(job), { generatedAt: now, finishedAt: now + job.keepMs });
      keeping.push(job);
      dispatch();
    } else {
      const job = jobs[arrived++]!;
      line.add({ jobId: job.jobId, owner: job.owner, priority: 0, seq: arrived });
      longest = Math.max(longest, line.size);
      dispatch();
      const estimate = project().get(job.jobId);
      atSubmission.push({ job, at: now, startAt: estimate?.startAt ?? null, finishAt: estimate?.finishAt ?? null });
    }
  }

  /** Relative errors of what was foretold; `passed`: whether a job submitted after the estimate started before it. */
  const errors = (foretold: Foretold[], include: (passed: boolean) => boolean = () => true) => {
    const start: number[] = [];
    const finish: number[] = [];
    let unknown = 0;
    for (const { job, at, startAt, finishAt } of foretold) {
      if (finishAt === null) {
        unknown++;
        continue;
      }
      const { startedAt, finishedAt } = run(job);
      const passed = jobs.some(
        (other) => other.submittedAt > at && (runs.get(other.jobId)?.startedAt ?? Infinity) < startedAt,
      );
      if (!include(passed)) continue;
      const waited = startedAt - at;
      // A job that got a GPU at once has no wait to foretell.
      if (startAt !== null && waited >= 1_000) start.push(Math.abs(startAt - startedAt) / waited);
      finish.push(Math.abs(finishAt - finishedAt!) / (finishedAt! - at));
    }
    return { start, finish, unknown };
  };
  return { errors, atSubmission, whileWaiting, busy: busyMs / (DAY * GPUS.length), longest };
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
  const jobs = day();
  const fair = simulate(jobs, "fair");
  const fifo = simulate(jobs, "fifo");
  const submitted = fair.errors(fair.atSubmission);
  const waiting = fair.errors(fair.whileWaiting);
  const notPassed = fair.errors(fair.atSubmission, (passed) => !passed);
  const inOrder = fifo.errors(fifo.atSubmission);
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
