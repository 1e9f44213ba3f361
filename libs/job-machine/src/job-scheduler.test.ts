import { Effect } from "effect";
import { describe, expect, it, vi } from "vitest";
import { HELD_START_MS } from "./image-job.machine";
import { BackendLost } from "./job";
import type { GenerateProgram } from "./job-scheduler";
import { fakeBackend, testScheduler } from "./test-support";

const transitionsOf = (published: ReturnType<typeof testScheduler>["published"], jobId: string) =>
  published.flatMap((e) => (e.kind === "transition" && e.jobId === jobId ? [`${e.from}->${e.to}`] : []));

/** `generate`, and `started(jobId)`: settles once that job's generation has begun, i.e. it holds the GPU. */
const announcing = (generate: GenerateProgram) => {
  const signals = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const signal = (jobId: string) => {
    let entry = signals.get(jobId);
    if (!entry) {
      let resolve: () => void = () => {};
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      signals.set(jobId, entry);
    }
    return entry;
  };
  const wrapped: GenerateProgram = (request, onProgress) =>
    Effect.sync(() => signal(request.jobId).resolve()).pipe(Effect.andThen(generate(request, onProgress)));
  return { generate: wrapped, started: (jobId: string) => signal(jobId).promise };
};

describe("JobScheduler GPU lock", () => {
  it("never runs two generations at once when 20 jobs are submitted together", async () => {
    const backend = fakeBackend();
    const { scheduler, submit } = testScheduler(backend.generate);
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(`job-${i}`)));
    expect(outcomes).toEqual(Array(20).fill("complete"));
    expect(backend.stats.maxActive).toBe(1);
    await scheduler.stop();
  });

  it("releases the GPU when a job completes", async () => {
    const backend = fakeBackend();
    const { scheduler, submit } = testScheduler(backend.generate);
    expect(await submit("a")).toBe("complete");
    expect(scheduler.gpu.slots()[0]?.busy).toBe(false);
    expect(scheduler.snapshot().backends[0]?.jobId).toBeNull();
    expect(await submit("b")).toBe("complete");
    await scheduler.stop();
  });

  it("counts a job that keeps its image as processing, with its backend free for the next", async () => {
    let store: () => void = () => undefined;
    const stored = new Promise<void>((resolve) => (store = resolve));
    const generated: string[] = [];
    const generate: GenerateProgram = (request) =>
      Effect.sync(() => {
        generated.push(request.jobId);
        return Effect.promise(() => stored).pipe(Effect.as({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 1 }));
      });
    const { scheduler, submit } = testScheduler(generate);
    const done = [submit("a"), submit("b")];
    await vi.waitFor(() => expect(generated).toEqual(["a", "b"]));
    // Both have left their backend and wait for their images to be stored: still processing, the GPU idle.
    await vi.waitFor(() => expect(scheduler.snapshot().backends[0]).toMatchObject({ busy: false, jobId: null }));
    expect(scheduler.snapshot()).toMatchObject({ queued: 0, processing: 2 });
    store();
    expect(await Promise.all(done)).toEqual(["complete", "complete"]);
    expect(scheduler.snapshot()).toMatchObject({ queued: 0, processing: 0 });
    await scheduler.stop();
  });

  it("counts a start whose writing was held up from when its request went out, and writes that start at its end", async () => {
    let clock = 50_000;
    const sentAt: number[] = [];
    const busySince: (number | null)[] = [];
    const generate: GenerateProgram = (request) =>
      Effect.sync(() => {
        sentAt.push(clock);
        busySince.push(scheduler.snapshot().backends[0]?.since ?? null);
        clock += 3_000;
        return Effect.succeed({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 1 });
      });
    const { scheduler, submit, published } = testScheduler(generate, {
      now: () => clock,
      // The database is away while the start is written: the write lands later than the start was decided.
      persist: async (entries) => {
        if (entries.some((entry) => entry.kind === "transition" && entry.to === "processing")) {
          clock += HELD_START_MS + 500;
        }
        return entries.map((_, i) => i);
      },
    });
    expect(await submit("a")).toBe("complete");
    const startOf = (to: string) =>
      published.flatMap((e) => (e.kind === "transition" && e.to === to ? [e.job.startedAt] : []));
    expect(startOf("processing")).toEqual([50_000]);
    expect(sentAt).toEqual([50_000 + HELD_START_MS + 500]);
    expect(startOf("complete")).toEqual(sentAt);
    // queue.status says the same of its GPU while it runs.
    expect(busySince).toEqual(sentAt);
    await scheduler.stop();
  });

  it("releases the GPU when a job fails, and the next job runs", async () => {
    const backend = fakeBackend({ fail: (prompt) => (prompt === "bad" ? "CUDA out of memory" : undefined) });
    const { scheduler, submit, published } = testScheduler(backend.generate);
    const [bad, good] = await Promise.all([submit("bad"), submit("good")]);
    expect(bad).toBe("error");
    expect(good).toBe("complete");
    expect(scheduler.gpu.slots()[0]?.busy).toBe(false);
    const error = published.find((e) => e.kind === "transition" && e.jobId === "bad" && e.to === "error");
    expect(error?.kind === "transition" && error.job.error).toBe("CUDA out of memory");
    await scheduler.stop();
  });

  it("computes exact queue positions, 1 = next, 0 when not queued", async () => {
    const backend = fakeBackend({ ms: 20 });
    const { scheduler, submit } = testScheduler(backend.generate);
    const done = ["a", "b", "c", "d"].map((id) => submit(id));
    expect(["a", "b", "c", "d"].map((id) => scheduler.position(id))).toEqual([0, 1, 2, 3]);
    await scheduler.cancel("c");
    expect(["a", "b", "c", "d"].map((id) => scheduler.position(id))).toEqual([0, 1, 0, 2]);
    await Promise.all(done);
    expect(["a", "b", "c", "d"].map((id) => scheduler.position(id))).toEqual([0, 0, 0, 0]);
    await scheduler.stop();
  });

  it("starts jobs in the order they were submitted", async () => {
    const backend = fakeBackend({ ms: 1 });
    const { scheduler, submit } = testScheduler(backend.generate);
    const ids = Array.from({ length: 10 }, (_, i) => `job-${i}`);
    await Promise.all(ids.map((id) => submit(id)));
    expect(backend.stats.started).toEqual(ids);
    await scheduler.stop();
  });
});

