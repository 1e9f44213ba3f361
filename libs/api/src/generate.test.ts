import { randomUUID } from "node:crypto";
import { IDLE_PROGRESS, makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeClient, ForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import type { ImageStore } from "@anvil/persistence";
import { Effect, Fiber, Scheduler } from "effect";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Context } from "./context";
import { EventHub } from "./event-hub";
import { forgeGenerate } from "./generate";
import { Handovers } from "./handovers";
import { JobService } from "./job-service";
import { queueRouter } from "./routers/queue";
import { useTestStore } from "./testing/test-store";

/** An images folder that is full for its first `fullFor` writes, as a disk is until someone makes room. */
const fillingUp = (fullFor: number) => {
  const stored = new Map<string, Uint8Array>();
  let writes = 0;
  const images: ImageStore = {
    write: async (jobId, bytes) => {
      if (++writes <= fullFor) {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      stored.set(jobId, bytes);
    },
    read: async () => null,
    remove: async (jobId) => void stored.delete(jobId),
  };
  return { images, stored, writes: () => writes };
};

describe("forgeGenerate", () => {
  let sim: ForgeSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
  });

  it("keeps a finished image while the images folder is full and stores it once there is room", async () => {
    sim = await startForgeSimulator({ stepMs: 1, modelLoadMs: 1 });
    const { images, stored, writes } = fillingUp(2);
    const said: unknown[] = [];
    const generate = forgeGenerate(
      [makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10 })],
      images,
      { unreachable: () => undefined, imageStorage: (change) => said.push(change) },
      new Handovers(),
    );
    const jobId = randomUUID();
    const params = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 2 };
    const keep = await Effect.runPromise(
      generate({ jobId, prompt: "a full disk", params, attempt: 1, backend: 0 }, () => {}),
    );
    const result = await Effect.runPromise(keep);
    expect(result.imageUrl).toContain(jobId);
    expect(writes()).toBe(3);
    expect(stored.has(jobId)).toBe(true);
    // Said once as it begins to wait (the host stops starting jobs meanwhile), and once as it ends.
    expect(said).toEqual(["waiting", "stored"]);
  });

  it("sends a job back to the line, not its name to Forge, when no backend answered to check its checkpoint", async () => {
    sim = await startForgeSimulator({ stepMs: 1, modelLoadMs: 1 });
    const unreachable: [number, string][] = [];
    const unanswered = 'No backend answered, so the checkpoint "SDXL-Base-1.0" could not be checked';
    const generate = forgeGenerate(
      [makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10 })],
      { write: async () => {}, read: async () => null, remove: async () => {} },
      { unreachable: (backend, reason) => void unreachable.push([backend, reason]) },
      new Handovers(),
      async () => ({ unanswered }),
    );
    const params = { ...DEFAULT_JOB_PARAMS, checkpoint: "SDXL-Base-1.0" };
    const error = await Effect.runPromise(
      Effect.flip(generate({ jobId: randomUUID(), prompt: "unchecked", params, attempt: 1, backend: 0 }, () => {})),
    );
    expect(error).toMatchObject({ _tag: "BackendLost", message: unanswered });
    expect(unreachable).toEqual([[0, unanswered]]);
    expect(sim.stats().arrived).toBe(0);
  });
});

describe("forgeGenerate, interrupted", () => {
  const nowhere: ImageStore = { write: async () => {}, read: async () => null, remove: async () => {} };
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it("leaves no generation running on the backend, wherever between two steps of its program the interrupt lands", async () => {
    // The program yields to the scheduler every few steps (`MaxOpsBeforeYield`), so that an interrupt sent after
    // `ticks` turns of the event loop lands between two of them: each budget and count puts it somewhere else.
    const left: string[] = [];
    for (const budget of [2, 3, 4, 5]) {
      for (let ticks = 0; ticks < 60; ticks++) {
        let generating = false;
        const forge = {
          baseUrl: "http://forge.test:7860",
          progress: () => Effect.succeed(IDLE_PROGRESS),
          interrupt: () => Effect.void,
          generate: () =>
            Effect.sync(() => void (generating = true)).pipe(
              Effect.andThen(Effect.never),
              Effect.ensuring(Effect.sync(() => void (generating = false))),
            ),
        } as unknown as ForgeClient;
        const generate = forgeGenerate([forge], nowhere, { unreachable: () => undefined }, new Handovers());
        const request = {
          jobId: randomUUID(),
          prompt: "cut short",
          params: DEFAULT_JOB_PARAMS,
          attempt: 1,
          backend: 0,
        };
        const fiber = Effect.runFork(
          generate(request, () => {}).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, budget)),
        );
        for (let i = 0; i < ticks; i++) await tick();
        await Effect.runPromise(Fiber.interrupt(fiber));
        for (let i = 0; i < 20; i++) await tick();
        if (generating) left.push(`budget ${budget}, after ${ticks} turns`);
      }
    }
    expect(left).toEqual([]);
  });
});

