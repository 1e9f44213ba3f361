import { Effect } from "effect";
import type { GenerateProgram } from "./job-scheduler";
import { JobScheduler } from "./job-scheduler";
import type { JobSchedulerOptions } from "./job-scheduler";
import type { JournalEntry } from "./journal";
import { DEFAULT_JOB_PARAMS } from "./job";
import type { JobParams, JobStatus } from "./job";
import type { ImageJobInput } from "./image-job.machine";

/** Default generation parameters for tests. */
export const testParams: JobParams = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 4, seed: 1 };

/** A fake backend that records how many generations overlap, and which ran. */
export const fakeBackend = (options: { ms?: number; fail?: (prompt: string) => string | undefined } = {}) => {
  const stats = { active: 0, maxActive: 0, started: [] as string[], interrupted: [] as string[] };
  const generate: GenerateProgram = (request, onProgress) =>
    Effect.gen(function* () {
      stats.active++;
      stats.maxActive = Math.max(stats.maxActive, stats.active);
      stats.started.push(request.jobId);
      yield* Effect.sleep(options.ms ?? 2);
      onProgress(50);
      yield* Effect.sleep(options.ms ?? 2);
      const failure = options.fail?.(request.prompt);
      if (failure) return yield* Effect.fail(new Error(failure));
      return Effect.succeed({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 42 });
    }).pipe(
      Effect.onInterrupt(() => Effect.sync(() => void stats.interrupted.push(request.jobId))),
      Effect.ensuring(Effect.sync(() => void stats.active--)),
    );
  return { stats, generate };
};

/** A scheduler whose journal writes into memory, with helpers to await outcomes. */
export const testScheduler = (generate: GenerateProgram, options: Partial<JobSchedulerOptions<number>> = {}) => {
  const published: JournalEntry[] = [];
  const waiters = new Map<string, (status: JobStatus) => void>();
  const scheduler = new JobScheduler<number>({
    backends: 1,
    healthy: true,
    jobTimeoutMs: 10_000,
    generate,
    persist: async (entries) => entries.map((_, i) => i),
    ...options,
    publish: (entry, persisted) => {
      options.publish?.(entry, persisted);
      published.push(entry);
      if (entry.kind === "transition" && ["complete", "error", "cancelled"].includes(entry.to)) {
        waiters.get(entry.jobId)?.(entry.to);
      }
    },
  });
  /** Submits a job (`runs`: the attempt it is on, and how many a shutdown spared; a first run by default). */
  const submit = (jobId: string, prompt = jobId, runs: Pick<ImageJobInput, "attempt" | "spared"> = { attempt: 1 }) => {
    const finished = new Promise<JobStatus>((resolve) => waiters.set(jobId, resolve));
    scheduler.submit({ jobId, prompt, params: testParams, ...runs });
    return finished;
  };
  return { scheduler, published, submit };
};