describe("JobScheduler", () => {
  it("reports every transition in order, persisted before it is published", async () => {
    const order: string[] = [];
    const backend = fakeBackend();
    const { scheduler, submit } = testScheduler(backend.generate, {
      persist: async (entries) => entries.map((e) => (order.push(`persist ${e.kind}`), 0)),
      publish: (e) => void order.push(`publish ${e.kind}`),
    });
    await submit("a");
    await scheduler.journal.flush();
    const transitions = order.filter((line) => line.endsWith("transition"));
    expect(transitions).toEqual([
      "persist transition",
      "publish transition",
      "persist transition",
      "publish transition",
    ]);
    await scheduler.stop();
  });

  it("sends a job to the backend only once its processing transition is persisted", async () => {
    const backend = fakeBackend();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let processingWritten = false;
    const { scheduler, submit } = testScheduler(backend.generate, {
      persist: async (entries) => {
        if (entries.some((e) => e.kind === "transition" && e.to === "processing")) {
          await held;
          processingWritten = true;
        }
        return entries.map(() => 0);
      },
    });
    const done = submit("a");
    await vi.waitFor(() => expect(scheduler.snapshot().processing).toBe(1));
    expect(backend.stats.started).toEqual([]);
    release();
    expect(await done).toBe("complete");
    expect(processingWritten).toBe(true);
    expect(backend.stats.started).toEqual(["a"]);
    await scheduler.stop();
  });

  it("never sends a cancelled queued job to the backend", async () => {
    const backend = fakeBackend({ ms: 10 });
    const { scheduler, submit, published } = testScheduler(backend.generate);
    const first = submit("first");
    const second = submit("second");
    await scheduler.cancel("second");
    expect(await second).toBe("cancelled");
    expect(await first).toBe("complete");
    expect(backend.stats.started).toEqual(["first"]);
    expect(transitionsOf(published, "second")).toEqual(["queued->cancelled"]);
    await scheduler.stop();
  });

  it("cancels only a waiting job when asked for waiting jobs only: one that started runs on", async () => {
    const backend = fakeBackend({ ms: 50 });
    const { generate, started } = announcing(backend.generate);
    const { scheduler, submit, published } = testScheduler(generate);
    const running = submit("running");
    const waiting = submit("waiting");
    await started("running");
    await scheduler.cancel("running", { waitingOnly: true });
    await scheduler.cancel("waiting", { waitingOnly: true });
    expect(await waiting).toBe("cancelled");
    expect(await running).toBe("complete");
    expect(backend.stats.interrupted).toEqual([]);
    expect(transitionsOf(published, "running")).toEqual(["queued->processing", "processing->complete"]);
    await scheduler.stop();
  });

  it("interrupts a running generation when its job is cancelled, and frees the GPU", async () => {
    const backend = fakeBackend({ ms: 1_000 });
    const { generate, started } = announcing(backend.generate);
    const { scheduler, submit } = testScheduler(generate);
    const running = submit("running");
    void submit("next");
    await started("running");
    await scheduler.cancel("running");
    expect(await running).toBe("cancelled");
    // The next generation can only begin once the permit is free, i.e. after the interrupted one's finalizers ran.
    await started("next");
    expect(backend.stats.interrupted).toEqual(["running"]);
    expect(backend.stats.started).toEqual(["running", "next"]);
    expect(scheduler.status("next")).toBe("processing");
    await scheduler.stop();
  });

  it("keeps who cancelled a job, waiting or running, in its transition", async () => {
    const backend = fakeBackend({ ms: 1_000 });
    const { generate, started } = announcing(backend.generate);
    const { scheduler, submit, published } = testScheduler(generate);
    const running = submit("running");
    const waiting = submit("waiting");
    const finished = submit("finished");
    await started("running");
    await scheduler.cancel("waiting", { by: "alice" });
    await scheduler.cancel("running", { by: "admin" });
    expect([await running, await waiting]).toEqual(["cancelled", "cancelled"]);
    await scheduler.cancel("finished");
    expect(await finished).toBe("cancelled");
    const cancelledBy = (jobId: string) =>
      published.flatMap((e) => (e.kind === "transition" && e.jobId === jobId && e.to === "cancelled" ? [e.job] : []));
    expect(cancelledBy("waiting")).toEqual([expect.objectContaining({ cancelledBy: "alice" })]);
    expect(cancelledBy("running")).toEqual([expect.objectContaining({ cancelledBy: "admin" })]);
    // Nobody named: nobody is said to have cancelled it.
    expect(cancelledBy("finished")).toEqual([expect.objectContaining({ cancelledBy: null })]);
    await scheduler.stop();
  });

  it("fails a job that holds the GPU past its timeout, saying so, and interrupts it", async () => {
    const backend = fakeBackend({ ms: 1_000 });
    const { scheduler, submit, published } = testScheduler(backend.generate, { jobTimeoutMs: 30 });
    expect(await submit("slow")).toBe("error");
    const error = published.find((e) => e.kind === "transition" && e.to === "error");
    expect(error?.kind === "transition" && error.job.error).toMatch(/timed out after/);
    expect(backend.stats.interrupted).toEqual(["slow"]);
    expect(scheduler.gpu.slots()[0]?.busy).toBe(false);
    await scheduler.stop();
  });

  it("dispatches nothing to an unhealthy backend until it is up", async () => {
    const backend = fakeBackend();
    const { scheduler, submit } = testScheduler(backend.generate, { healthy: false });
    const done = submit("a");
    // The scheduler decides while it takes the job in: had it sent the job to the backend, the slot would say so now.
    expect(scheduler.snapshot().backends[0]).toMatchObject({ healthy: false, busy: false, jobId: null });
    expect(scheduler.position("a")).toBe(1);
    scheduler.backendUp(0);
    expect(await done).toBe("complete");
    expect(backend.stats.started).toEqual(["a"]);
    await scheduler.stop();
  });

  it("runs one job per backend in parallel when there are several", async () => {
    const backend = fakeBackend({ ms: 10 });
    const { scheduler, submit } = testScheduler(backend.generate, { backends: 3 });
    await Promise.all(Array.from({ length: 9 }, (_, i) => submit(`job-${i}`)));
    expect(backend.stats.maxActive).toBe(3);
    await scheduler.stop();
  });

  it("sends a job whose backend went away back to the front of the line, and runs it on another as attempt 2", async () => {
    const backend = fakeBackend({ ms: 5 });
    const ran: { jobId: string; backend: number; attempt: number }[] = [];
    let down = -1;
    const generate: GenerateProgram = (request, onProgress) => {
      ran.push({ jobId: request.jobId, backend: request.backend, attempt: request.attempt });
      if (request.jobId === "lost" && request.attempt === 1) {
        down = request.backend;
        scheduler.backendDown(request.backend);
        return Effect.fail(new BackendLost("Lost the connection to Forge"));
      }
      return backend.generate(request, onProgress);
    };
    const { scheduler, submit, published } = testScheduler(generate, { backends: 2 });
    const done = Promise.all([submit("lost"), submit("next")]);
    expect(await done).toEqual(["complete", "complete"]);
    const lost = ran.filter((run) => run.jobId === "lost");
    expect(lost).toEqual([
      { jobId: "lost", backend: down, attempt: 1 },
      { jobId: "lost", backend: 1 - down, attempt: 2 },
    ]);
    expect(transitionsOf(published, "lost")).toEqual([
      "queued->processing",
      "processing->queued",
      "queued->processing",
      "processing->complete",
    ]);
    await scheduler.stop();
  });

  it("ends a job in error once it lost its backend on every attempt", async () => {
    const generate: GenerateProgram = () => Effect.fail(new BackendLost("Lost the connection to Forge"));
    const { scheduler, submit, published } = testScheduler(generate);
    expect(await submit("unlucky")).toBe("error");
    const error = published.find((e) => e.kind === "transition" && e.to === "error");
    expect(error?.kind === "transition" && error.job).toMatchObject({ attempt: 3 });
    expect(error?.kind === "transition" && error.job.error).toMatch(/lost its backend on each of its 3 attempts/);
    await scheduler.stop();
  });

  it("does not count the attempts a shutdown cut short toward the three a job may lose its backend on", async () => {
    const attempts: number[] = [];
    const generate: GenerateProgram = (request) => {
      attempts.push(request.attempt);
      return Effect.fail(new BackendLost("Lost the connection to Forge"));
    };
    const { scheduler, submit, published } = testScheduler(generate);
    // Its first two runs were cut short by shutdowns: three more runs may lose their backend before it is given up.
    expect(await submit("stopped twice", "stopped twice", { attempt: 3, spared: 2 })).toBe("error");
    expect(attempts).toEqual([3, 4, 5]);
    const error = published.find((e) => e.kind === "transition" && e.to === "error");
    expect(error?.kind === "transition" && error.job).toMatchObject({ attempt: 5 });
    expect(error?.kind === "transition" && error.job.error).toMatch(
      /lost its backend on 3 of its 5 attempts \(a shutdown cut the others short\) and was given up$/,
    );
    await scheduler.stop();
  });

  it("stops without finishing running jobs and waits for their generations to end", async () => {
    const backend = fakeBackend({ ms: 1_000 });
    const { generate, started } = announcing(backend.generate);
    const { scheduler, submit, published } = testScheduler(generate);
    void submit("a");
    await started("a");
    await scheduler.stop();
    expect(backend.stats.interrupted).toEqual(["a"]);
    expect(backend.stats.active).toBe(0);
    expect(transitionsOf(published, "a")).toEqual(["queued->processing"]);
  });
});

