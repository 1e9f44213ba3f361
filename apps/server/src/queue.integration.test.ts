import { describe, expect, it } from "vitest";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitFor, waitForJob, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("the queue on $kind", (driver) => {
  // Slower steps than elsewhere, so a running job is seen part-way through.
  const server = useTestServer(driver, { simulatorStepMs: 10 });

  describe("queue positions", () => {
    it("gives jobs queued behind a busy GPU positions 1..n in submission order, as the database derives them", async () => {
      const { trpc, anvil } = server();
      await occupyGpu(server());
      const jobs = [];
      for (let i = 0; i < 4; i++)
        jobs.push(await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`waiting ${i}`), ...quick }));

      expect(jobs.map((job) => job.queuePosition)).toEqual([1, 2, 3, 4]);
      const now = await Promise.all(jobs.map((job) => trpc.jobs.get.query({ jobId: job.id })));
      expect(now.map((job) => job.queuePosition)).toEqual([1, 2, 3, 4]);
      expect(await Promise.all(jobs.map((job) => anvil.store.queuePosition(job.id)))).toEqual([1, 2, 3, 4]);
      const queued = await trpc.jobs.list.query({ status: ["queued"] });
      expect(queued.items.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
    });

    it("starts queued jobs in submission order once the GPU is free", async () => {
      const { trpc, simulator } = server();
      const blocker = await occupyGpu(server());
      const jobs = [];
      for (let i = 0; i < 3; i++)
        jobs.push(await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`in order ${i}`), ...quick }));
      await trpc.jobs.cancel.mutate({ jobId: blocker.id });
      for (const job of jobs) await waitForStatus(trpc, job.id, "complete");

      const prompts = jobs.map((job) => job.prompt);
      const ran = simulator.stats().log.filter((entry) => prompts.includes(entry.prompt));
      expect(ran.map((entry) => entry.prompt)).toEqual(prompts);
      expect(simulator.stats().overlaps).toBe(0);
    });
  });

  describe("processing", () => {
    it("updates status, progress and image URL in the job and in its message while the job runs", async () => {
      const { trpc, anvil } = server();
      // 150 steps of 10 ms: long enough for several progress reports.
      const job = await trpc.jobs.submit.mutate({
        prompt: uniquePrompt("progress"),
        steps: 150,
        width: 64,
        height: 64,
      });

      const running = await waitForJob(
        trpc,
        job.id,
        (j) => j.status === "processing" && j.progress > 0 && j.progress < 100,
        "the job reports progress",
      );
      expect(running.startedAt).not.toBeNull();
      const liveMessage = (await trpc.messages.list.query({ conversationId: job.conversationId })).find(
        (m) => m.id === job.messageId,
      );
      expect(liveMessage?.metadata).toMatchObject({ status: "processing", imageUrl: null });
      expect(liveMessage?.metadata["progress"]).toBeGreaterThan(0);
      const storedJob = await anvil.store.getJob(job.id);
      expect(storedJob).toMatchObject({ status: "processing", attempts: 1 });
      expect(storedJob?.progress).toBeGreaterThan(0);
      const storedMessage = (await anvil.store.listMessages(job.conversationId)).find((m) => m.id === job.messageId);
      expect(storedMessage?.metadata).toMatchObject({ status: "processing" });
      expect(storedMessage?.metadata["progress"]).toBeGreaterThan(0);

      const done = await waitForStatus(trpc, job.id, "complete");
      const imageUrl = `/images/${job.id}.png`;
      expect(done).toMatchObject({ progress: 100, imageUrl, error: null, finishedAt: expect.any(String) });
      const finalMessage = (await trpc.messages.list.query({ conversationId: job.conversationId })).find(
        (m) => m.id === job.messageId,
      );
      expect(finalMessage?.metadata).toMatchObject({ jobId: job.id, status: "complete", progress: 100, imageUrl });
      expect(await anvil.store.getJob(job.id)).toMatchObject({ status: "complete", progress: 100, imageUrl });
      const storedFinal = (await anvil.store.listMessages(job.conversationId)).find((m) => m.id === job.messageId);
      expect(storedFinal?.metadata).toMatchObject({ status: "complete", progress: 100, imageUrl, error: null });
    });
  });

  describe("a failing generation", () => {
    it("ends the job in error with a readable message and starts the next job, which completes", async () => {
      const { trpc, anvil } = server();
      const failing = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("sim:oom a castle"), ...quick });
      const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("a castle"), ...quick });

      const failed = await waitForStatus(trpc, failing.id, "error");
      expect(failed.error).toMatch(/out of GPU memory/i);
      expect(failed).toMatchObject({ imageUrl: null, finishedAt: expect.any(String) });
      const message = (await anvil.store.listMessages(failing.conversationId)).find((m) => m.id === failing.messageId);
      expect(message?.metadata).toMatchObject({ status: "error", error: failed.error });

      const completed = await waitForStatus(trpc, next.id, "complete");
      expect(Date.parse(completed.startedAt!)).toBeGreaterThanOrEqual(Date.parse(failed.finishedAt!));
      await waitFor(async () => (await trpc.queue.status.query()).queued === 0, "the queue is empty");
    });
  });
});