describe("a job service whose images folder is full", () => {
  const { store } = useTestStore();
  let service: JobService | undefined;
  let sim: ForgeSimulator | undefined;
  afterEach(async () => {
    await service?.stop();
    await sim?.close();
  });

  it("starts no job while an image waits to be stored, and runs the rest once there is room", async () => {
    sim = await startForgeSimulator({ stepMs: 1, modelLoadMs: 1 });
    let room = true;
    const stored = new Set<string>();
    const images: ImageStore = {
      write: async (jobId) => {
        if (!room) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        stored.add(jobId);
      },
      read: async () => null,
      remove: async (jobId) => void stored.delete(jobId),
    };
    service = await JobService.start({
      store: store(),
      events: new EventHub(),
      backends: [makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10 })],
      jobTimeoutMs: 60_000,
      probeIntervalMs: 50,
      images,
    });
    const params = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 2 };
    // A job made and stored first, so that the server foretells the next ones.
    const warmUp = await service.submit({ prompt: "warm-up", ...params });
    await vi.waitFor(async () => expect((await service!.get(warmUp.id)).status).toBe("complete"), { timeout: 10_000 });
    room = false;
    const jobs: Job[] = [];
    for (const prompt of ["first", "second", "third"]) jobs.push(await service.submit({ prompt, ...params }));
    await vi.waitFor(() => expect(service!.scheduler.imagesBlocked).toBe(true), { timeout: 10_000 });
    // The first job's image waits. The second had the GPU already (an image is written once the next job's request
    // went out); the third has not started, however long the folder stays full.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sim.stats().log.map((run) => run.prompt)).toEqual(["warm-up", "first", "second"]);
    // `queue.status` says why: both generated jobs are processing (keeping their images), the GPU idles.
    const caller = queueRouter.createCaller({ user: { name: "local", admin: true }, service } as unknown as Context);
    await vi.waitFor(async () =>
      expect(await caller.status()).toMatchObject({
        queued: 1,
        processing: 2,
        paused: false,
        imagesNotStored: true,
        backends: [{ busy: false, jobId: null }],
      }),
    );
    // Nor is it foretold to: the line is held, as while an admin pauses it (the server foretells, though: the
    // running job's end).
    expect((await service.get(jobs[1]!.id)).estimatedFinishAt).not.toBeNull();
    expect(await service.get(jobs[2]!.id)).toMatchObject({ status: "queued", estimatedStartAt: null });
    room = true;
    await vi.waitFor(async () => expect((await service!.get(jobs[2]!.id)).status).toBe("complete"), {
      timeout: 15_000,
    });
    expect([...stored].sort()).toEqual([warmUp, ...jobs].map((job) => job.id).sort());
    expect(service.scheduler.imagesBlocked).toBe(false);
    expect(await caller.status()).toMatchObject({ queued: 0, processing: 0, imagesNotStored: false });
  }, 30_000);
});

describe("a job service whose backend blinks during a generation", () => {
  const { store } = useTestStore();
  let service: JobService | undefined;
  let sim: ForgeSimulator | undefined;
  afterEach(async () => {
    // The simulator first: it ends whatever it still runs, which a stop would otherwise wait for.
    await sim?.close();
    await service?.stop();
  });

  it("interrupts the generation Forge goes on with once it answers again, and gives the GPU back", async () => {
    sim = await startForgeSimulator({ port: 29121, stepMs: 5, modelLoadMs: 1 });
    // The interrupt sent as the connection dropped, failed (Forge could not be reached), is what the test waits for.
    let interruptFailed: () => void = () => {};
    const unsent = new Promise<void>((resolve) => (interruptFailed = resolve));
    const watchedFetch: typeof fetch = (input, init) => {
      const sending = fetch(input, init);
      if (String(input).endsWith("/sdapi/v1/interrupt")) sending.catch(() => interruptFailed());
      return sending;
    };
    service = await JobService.start({
      store: store(),
      events: new EventHub(),
      backends: [makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10, connectRetries: 0, fetch: watchedFetch })],
      jobTimeoutMs: 60_000,
      probeIntervalMs: 50,
      images: fillingUp(0).images,
    });
    const params = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 2 };
    sim.injectFault("hang", 1);
    const blinks = await service.submit({ prompt: "blinks", ...params });
    // Its progress shows: the client has seen it running on Forge.
    await vi.waitFor(async () => expect((await service!.get(blinks.id)).progress).toBeGreaterThan(0), {
      timeout: 10_000,
    });

    // Forge's port closes (its connections drop) while it goes on generating, and opens again.
    await sim.setOffline(true);
    await unsent;
    await sim.setOffline(false);

    // The generation nobody will receive is stopped, and the GPU goes to the next job.
    await vi.waitFor(() => expect(sim!.stats().log[0]?.outcome).toBe("interrupted"), { timeout: 10_000 });
    const next = await service.submit({ prompt: "next", ...params });
    await vi.waitFor(async () => expect((await service!.get(next.id)).status).toBe("complete"), { timeout: 10_000 });
  }, 30_000);
});