describe("JobScheduler waiting jobs", () => {
  it("spawns a job's actor only when the job starts, and cancels a waiting job without one", async () => {
    const backend = fakeBackend({ ms: 20 });
    const { scheduler, submit, published } = testScheduler(backend.generate);
    const outcomes = Array.from({ length: 1_000 }, (_, i) => submit(`w${i}`));
    // One job runs; the other 999 wait as entries in the line, with no actor each.
    expect(scheduler.size).toBe(1_000);
    expect(scheduler.actors).toBe(1);
    expect(scheduler.job("w500")).toMatchObject({ state: "queued", position: 500, backend: null });
    await scheduler.cancel("w500");
    expect(await outcomes[500]).toBe("cancelled");
    expect(transitionsOf(published, "w500")).toEqual(["queued->cancelled"]);
    expect(scheduler.holds("w500")).toBe(false);
    expect(scheduler.position("w501")).toBe(500);
    expect(backend.stats.started).not.toContain("w500");
    // Stopping stops the one live actor; the waiting jobs stay as persisted, for the next start.
    await scheduler.stop();
    expect(backend.stats.started.length).toBeLessThan(1_000);
  });
});

describe("JobScheduler clock", () => {
  it("takes every timestamp from the host's clock", async () => {
    let clock = 1_000;
    let finish: () => void = () => {};
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const { generate, started } = announcing(() =>
      Effect.promise(() => gate).pipe(Effect.as(Effect.succeed({ imageUrl: "/images/a.png", usedSeed: 1 }))),
    );
    const { scheduler, submit, published } = testScheduler(generate, { now: () => clock });
    const done = submit("a");
    const cancelled = submit("b");
    await started("a");
    expect(scheduler.snapshot().backends[0]?.since).toBe(1_000);
    expect(scheduler.gpu.slots()[0]?.since).toBe(1_000);
    // Still generating: its view has no image yet (`generated` turns true once the backend answers).
    expect(scheduler.job("a")).toMatchObject({ startedAt: 1_000, generated: false });
    clock = 5_000;
    await scheduler.cancel("b");
    expect(await cancelled).toBe("cancelled");
    clock = 61_000;
    finish();
    expect(await done).toBe("complete");
    const ended = (jobId: string) =>
      published.flatMap((e) => (e.kind === "transition" && e.jobId === jobId && e.job.finishedAt ? [e.job] : []));
    expect(ended("a")).toMatchObject([{ status: "complete", startedAt: 1_000, finishedAt: 61_000 }]);
    expect(ended("b")).toMatchObject([{ status: "cancelled", finishedAt: 5_000 }]);
    await scheduler.stop();
  });
});
