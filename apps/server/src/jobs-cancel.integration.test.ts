import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, occupyGpu, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { settle, useTestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("jobs.cancel on $kind", (driver) => {
  const server = useTestServer(driver);

  it("cancels a queued job, which then never reaches the backend", async () => {
    const { trpc, simulator } = server();
    await occupyGpu(server());
    const prompt = uniquePrompt("never runs");
    const job = await trpc.jobs.submit.mutate({ prompt, ...quick });

    const cancelled = await trpc.jobs.cancel.mutate({ jobId: job.id });
    expect(cancelled).toMatchObject({
      id: job.id,
      status: "cancelled",
      queuePosition: 0,
      finishedAt: expect.any(String),
    });

    // Free the GPU and let a later job run: the cancelled one must not run in between.
    await settle(server());
    const after = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("runs"), ...quick });
    await waitForStatus(trpc, after.id, "complete");
    expect(simulator.stats().log.map((entry) => entry.prompt)).not.toContain(prompt);
    expect((await trpc.jobs.get.query({ jobId: job.id })).status).toBe("cancelled");
  });

  it("cancels a processing job and interrupts its generation on the backend", async () => {
    const { trpc, simulator } = server();
    const prompt = uniquePrompt("interrupted sim:hang");
    const job = await trpc.jobs.submit.mutate({ prompt });
    await waitForStatus(trpc, job.id, "processing");
    await waitFor(() => simulator.stats().active === 1, "the generation runs on the simulator");
    const interruptedBefore = simulator.stats().interrupted;

    const cancelled = await trpc.jobs.cancel.mutate({ jobId: job.id });
    expect(cancelled).toMatchObject({ status: "cancelled", imageUrl: null });
    await waitFor(() => simulator.stats().interrupted === interruptedBefore + 1, "the simulator records an interrupt");
    expect(simulator.stats().log.find((entry) => entry.prompt === prompt)?.outcome).toBe("interrupted");
    expect((await trpc.jobs.get.query({ jobId: job.id })).status).toBe("cancelled");
  });

  it("starts the next queued job once the running one is cancelled", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("next"), ...quick });
    await trpc.jobs.cancel.mutate({ jobId: blocker.id });
    await waitForStatus(trpc, next.id, "complete");
  });

  it("is CONFLICT (409) for a complete job, which stays complete", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("done"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const error = await trpcError(trpc.jobs.cancel.mutate({ jobId: job.id }));
    expect(codeOf(error)).toEqual({ code: "CONFLICT", httpStatus: 409 });
    expect((await trpc.jobs.get.query({ jobId: job.id })).status).toBe("complete");
  });

  it("is CONFLICT (409) for a job in error", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("sim:oom"), ...quick });
    await waitForStatus(trpc, job.id, "error");
    const error = await trpcError(trpc.jobs.cancel.mutate({ jobId: job.id }));
    expect(codeOf(error)).toEqual({ code: "CONFLICT", httpStatus: 409 });
  });

  it("is NOT_FOUND (404) for a job id that does not exist", async () => {
    const error = await trpcError(server().trpc.jobs.cancel.mutate({ jobId: randomUUID() }));
    expect(codeOf(error)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
  });
});
