import { Deferred, Effect } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import { modelOf } from "./affinity";
import type { JobScheduler, JobSchedulerOptions, GenerateProgram } from "./job-scheduler";
import type { DispatchDecision } from "./scheduler.machine";
import { testParams, testScheduler } from "./test-support";

const FLUX = "flux1-dev.safetensors [1a2b3c4d5e]";
const SDXL = "sdxl-base-1.0.safetensors [0f9e8d7c6b]";
const SCHNELL = "flux1-schnell.safetensors [5a5a5a5a5a]";
/** A checkpoint as backends report the model they have loaded (see `modelOf`). */
const key = (checkpoint: string) => modelOf({ checkpoint, modules: [] });

/** A backend whose generations end only when the test says so. */
const heldBackend = () => {
  const gates = new Map<string, Deferred.Deferred<void>>();
  const gate = (jobId: string) => {
    let deferred = gates.get(jobId);
    if (!deferred) {
      deferred = Effect.runSync(Deferred.make<void>());
      gates.set(jobId, deferred);
    }
    return deferred;
  };
  const generate: GenerateProgram = (request) =>
    Deferred.await(gate(request.jobId)).pipe(
      Effect.as(Effect.succeed({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 1 })),
    );
  return { generate, finish: (jobId: string) => Effect.runSync(Deferred.succeed(gate(jobId), undefined)) };
};

/** A scheduler on `backends` held backends, paused, with every dispatch decision recorded. */
const setUp = (options: Partial<JobSchedulerOptions<number>> & { backends: number }) => {
  const backend = heldBackend();
  const decisions: DispatchDecision[] = [];
  const { scheduler } = testScheduler(backend.generate, {
    ...options,
    held: true,
    onDispatch: (decision) => decisions.push(decision),
  });
  const submit = (jobId: string, owner: string, checkpoint: string | null) =>
    scheduler.submit({ jobId, prompt: jobId, params: { ...testParams, checkpoint }, attempt: 1, line: { owner } });
  /** Settles once `count` jobs were dispatched in all. */
  const dispatched = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (decisions.length < count) return false;
        resolve();
        return true;
      };
      if (check()) return;
      const subscription = scheduler.actor.subscribe(() => {
        if (check()) subscription.unsubscribe();
      });
    });
  return { scheduler, decisions, submit, dispatched, finish: backend.finish };
};

const started = (decisions: DispatchDecision[]) => decisions.map((d) => `${d.jobId}@${d.backend}`);

/** Every waiting job's position, in start order: must be 1..n. */
const positions = (scheduler: JobScheduler<number>) => scheduler.queued().map((jobId) => scheduler.position(jobId));

