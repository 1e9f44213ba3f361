import { createActor, fromPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import { HELD_START_MS, imageJobMachine } from "./image-job.machine";
import type { GenerateActorInput, ImageJobReport } from "./image-job.machine";
import { testParams } from "./test-support";

const input = { jobId: "j1", prompt: "a fox", params: testParams, attempt: 1 };

/** What the job told its parent; a job actor run alone has none, so its `report` lands here. */
let reports: ImageJobReport[] = [];

const withBackend = (
  run: (input: GenerateActorInput, signal: AbortSignal) => Promise<{ imageUrl: string; usedSeed: number }>,
) => {
  reports = [];
  return imageJobMachine.provide({
    actors: { generate: fromPromise(({ input, signal }) => run(input, signal)) },
    actions: { report: (_, report) => void reports.push(report) },
  });
};

describe("imageJobMachine", () => {
  it("goes queued → processing → complete with the image and 100% progress", async () => {
    const actor = createActor(
      withBackend(async () => ({ imageUrl: "/images/j1.png", usedSeed: 7 })),
      { input },
    ).start();
    expect(actor.getSnapshot().value).toBe("queued");
    actor.send({ type: "job.start", backend: 0 });
    const done = await waitFor(actor, (s) => s.status === "done");
    expect(done.value).toBe("complete");
    expect(done.context).toMatchObject({
      progress: 100,
      result: { imageUrl: "/images/j1.png", usedSeed: 7 },
      backend: 0,
    });
    expect(done.output?.status).toBe("complete");
    // Its end is its output (`xstate.done.actor.j1` for a parent), not a report.
    expect(reports.map((report) => report.type)).toEqual(["job.started"]);
  });

  it("counts its start from when its request went out when writing the start down was held up, not otherwise", async () => {
    for (const [writeMs, startedAt] of [
      [HELD_START_MS + 500, 10_000 + HELD_START_MS + 500],
      [5, 10_000],
    ] as const) {
      let clock = 10_000;
      const actor = createActor(
        withBackend(async (generate) => {
          // The start is written down meanwhile (the database away for `writeMs`), then the request goes out.
          await Promise.resolve();
          clock += writeMs;
          generate.onSent?.();
          clock += 2_000;
          return { imageUrl: "/images/j1.png", usedSeed: 7 };
        }),
        { input: { ...input, now: () => clock } },
      ).start();
      actor.send({ type: "job.start", backend: 0 });
      const done = await waitFor(actor, (s) => s.status === "done");
      expect(done.output).toMatchObject({ startedAt, finishedAt: clock });
    }
  });

  it("ends in error with the backend's message when the generation fails", async () => {
    const actor = createActor(
      withBackend(async () => {
        throw new Error("Forge ran out of GPU memory");
      }),
      { input },
    ).start();
    actor.send({ type: "job.start", backend: 0 });
    const done = await waitFor(actor, (s) => s.status === "done");
    expect(done.value).toBe("error");
    expect(done.context.error).toBe("Forge ran out of GPU memory");
  });

  it("keeps progress monotone and below 100 while the image is not there", async () => {
    let finish: () => void = () => {};
    const actor = createActor(
      withBackend(
        (generate) =>
          new Promise((resolve) => {
            generate.onProgress(40);
            generate.onProgress(20);
            generate.onProgress(100);
            finish = () => resolve({ imageUrl: "/x.png", usedSeed: 1 });
          }),
      ),
      { input },
    ).start();
    actor.send({ type: "job.start", backend: 0 });
    expect(actor.getSnapshot().context.progress).toBe(99);
    // Only what changed the job's progress is reported, as the job keeps it.
    expect(reports.flatMap((report) => (report.type === "job.progress" ? [report.progress] : []))).toEqual([40, 99]);
    finish();
    await waitFor(actor, (s) => s.status === "done");
  });

  it("aborts the generation when a processing job is cancelled", async () => {
    let aborted = false;
    const actor = createActor(
      withBackend(
        (_, signal) =>
          new Promise(() => {
            signal.addEventListener("abort", () => (aborted = true));
          }),
      ),
      { input },
    ).start();
    actor.send({ type: "job.start", backend: 0 });
    actor.send({ type: "job.cancel" });
    expect(actor.getSnapshot().value).toBe("cancelled");
    expect(aborted).toBe(true);
  });

  it("ignores start and cancel once final", async () => {
    const actor = createActor(imageJobMachine, { input }).start();
    actor.send({ type: "job.cancel" });
    actor.send({ type: "job.start", backend: 0 });
    expect(actor.getSnapshot().value).toBe("cancelled");
  });
});
