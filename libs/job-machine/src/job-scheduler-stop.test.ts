import { Deferred, Effect } from "effect";
import { describe, expect, it } from "vitest";
import type { GenerateProgram } from "./job-scheduler";
import { testScheduler } from "./test-support";

/** A backend whose generations end only when the test says so; `started` settles once a job holds the GPU. */
const heldBackend = () => {
  const release = Effect.runSync(Deferred.make<void>());
  const started: string[] = [];
  const interrupted: string[] = [];
  let onStart: () => void = () => {};
  const firstStart = new Promise<void>((resolve) => (onStart = resolve));
  const generate: GenerateProgram = (request) =>
    Effect.sync(() => {
      started.push(request.jobId);
      onStart();
    }).pipe(
      Effect.andThen(Deferred.await(release)),
      Effect.as(Effect.succeed({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 1 })),
      Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(request.jobId))),
    );
  return {
    generate,
    started,
    interrupted,
    firstStart,
    finish: () => Effect.runSync(Deferred.succeed(release, undefined)),
  };
};

describe("JobScheduler.stop", () => {
  it("lets the running generation finish within the grace and starts no other job", async () => {
    const backend = heldBackend();
    const { scheduler, submit } = testScheduler(backend.generate);
    const first = submit("first");
    void submit("second");
    await backend.firstStart;

    const stopping = scheduler.stop(60_000);
    backend.finish();
    expect(await stopping).toEqual([]);
    expect(await first).toBe("complete");
    expect(backend.started).toEqual(["first"]);
    expect(backend.interrupted).toEqual([]);
  });

  it("interrupts what still runs once the grace is over and names it", async () => {
    const backend = heldBackend();
    const { scheduler, submit, published } = testScheduler(backend.generate);
    void submit("stuck");
    await backend.firstStart;

    expect(await scheduler.stop(20)).toEqual(["stuck"]);
    expect(backend.interrupted).toEqual(["stuck"]);
    // Its job stays as last recorded, to run again at the next start.
    const transitions = published.flatMap((e) => (e.kind === "transition" ? [`${e.from}->${e.to}`] : []));
    expect(transitions).toEqual(["queued->processing"]);
  });

  it("interrupts at once without a grace", async () => {
    const backend = heldBackend();
    const { scheduler, submit } = testScheduler(backend.generate);
    void submit("running");
    await backend.firstStart;
    expect(await scheduler.stop()).toEqual(["running"]);
    expect(backend.interrupted).toEqual(["running"]);
  });
});