describe("JobScheduler model affinity", () => {
  let running: JobScheduler<number> | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it("lets a free backend take the turn owner's later job whose model it has loaded, and says why", async () => {
    const { scheduler, decisions, submit } = setUp({ backends: 2 });
    running = scheduler;
    scheduler.backendModel(0, key(FLUX));
    scheduler.backendModel(1, key(SDXL));
    submit("schnell", "ann", SCHNELL);
    submit("flux", "ann", FLUX);
    submit("sdxl", "ann", SDXL);
    scheduler.hold(false);

    expect(started(decisions)).toEqual(["flux@0", "sdxl@1"]);
    expect(decisions.map((d) => d.reason)).toEqual([
      "ann's turn: kept flux1-dev on GPU 0, passed over 1 job",
      "ann's turn: kept sdxl-base-1.0 on GPU 1, passed over 1 job",
    ]);
    expect(decisions.map((d) => [d.kind, d.switched, d.passedOver])).toEqual([
      ["affinity", false, 1],
      ["affinity", false, 1],
    ]);
    expect(scheduler.passedOver("schnell")).toBe(2);
    expect(scheduler.position("schnell")).toBe(1);
  });

  it("gives the first in line the free backend that has its model, or else loads it, and says which", async () => {
    const { scheduler, decisions, submit, dispatched, finish } = setUp({ backends: 2 });
    running = scheduler;
    scheduler.backendModel(0, key(FLUX));
    scheduler.backendModel(1, key(SDXL));
    submit("sdxl", "ann", SDXL);
    submit("any", "bob", null);
    submit("schnell", "cat", SCHNELL);
    scheduler.hold(false);
    expect(started(decisions)).toEqual(["sdxl@1", "any@0"]);
    finish("any");
    await dispatched(3);
    expect(started(decisions).at(-1)).toBe("schnell@0");
    expect(decisions.map((d) => d.reason)).toEqual([
      "ann's turn: never served yet; sdxl-base-1.0 already loaded on GPU 1",
      "bob's turn: never served yet",
      "cat's turn: no other user waiting; loads flux1-schnell on GPU 0",
    ]);
    expect(decisions.map((d) => d.switched)).toEqual([false, false, true]);
    expect(scheduler.snapshot().backends.map((b) => b.model)).toEqual([key(SCHNELL), key(SDXL)]);
  });

  it("never passes a job over more than the bound: then it goes next, and positions stay 1..n", async () => {
    const { scheduler, decisions, submit, dispatched, finish } = setUp({
      backends: 2,
      affinity: { limit: 32, bound: 2 },
    });
    running = scheduler;
    // One GPU of two answers: it has flux loaded, the first job wants schnell.
    scheduler.backendDown(1);
    scheduler.backendModel(0, key(FLUX));
    submit("schnell", "ann", SCHNELL);
    for (const id of ["f1", "f2", "f3"]) submit(id, "ann", FLUX);
    scheduler.hold(false);
    for (let n = 1; n <= 3; n++) {
      await dispatched(n);
      expect(positions(scheduler)).toEqual(Array.from({ length: 4 - n }, (_, i) => i + 1));
      finish(decisions[n - 1]?.jobId ?? "");
    }
    await dispatched(4);
    expect(started(decisions)).toEqual(["f1@0", "f2@0", "schnell@0", "f3@0"]);
    expect(decisions.map((d) => d.passedOver)).toEqual([1, 1, 0, 0]);
    expect(decisions.map((d) => d.switched)).toEqual([false, false, true, true]);
  });

  it("passes nothing over in fifo mode, nor with affinity off", async () => {
    for (const options of [{ mode: "fifo" as const }, { affinity: null }]) {
      const { scheduler, decisions, submit } = setUp({ backends: 2, ...options });
      scheduler.backendModel(0, key(FLUX));
      scheduler.backendModel(1, key(FLUX));
      submit("schnell", "ann", SCHNELL);
      submit("flux", "ann", FLUX);
      scheduler.hold(false);
      expect(started(decisions)).toEqual(["schnell@0", "flux@1"]);
      expect(decisions[0]?.reason).toBe(
        options.mode === "fifo"
          ? "fifo: first in line; loads flux1-schnell on GPU 0"
          : "ann's turn: no other user waiting; loads flux1-schnell on GPU 0",
      );
      await scheduler.stop();
    }
  });

  it("passes nothing over with one backend: its jobs start in the projected order", async () => {
    const { scheduler, decisions, submit } = setUp({ backends: 1 });
    running = scheduler;
    scheduler.backendModel(0, key(FLUX));
    submit("schnell", "ann", SCHNELL);
    submit("flux", "ann", FLUX);
    scheduler.hold(false);
    expect(started(decisions)).toEqual(["schnell@0"]);
    expect(scheduler.position("flux")).toBe(1);
  });

  it("runs a job that was running when its server went away ahead of every turn, and says why", async () => {
    const { scheduler, decisions } = setUp({ backends: 1 });
    running = scheduler;
    for (const id of ["ann-1", "ann-2"]) {
      scheduler.submit({
        jobId: id,
        prompt: id,
        params: testParams,
        attempt: 1,
        line: { owner: "ann", seq: 1 + Number(id.at(-1)) },
      });
    }
    // The new leader's recovery: carol's job ran on the last one, and waits again as attempt 2.
    scheduler.submit({
      jobId: "carol-1",
      prompt: "carol-1",
      params: testParams,
      attempt: 2,
      line: { owner: "carol", seq: 9 },
      again: true,
    });
    expect(["carol-1", "ann-1", "ann-2"].map((id) => scheduler.position(id))).toEqual([1, 2, 3]);
    scheduler.hold(false);
    expect(started(decisions)).toEqual(["carol-1@0"]);
    expect(decisions[0]).toMatchObject({ kind: "again" });
    expect(decisions[0]?.reason).toMatch(/runs again ahead of the line: its backend or its server went away/);
  });

  it("forgets a backend's model when a generation with a checkpoint fails there", async () => {
    const failing: GenerateProgram = () => Effect.fail(new Error("CUDA out of memory"));
    const { scheduler, submit } = testScheduler(failing, { backends: 2 });
    running = scheduler;
    scheduler.backendModel(0, key(FLUX));
    const ended = submit("x");
    // testScheduler's jobs need no model: they take GPU 0, whose model stays known.
    expect(await ended).toBe("error");
    expect(scheduler.snapshot().backends[0]?.model).toBe(key(FLUX));
    scheduler.submit({ jobId: "y", prompt: "y", params: { ...testParams, checkpoint: SDXL }, attempt: 1 });
    await new Promise<void>((resolve) => {
      const subscription = scheduler.actor.subscribe(() => {
        if (scheduler.status("y") !== undefined) return;
        subscription.unsubscribe();
        resolve();
      });
      if (scheduler.status("y") === undefined) resolve();
    });
    expect(scheduler.snapshot().backends[0]?.model).toBeNull();
  });
});
