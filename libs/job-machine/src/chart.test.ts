import { createActor, fromPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import { chartOf } from "./chart";
import { imageJobMachine } from "./image-job.machine";
import { schedulerMachine } from "./scheduler.machine";
import { testParams } from "./test-support";

describe("chartOf", () => {
  it("lists exactly the image job's five states, the last three final", () => {
    const chart = chartOf(imageJobMachine);
    expect(chart.id).toBe("imageJob");
    expect(chart.initial).toBe("imageJob.queued");
    expect(chart.states).toEqual([
      { id: "imageJob.queued", key: "queued", final: false },
      { id: "imageJob.processing", key: "processing", final: false },
      { id: "imageJob.complete", key: "complete", final: true },
      { id: "imageJob.error", key: "error", final: true },
      { id: "imageJob.cancelled", key: "cancelled", final: true },
    ]);
  });

  it("lists exactly the image job's transitions, the guarded progress update as a targetless self-transition", () => {
    const edges = chartOf(imageJobMachine).transitions.map(({ source, target, event, targetless, guarded }) => ({
      edge: `${source.replace("imageJob.", "")} → ${target.replace("imageJob.", "")} on ${event}`,
      targetless,
      guarded,
    }));
    expect(edges).toEqual([
      { edge: "queued → processing on job.start", targetless: false, guarded: false },
      { edge: "queued → cancelled on job.cancel", targetless: false, guarded: false },
      { edge: "processing → processing on job.progress", targetless: true, guarded: true },
      { edge: "processing → processing on job.generated", targetless: true, guarded: true },
      // Its start written down late: counted from when its request went out (guarded: held up long enough).
      { edge: "processing → processing on job.sent", targetless: true, guarded: true },
      { edge: "processing → cancelled on job.cancel", targetless: false, guarded: false },
      { edge: "processing → complete on xstate.done.actor.0.imageJob.processing", targetless: false, guarded: false },
      // The backend went away: back to the line as the next attempt (guarded: attempts left).
      { edge: "processing → queued on xstate.error.actor.0.imageJob.processing", targetless: false, guarded: true },
      { edge: "processing → error on xstate.error.actor.0.imageJob.processing", targetless: false, guarded: false },
    ]);
  });

  it("shows the scheduler as one state whose every transition is a targetless self-transition", () => {
    const chart = chartOf(schedulerMachine);
    expect(chart).toMatchObject({ id: "scheduler", initial: "scheduler" });
    expect(chart.states).toEqual([{ id: "scheduler", key: "scheduler", final: false }]);
    expect(chart.transitions.every((t) => t.source === "scheduler" && t.target === "scheduler" && t.targetless)).toBe(
      true,
    );
    expect(chart.transitions.map((t) => t.event)).toEqual([
      "scheduler.enqueue",
      "scheduler.enqueueMany",
      "scheduler.dispatch",
      "scheduler.cancel",
      "scheduler.move",
      "scheduler.pause",
      "queue.hold",
      "queue.release",
      "images.blocked",
      "images.stored",
      "backend.up",
      "backend.down",
      "backend.model",
      "job.started",
      "job.progress",
      "job.sent",
      "job.generated",
      "job.requeued",
      "xstate.done.actor.*",
    ]);
  });

  it("names the exact events an inspected job actor receives when it completes or fails", async () => {
    const chartEvents = new Set(chartOf(imageJobMachine).transitions.map((t) => t.event));
    for (const outcome of ["complete", "error"] as const) {
      const received: string[] = [];
      const machine = imageJobMachine.provide({
        actors: {
          generate: fromPromise(async () => {
            if (outcome === "error") throw new Error("out of memory");
            return { imageUrl: "/x.png", usedSeed: 1 };
          }),
        },
        // Run without a parent: what it reports goes nowhere.
        actions: { report: () => {} },
      });
      const actor = createActor(machine, {
        input: { jobId: "j1", prompt: "a fox", params: testParams, attempt: 1 },
        inspect: (event) => {
          if (event.type === "@xstate.event" && event.actorRef.sessionId === event.rootId)
            received.push(event.event.type);
        },
      }).start();
      actor.send({ type: "job.start", backend: 0 });
      expect((await waitFor(actor, (s) => s.status === "done")).value).toBe(outcome);
      const settling = received.filter((type) => type.startsWith("xstate.done.") || type.startsWith("xstate.error."));
      expect(settling).toHaveLength(1);
      expect(chartEvents).toContain(settling[0]);
    }
  });
});
