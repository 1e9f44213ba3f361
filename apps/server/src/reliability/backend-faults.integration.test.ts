import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { waitFor, waitForJob } from "../testing/wait";

/** [fault token, what the job's error must say, whether the backend generates (false: it answers at once)]. */
const faults: [string, RegExp, boolean][] = [
  ["sim:oom", /ran out of GPU memory: CUDA out of memory/, true],
  ["sim:500", /Forge failed \(HTTP 500\): RuntimeError: simulated failure/, true],
  ["sim:422", /Forge rejected the request: steps: Input should be less than or equal to 150/, false],
  ["sim:drop", /Lost the connection to Forge .* while it was working on the request/, true],
  ["sim:nonjson", /Forge answered with something that is not JSON/, false],
  ["sim:noimage", /Forge returned no image/, true],
  ["sim:hang", /timed out after .*; the backend was interrupted/, true],
];

// One driver is enough: the faults are the backend's, the database only records their outcome.
describe("a failing backend", () => {
  const server = useTestServer(testDrivers()[0]!, { jobTimeoutMs: 1_500, simulatorStepMs: 10 });

  it.each(faults)(
    "ends the job in error when the backend answers %s, says why in words, frees the GPU and runs the next job after it",
    async (token, message, generates) => {
      const { trpc, simulator } = server();
      const failing = await trpc.jobs.submit.mutate({
        prompt: uniquePrompt(`a lighthouse ${token}`),
        ...quick,
        steps: 10,
      });
      const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("the next one"), ...quick });

      const failed = await waitForJob(trpc, failing.id, (job) => job.status === "error", "the job fails");
      expect(failed.error).toMatch(message);
      // Written for a person: no stack trace, no object dump, no internals.
      expect(failed.error).not.toMatch(/\bat .+:\d+:\d+|\[object |undefined|ForgeError|Effect/);
      expect(failed).toMatchObject({ progress: expect.any(Number), imageUrl: null, usedSeed: null });
      expect(failed.progress).toBeLessThan(100);
      const { status, error } = (await trpc.messages.list.query({ conversationId: failing.conversationId })).find(
        (m) => m.id === failing.messageId,
      )!.metadata;
      expect({ status, error }).toEqual({ status: "error", error: failed.error });

      const done = await waitForJob(trpc, next.id, (job) => job.status === "complete", "the next job completes");
      // The next job started once the failed one had ended, and the failed one was not tried again. Forge's own 200
      // without an image frees the GPU as it arrives, like one with an image: the next job may start before the
      // failed one is written down, but only once its run on the backend had ended.
      if (token !== "sim:noimage")
        expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(failed.finishedAt!));
      const runs = simulator.stats().log.filter((entry) => [failing.prompt, next.prompt].includes(entry.prompt));
      expect(runs.map((run) => run.prompt)).toEqual(generates ? [failing.prompt, next.prompt] : [next.prompt]);
      if (generates) expect(runs[1]!.startedAt).toBeGreaterThanOrEqual(runs[0]!.endedAt!);
      expect(runs.at(-1)?.outcome).toBe("completed");
      await waitFor(async () => {
        const queue = await trpc.queue.status.query();
        return queue.processing === 0 && queue.backends.every((backend) => !backend.busy);
      }, "the GPU is free");
      // A dropped connection or a timeout leaves Forge generating: Anvil waited for it before sending the next job.
      expect(simulator.stats()).toMatchObject({ maxConcurrent: 1, overlaps: 0, maxQueued: 1 });
    },
  );

  it("interrupts the generation on the backend when a job times out", async () => {
    const { trpc, simulator } = server();
    const prompt = uniquePrompt("never returns sim:hang");
    const job = await trpc.jobs.submit.mutate({ prompt, ...quick });
    await waitForJob(trpc, job.id, (j) => j.status === "error", "the job times out");
    await waitFor(
      () => simulator.stats().log.find((entry) => entry.prompt === prompt)?.outcome === "interrupted",
      "the backend was interrupted",
    );
    expect(simulator.stats().active).toBe(0);
  });
});
