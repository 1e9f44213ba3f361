import { Deferred, Effect } from "effect";
import { describe, expect, it } from "vitest";
import type { GenerateProgram } from "./job-scheduler";
import { testScheduler } from "./test-support";

/**
 * A backend that generates at once, and whose images are kept only when the test says so; `generating` lists the
 * jobs whose generation began, `kept` the jobs whose image was written.
 */
const slowKeeper = () => {
  const keep = Effect.runSync(Deferred.make<void>());
  const generating: string[] = [];
  const kept: string[] = [];
  const waiters: (() => void)[] = [];
  const generate: GenerateProgram = (request) =>
    Effect.sync(() => {
      generating.push(request.jobId);
      for (const wake of waiters.splice(0)) wake();
      return Deferred.await(keep).pipe(
        Effect.tap(() => Effect.sync(() => void kept.push(request.jobId))),
        Effect.as({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 1 }),
      );
    });
  /** Settles once `count` generations have begun. */
  const begun = (count: number) =>
    new Promise<void>(function wait(resolve) {
      if (generating.length >= count) resolve();
      else waiters.push(() => wait(resolve));
    });
  return { generate, generating, kept, begun, keepAll: () => Effect.runSync(Deferred.succeed(keep, undefined)) };
};

describe("JobScheduler hand-over", () => {
  it("gives the backend to the next job while the previous job's image is still being kept", async () => {
    const backend = slowKeeper();
    const { scheduler, submit, published } = testScheduler(backend.generate);
    const first = submit("first");
    const second = submit("second");

    await backend.begun(2);
    // The second generation began although the first job has not ended: its image is not kept yet.
    expect(backend.kept).toEqual([]);
    expect(scheduler.status("first")).toBe("processing");
    expect(scheduler.status("second")).toBe("processing");
    // Both still name GPU 0, but its work for them is done (this backend answers at once): their views say so.
    expect([scheduler.job("first")?.generated, scheduler.job("second")?.generated]).toEqual([true, true]);

    backend.keepAll();
    expect(await Promise.all([first, second])).toEqual(["complete", "complete"]);
    expect(backend.kept).toEqual(["first", "second"]);
    const firstTransitions = published.flatMap((e) =>
      e.kind === "transition" && e.jobId === "first" ? [`${e.from}->${e.to}`] : [],
    );
    expect(firstTransitions).toEqual(["queued->processing", "processing->complete"]);
    await scheduler.stop();
  });

  it("waits on a shutdown for an image still being kept, and interrupts nothing", async () => {
    const backend = slowKeeper();
    const { scheduler, submit } = testScheduler(backend.generate);
    const first = submit("first");
    await backend.begun(1);
    // Its backend is free again; its image is still being written.
    await new Promise<void>(function wait(resolve) {
      if (scheduler.snapshot().backends[0]?.jobId === null) resolve();
      else setImmediate(() => wait(resolve));
    });

    const stopping = scheduler.stop(60_000);
    backend.keepAll();
    expect(await stopping).toEqual([]);
    expect(await first).toBe("complete");
  });
});
