import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import type { AnvilClient } from "./testing/clients";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { derivedJobs, eventsOf, recordJobEvents } from "./testing/job-events";
import type { EventRecorder } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitForStatus } from "./testing/wait";

/** What `jobs.get` says of each job: status and position. */
const read = (trpc: AnvilClient, jobs: readonly Job[]) =>
  Promise.all(
    jobs.map(async (job) => {
      const { status, queuePosition } = await trpc.jobs.get.query({ jobId: job.id });
      return [status, queuePosition];
    }),
  );

/** What a subscriber heard of one job, in order: status and position of each event. */
const heard = (recorder: EventRecorder, job: Job) =>
  eventsOf(recorder.events, job.id).map((event) => [event.job.status, event.job.queuePosition]);

/**
 * Waits until what the subscriber holds of each job says `expected` (status and position): the latest snapshot, with
 * the line events after it applied (a subscription without jobId gets positions as line events).
 */
const untilLatest = (recorder: EventRecorder, expected: [Job, string, number][]) =>
  recorder.until(
    () =>
      expected.every(([job, status, position]) => {
        const held = derivedJobs(recorder).get(job.id);
        return held?.status === status && (status !== "queued" || held.queuePosition === position);
      }),
    `the subscriber hears ${expected.map(([, status, position]) => `${status}#${position}`).join(", ")}`,
  );

describe.each(testDrivers())("the line behind a cancelled job on $kind", (driver) => {
  const server = useTestServer(driver);

  it("moves the jobs behind a cancelled queued job up one place, in jobs.get and in jobs.events", async () => {
    const { trpc } = server();
    await occupyGpu(server());
    // A fresh subscription without a filter starts with live events: it is there before the jobs are submitted.
    const everything = await recordJobEvents(server(), trpc, {});
    const waiting: Job[] = [];
    for (const label of ["a", "b", "c", "d"]) {
      waiting.push(await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`waits ${label}`), ...quick }));
    }
    const [a, b, c, d] = waiting as [Job, Job, Job, Job];
    const last = await recordJobEvents(server(), trpc, { jobId: d.id });
    try {
      await untilLatest(everything, [
        [a, "queued", 1],
        [b, "queued", 2],
        [c, "queued", 3],
        [d, "queued", 4],
      ]);
      await untilLatest(last, [[d, "queued", 4]]);
      expect(await read(trpc, waiting)).toEqual([
        ["queued", 1],
        ["queued", 2],
        ["queued", 3],
        ["queued", 4],
      ]);

      await trpc.jobs.cancel.mutate({ jobId: b.id });

      expect(await read(trpc, waiting)).toEqual([
        ["queued", 1],
        ["cancelled", 0],
        ["queued", 2],
        ["queued", 3],
      ]);
      await untilLatest(everything, [
        [b, "cancelled", 0],
        [c, "queued", 2],
        [d, "queued", 3],
      ]);
      await untilLatest(last, [[d, "queued", 3]]);
      // Each status change heard once; positions moved by one line event, not by a snapshot per waiting job.
      expect(heard(everything, a)).toEqual([["queued", 1]]);
      expect(heard(everything, b)).toEqual([
        ["queued", 2],
        ["cancelled", 0],
      ]);
      expect(heard(everything, c)).toEqual([["queued", 3]]);
      expect(everything.lines.at(-1)?.line.changes).toEqual([{ op: "remove", at: 2, count: 1 }]);
      expect(heard(last, d)).toEqual([
        ["queued", 4],
        ["queued", 3],
      ]);
    } finally {
      everything.stop();
      last.stop();
    }
  });

  it("moves every waiting job up when the running job is cancelled and the first one starts", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    // The first waiting job holds the GPU in its turn too, so the line stays still to be read.
    const everything = await recordJobEvents(server(), trpc, {});
    const first = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("first sim:hang") });
    const second = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("second"), ...quick });
    const third = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("third"), ...quick });
    try {
      await untilLatest(everything, [
        [first, "queued", 1],
        [second, "queued", 2],
        [third, "queued", 3],
      ]);

      await trpc.jobs.cancel.mutate({ jobId: blocker.id });
      await waitForStatus(trpc, first.id, "processing");

      expect(await read(trpc, [blocker, first, second, third])).toEqual([
        ["cancelled", 0],
        ["processing", 0],
        ["queued", 1],
        ["queued", 2],
      ]);
      await untilLatest(everything, [
        [blocker, "cancelled", 0],
        [first, "processing", 0],
        [second, "queued", 1],
        [third, "queued", 2],
      ]);
      expect(heard(everything, second)).toEqual([["queued", 2]]);
      expect(heard(everything, third)).toEqual([["queued", 3]]);
    } finally {
      everything.stop();
    }
  });
});
