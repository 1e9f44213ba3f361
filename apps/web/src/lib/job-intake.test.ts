import { describe, expect, it, vi } from "vitest";
import { createJobIntake, unlistedConversationWatch } from "./job-intake";
import { createJobStore } from "./job-store";
import { makeJob, mountedForTest, serverAnswering, sseStream } from "./test-support";
import type { JobStreamEvent } from "./types";

describe("unlistedConversationWatch", () => {
  it("reads the list again once for a job of the user's in a conversation it does not hold", () => {
    const reload = vi.fn();
    const listed = new Set(["c1"]);
    const note = unlistedConversationWatch({
      listed: (id) => listed.has(id),
      mine: (job) => job.owner === "alice",
      reload,
    });
    note(makeJob({ conversationId: "c1", owner: "alice" }));
    note(makeJob({ conversationId: "c9", owner: "bob" }));
    expect(reload).not.toHaveBeenCalled();
    note(makeJob({ conversationId: "c2", owner: "alice" }));
    note(makeJob({ conversationId: "c2", owner: "alice", status: "processing", progress: 30 }));
    expect(reload).toHaveBeenCalledTimes(1);
    note(makeJob({ conversationId: "c3", owner: "alice" }));
    expect(reload).toHaveBeenCalledTimes(2);
  });
});

/** The job intake of a page with conversation c1 open, which it streams. */
const mountIntake = () =>
  mountedForTest(() =>
    createJobIntake({
      store: createJobStore(),
      openId: () => "c1",
      listed: () => true,
      reloadList: async () => undefined,
      onJobEvent: () => undefined,
      readOpenWaiting: () => undefined,
      onHistoryGone: () => undefined,
      onBackendUp: () => undefined,
    }),
  );

describe("createJobIntake", () => {
  it("asks who the page is when its stream fails, and again once it is live again", async () => {
    vi.useFakeTimers();
    const streams: ReturnType<typeof sseStream<JobStreamEvent>>[] = [];
    const asked = serverAnswering(
      () => undefined,
      () => {
        const stream = sseStream<JobStreamEvent>();
        streams.push(stream);
        return stream.response;
      },
    );
    mountIntake();
    await vi.advanceTimersByTimeAsync(10);
    const statusChecks = () => asked.filter((path) => path === "/auth/status").length;
    expect(statusChecks()).toBe(0);
    // The server ended the stream (the user's rights changed, say): the page asks at once.
    streams[0]!.fail();
    await vi.advanceTimersByTimeAsync(10);
    expect(statusChecks()).toBe(1);
    // A change made while it reopens is heard of once it is live again.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(streams).toHaveLength(2);
    expect(statusChecks()).toBe(2);
  });

  it("reads the queue panel's counts again at a line event that changed the line, not at one of timing alone", async () => {
    vi.useFakeTimers();
    let stream: ReturnType<typeof sseStream<JobStreamEvent>> | null = null;
    const asked = serverAnswering(
      () => undefined,
      () => (stream = sseStream<JobStreamEvent>()).response,
    );
    mountIntake();
    await vi.advanceTimersByTimeAsync(10);
    expect(stream).not.toBeNull();
    const statusReads = () => asked.filter((procedure) => procedure === "queue.status").length;
    const before = statusReads();
    // Another user's submission reaches this page as one more job in the line, long before the next 3 s poll.
    stream!.send({ kind: "line", from: 0, version: 1, changes: [{ op: "insert", at: 1, count: 1 }], timing: null });
    await vi.advanceTimersByTimeAsync(10);
    expect(statusReads()).toBe(before + 1);
    // New timing alone changes no count.
    stream!.send({ kind: "line", from: 1, version: 1, changes: [], timing: null });
    await vi.advanceTimersByTimeAsync(10);
    expect(statusReads()).toBe(before + 1);
  });
});
