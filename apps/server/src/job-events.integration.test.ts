import { afterEach, describe, expect, it } from "vitest";
import { wsClient } from "./testing/clients";
import type { AnvilClient } from "./testing/clients";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { eventsOf, expectEachStatusOnce, recordJobEvents } from "./testing/job-events";
import type { EventRecorder } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { pause, waitForJob, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("jobs.events on $kind", (driver) => {
  const server = useTestServer(driver);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const record = async (client: AnvilClient, input: Parameters<typeof recordJobEvents>[2]) => {
    const recorder = await recordJobEvents(server(), client, input);
    cleanups.push(() => recorder.stop());
    return recorder;
  };

  /**
   * Subscribes to a new conversation and waits until the subscription has sent its first snapshot (of a finished
   * job put there for the purpose): from then on it is live, so every later status change reaches it as it happens.
   */
  const liveConversation = async (s: TestServer, client: AnvilClient): Promise<[string, EventRecorder]> => {
    const primer = await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt("primer"), ...quick });
    await waitForStatus(s.trpc, primer.id, "complete");
    const recorder = await record(client, { conversationId: primer.conversationId });
    await recorder.untilStatus(primer.id, "complete");
    return [primer.conversationId, recorder];
  };

  const deliversEachStatusOnce = async (client: AnvilClient) => {
    const s = server();
    const [conversationId, recorder] = await liveConversation(s, client);
    const job = await s.trpc.jobs.submit.mutate({
      prompt: uniquePrompt("watched"),
      conversationId,
      ...quick,
      steps: 10,
    });
    await recorder.untilStatus(job.id, "complete");
    await pause(100);

    expectEachStatusOnce(recorder.events, job.id, ["queued", "processing", "complete"]);
    // Live, every status change arrives as its own event, with the id of its entry in the event log.
    expect(
      eventsOf(recorder.events, job.id)
        .filter((e) => /^\d+$/.test(e.id))
        .map((e) => e.job.status),
    ).toEqual(["queued", "processing", "complete"]);
    expect(eventsOf(recorder.events, job.id).at(-1)?.job).toMatchObject({
      status: "complete",
      progress: 100,
      imageUrl: `/images/${job.id}.png`,
    });
  };

  it("sends an unfiltered subscriber the progress of a job that was running before it subscribed", async () => {
    const s = server();
    // Ten times the simulator's step time for each of its 150 steps: it runs for seconds.
    const job = await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt("long sim:slow"), ...quick, steps: 150 });
    cleanups.push(async () => {
      await s.trpc.jobs.cancel.mutate({ jobId: job.id }).catch(() => undefined);
    });
    await waitForJob(s.trpc, job.id, (j) => j.status === "processing" && j.progress > 0, "the job runs");
    const recorder = await record(s.trpc, {});
    await recorder.until(
      (events) => eventsOf(events, job.id).some((e) => e.job.status === "processing" && e.job.progress > 0),
      "the running job's progress",
    );
  });

  describe("over Server-Sent Events (httpSubscriptionLink)", () => {
    it("delivers queued → processing → complete of a submitted job in order, each exactly once", async () => {
      await deliversEachStatusOnce(server().trpc);
    });
  });

  describe("over WebSocket (wsLink)", () => {
    it("delivers queued → processing → complete of a submitted job in order, each exactly once", async () => {
      const ws = wsClient(server().url);
      cleanups.push(() => ws.close());
      await deliversEachStatusOnce(ws.client);
    });
  });

  describe("queue positions", () => {
    it("counts the third waiting job's position down to 0 when it starts", async () => {
      const s = server();
      const blocker = await occupyGpu(s);
      // Each job ahead takes about 250 ms, well over the coalescing window, so every position is seen.
      const slow = { ...quick, steps: 50 };
      await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt("first"), ...slow });
      await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt("second"), ...slow });
      const third = await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt("third"), ...quick });
      const recorder = await record(s.trpc, { jobId: third.id });
      await recorder.until((events) => events.length > 0, "the current snapshot arrives");

      await s.trpc.jobs.cancel.mutate({ jobId: blocker.id });
      await recorder.untilStatus(third.id, "complete");

      const positions = recorder.events.filter((e) => e.job.status === "queued").map((e) => e.job.queuePosition);
      // A snapshot also comes when only its estimates moved (by a second or more): the same position again.
      expect(positions.filter((position, i) => position !== positions[i - 1])).toEqual([3, 2, 1]);
      expect(recorder.events.find((e) => e.job.status === "processing")?.job.queuePosition).toBe(0);
      expectEachStatusOnce(recorder.events, third.id, ["queued", "processing", "complete"]);
    });
  });

  describe("progress", () => {
    it("sends a running job's progress as it grows", async () => {
      const s = server();
      const [conversationId, recorder] = await liveConversation(s, s.trpc);
      // 150 steps of 5 ms: the backend is asked for progress every 500 ms, so at least one report in between.
      const job = await s.trpc.jobs.submit.mutate({
        prompt: uniquePrompt("progress"),
        conversationId,
        ...quick,
        steps: 150,
      });
      await recorder.untilStatus(job.id, "complete");

      const running = eventsOf(recorder.events, job.id).filter((e) => e.job.status === "processing");
      const progress = running.map((e) => e.job.progress);
      expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    });
  });
});
