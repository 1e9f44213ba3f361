import { createActor, fromPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import { imageJobMachine } from "./image-job.machine";
import type { GenerateActorInput } from "./image-job.machine";
import { BackendLost } from "./job";
import type { GenerateResult } from "./job";
import { schedulerMachine } from "./scheduler.machine";
import type { PlaceChange } from "./fair-line";
import type { DispatchDecision, JobTransition, SchedulerInput } from "./scheduler.machine";
import { testParams } from "./test-support";

/** One generation the stub backend holds until the test ends it. */
interface Run {
  input: GenerateActorInput;
  succeed: () => void;
  fail: (error: unknown) => void;
}

/**
 * The scheduler machine on its own: a stub `generate` that holds each generation until the test ends it, the
 * reported transitions and dispatch decisions in arrays, and a clock the test sets.
 */
function scheduler(input: Partial<SchedulerInput> = {}) {
  const clock = { now: 1_000 };
  const runs: Run[] = [];
  const transitions: JobTransition[] = [];
  const dispatches: DispatchDecision[] = [];
  const places: { jobId: string; places: PlaceChange[] }[] = [];
  const generate = fromPromise<GenerateResult, GenerateActorInput>(
    ({ input }) =>
      new Promise((resolve, reject) => {
        const succeed = () => resolve({ imageUrl: `/images/${input.request.jobId}.png`, usedSeed: 1 });
        runs.push({ input, succeed, fail: reject });
      }),
  );
  const machine = schedulerMachine.provide({
    actors: { imageJob: imageJobMachine.provide({ actors: { generate } }) },
    actions: {
      reportTransition: (_, transition) => void transitions.push(transition),
      reportDispatch: (_, decision) => void dispatches.push(decision),
      reportPlaces: (_, changed) => void places.push(changed),
    },
  });
  const actor = createActor(machine, {
    input: { backends: 1, healthy: true, now: () => clock.now, ...input },
  }).start();
  const submit = (jobId: string, owner = "local") =>
    actor.send({
      type: "scheduler.enqueue",
      job: { jobId, prompt: jobId, params: testParams, attempt: 1, line: { owner } },
    });
  /** The latest generation of `jobId`. */
  const run = (jobId: string): Run => {
    const found = runs.findLast((r) => r.input.request.jobId === jobId);
    if (!found) throw new Error(`${jobId} never started`);
    return found;
  };
  const transitionsOf = (jobId: string) =>
    transitions.flatMap((t) => (t.jobId === jobId ? [`${t.from}->${t.to}`] : []));
  /** Settles once the scheduler has reported `jobId`'s move to `to` (the generation ends in a promise). */
  const reported = (jobId: string, to: string) =>
    waitFor(actor, () => transitions.some((t) => t.jobId === jobId && t.to === to));
  const onBackends = () => actor.getSnapshot().context.backends.map((slot) => slot.jobId);
  const started = () => dispatches.map((d) => d.jobId);
  return { actor, clock, runs, run, transitions, transitionsOf, reported, submit, onBackends, started, places };
}

describe("schedulerMachine", () => {
  it("starts a job on the first backend that is up, at the clock's time", () => {
    const s = scheduler({ backends: 2, healthy: false });
    s.submit("a");
    expect(s.runs).toEqual([]);
    s.clock.now = 2_000;
    s.actor.send({ type: "backend.up", backend: 1 });
    expect(s.onBackends()).toEqual([null, "a"]);
    expect(s.run("a").input.request).toMatchObject({ jobId: "a", backend: 1, attempt: 1 });
    expect(s.actor.getSnapshot().context.backends[1]?.since).toBe(2_000);
    expect(s.transitions).toEqual([
      expect.objectContaining({
        jobId: "a",
        from: "queued",
        to: "processing",
        job: expect.objectContaining({ backend: 1, startedAt: 2_000 }),
      }),
    ]);
  });

  it("runs one job per backend and starts the next in line when one ends", async () => {
    const s = scheduler({ backends: 2 });
    for (const id of ["a", "b", "c"]) s.submit(id);
    expect(s.onBackends()).toEqual(["a", "b"]);
    expect(s.runs.map((r) => r.input.request.jobId)).toEqual(["a", "b"]);
    expect(s.actor.getSnapshot().context.queue.position("c")).toBe(1);
    s.run("b").succeed();
    await s.reported("b", "complete");
    expect(s.onBackends()).toEqual(["a", "c"]);
    expect(s.transitionsOf("b")).toEqual(["queued->processing", "processing->complete"]);
  });

  it("cancels a waiting job without ever starting it", async () => {
    const s = scheduler();
    s.submit("a");
    s.submit("b");
    s.clock.now = 3_000;
    s.actor.send({ type: "scheduler.cancel", jobId: "b" });
    expect(s.transitions.at(-1)).toMatchObject({
      jobId: "b",
      from: "queued",
      to: "cancelled",
      job: { status: "cancelled", finishedAt: 3_000 },
    });
    expect(s.actor.getSnapshot().context.seen.has("b")).toBe(false);
    s.run("a").succeed();
    await s.reported("a", "complete");
    expect(s.onBackends()).toEqual([null]);
    expect(s.started()).toEqual(["a"]);
    expect(s.actor.getSnapshot().children).toEqual({});
  });

  it("hands the backend to the next job once the job says it is generated, while its image is kept", async () => {
    const s = scheduler();
    s.submit("a");
    s.submit("b");
    s.run("a").input.onGenerated();
    expect(s.onBackends()).toEqual(["b"]);
    expect(s.actor.getSnapshot().context.seen.get("a")?.status).toBe("processing");
    s.run("a").succeed();
    await s.reported("a", "complete");
    // a's end does not free b's backend.
    expect(s.onBackends()).toEqual(["b"]);
  });

  it("runs a job whose backend went away again, ahead of the line, as its next attempt", async () => {
    const s = scheduler();
    s.submit("a");
    s.submit("b");
    s.run("a").fail(new BackendLost("Lost the connection to Forge"));
    await s.reported("a", "queued");
    expect(s.run("a").input.request.attempt).toBe(2);
    expect(s.onBackends()).toEqual(["a"]);
    expect(s.transitionsOf("a")).toEqual(["queued->processing", "processing->queued", "queued->processing"]);
    // Back in the line it has no backend; the change names the one it left (metrics close that GPU's busy time).
    const requeued = s.transitions.find((t) => t.jobId === "a" && t.to === "queued");
    expect(requeued).toMatchObject({ left: 0, job: { backend: null } });
  });

  it("starts no job while finished images cannot be stored, and goes on once they can", async () => {
    const s = scheduler();
    s.actor.send({ type: "images.blocked" });
    s.submit("a");
    expect(s.onBackends()).toEqual([null]);
    expect(s.started()).toEqual([]);
    s.actor.send({ type: "images.stored" });
    expect(s.onBackends()).toEqual(["a"]);
  });

  it("writes the places an owner's jobs bring (fifo) with the start that changed them, or alone after a move", () => {
    const s = scheduler({ mode: "fifo", healthy: false });
    s.submit("ann-1", "ann");
    s.submit("bob-1", "bob");
    s.submit("ann-2", "ann");
    s.actor.send({ type: "scheduler.move", jobId: "ann-2", move: -1 });
    s.actor.send({ type: "backend.up", backend: 0 });
    // ann-2 starts in ann-1's place (1): ann-1 brings ann-2's (3) from now on, written with that start.
    expect(s.transitions).toEqual([
      expect.objectContaining({ jobId: "ann-2", to: "processing", places: [{ jobId: "ann-1", place: 3 }] }),
    ]);
    expect(s.places).toEqual([]);
    // Ahead of all, ann-1 will bring its own seq if it joins ann's jobs again: no transition carries that.
    s.actor.send({ type: "scheduler.move", jobId: "ann-1", front: 1 });
    expect(s.places).toEqual([{ jobId: "ann-1", places: [{ jobId: "ann-1", place: null }] }]);
  });

  it("gives two owners turns about, whoever submitted first", async () => {
    const s = scheduler();
    for (const id of ["ann1", "ann2", "ann3"]) s.submit(id, "ann");
    for (const id of ["bob1", "bob2"]) s.submit(id, "bob");
    for (const id of ["ann1", "bob1", "ann2", "bob2"]) {
      s.run(id).succeed();
      await s.reported(id, "complete");
    }
    expect(s.started()).toEqual(["ann1", "bob1", "ann2", "bob2", "ann3"]);
  });
});
