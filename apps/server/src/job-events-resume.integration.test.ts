import { afterEach, describe, expect, it } from "vitest";
import { wsClient } from "./testing/clients";
import type { AnvilClient } from "./testing/clients";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { recordJobEvents } from "./testing/job-events";
import type { JobEventsInput } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { pause, waitFor, waitForJob, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("jobs.events resumed with lastEventId on $kind", (driver) => {
  const server = useTestServer(driver);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const record = async (client: AnvilClient, input: JobEventsInput, attached = true) => {
    const recorder = await recordJobEvents(server(), client, input, { attached });
    cleanups.push(() => recorder.stop());
    return recorder;
  };

  it("first sends every status change missed while away, in order, and none it already had", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    const { id: conversationId } = await trpc.conversations.create.mutate({});
    // 150 steps of 5 ms: the first job is still running when the subscriber leaves.
    const first = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("first"),
      conversationId,
      ...quick,
      steps: 150,
    });
    const before = await record(trpc, { conversationId });
    await before.untilStatus(first.id, "queued");
    await trpc.jobs.cancel.mutate({ jobId: blocker.id });
    await before.untilStatus(first.id, "processing");
    before.stop();
    const lastSeen = before.events.at(-1)!.id;
    expect((await trpc.jobs.get.query({ jobId: first.id })).status).toBe("processing");

    // Away: the first job finishes, a second is submitted and runs to the end.
    await waitForStatus(trpc, first.id, "complete");
    const second = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("second"), conversationId, ...quick });
    await waitForStatus(trpc, second.id, "complete");

    const after = await record(trpc, { conversationId, lastEventId: lastSeen });
    await after.untilStatus(second.id, "complete");
    await pause(100);
    const name = (id: string) => (id === first.id ? "first" : id === second.id ? "second" : id);
    expect(after.events.map((e) => [name(e.job.id), e.job.status])).toEqual([
      ["first", "complete"],
      ["second", "queued"],
      ["second", "processing"],
      ["second", "complete"],
    ]);
    const ids = after.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(Math.min(...ids)).toBeGreaterThan(Number.parseInt(lastSeen, 10));
  });

  it("then goes on with live events after the missed ones", async () => {
    const { trpc } = server();
    const earlier = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("earlier"), ...quick });
    const { conversationId } = earlier;
    await waitForStatus(trpc, earlier.id, "complete");
    const [queuedEvent] = await server().anvil.store.eventsAfter(0, { jobId: earlier.id }, 1);

    const recorder = await record(trpc, { conversationId, lastEventId: String(queuedEvent!.id) });
    await recorder.untilStatus(earlier.id, "complete");
    const later = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("later"), conversationId, ...quick });
    await recorder.untilStatus(later.id, "complete");
    await pause(100);
    expect(recorder.events.filter((e) => /^\d+$/.test(e.id)).map((e) => e.job.status)).toEqual([
      "processing",
      "complete",
      "queued",
      "processing",
      "complete",
    ]);
  });

  it("honours the Last-Event-ID header of a reconnecting EventSource", async () => {
    const { trpc, url } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("header"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const [queuedEvent] = await server().anvil.store.eventsAfter(0, { jobId: job.id }, 1);

    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const response = await fetch(
      `${url}/trpc/jobs.events?input=${encodeURIComponent(JSON.stringify({ jobId: job.id }))}`,
      {
        headers: { "last-event-id": String(queuedEvent!.id) },
        signal: abort.signal,
      },
    );
    const statuses: string[] = [];
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      // Each tracked event is "data: <the job as JSON>" followed by "id: <id>".
      const jobs = [...text.matchAll(/^data: (.*)\nid: /gm)].map((m) => JSON.parse(m[1]!) as { status: string });
      if (jobs.some((j) => j.status === "complete")) {
        statuses.push(...jobs.map((j) => j.status));
        break;
      }
    }
    expect(statuses).toEqual(["processing", "complete"]);
  });

  describe.each([
    [
      "Server-Sent Events",
      (): { client: AnvilClient; close(): Promise<void> | void } => ({ client: server().trpc, close: () => {} }),
    ],
    ["WebSocket", () => wsClient(server().url)],
  ])("over %s", (_, connect) => {
    it("is PRECONDITION_FAILED, asking to reload, when lastEventId is ahead of the history", async () => {
      const { client, close } = connect();
      cleanups.push(close);
      const recorder = await record(client, { lastEventId: "999999999" }, false);
      await waitFor(() => recorder.error() !== null, "the subscription fails");
      expect(recorder.error()?.data?.code).toBe("PRECONDITION_FAILED");
      expect(recorder.error()?.message).toMatch(/reload/i);
      expect(recorder.events).toEqual([]);
    });
  });

  it("is PRECONDITION_FAILED when the events after lastEventId are no longer kept", async () => {
    const { trpc, anvil } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("pruned"), ...quick });
    const done = await waitForJob(trpc, job.id, (j) => j.status === "complete");
    const latest = (await anvil.store.latestEventId())!;
    const [oldest] = await anvil.store.eventsAfter(0, {}, 1);
    await anvil.store.pruneEvents(latest);

    const recorder = await record(trpc, { lastEventId: String(oldest!.id) }, false);
    await waitFor(() => recorder.error() !== null, "the subscription fails");
    expect(recorder.error()?.data?.code).toBe("PRECONDITION_FAILED");
    expect(recorder.error()?.message).toMatch(/reload/i);
    expect(done.status).toBe("complete");
  });
});
