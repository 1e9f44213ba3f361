import { createEffect, createRoot } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createChatState } from "./chat-state";
import { makeJob, ok, serverAnswering, sseStream } from "./test-support";
import { checkAuth } from "./auth";
import type { Conversation, JobStreamEvent } from "./types";

const conversation = (id: string, title: string, owner = "local"): Conversation => ({
  id,
  title,
  createdAt: "2026-12-01T10:00:00.000Z",
  owner,
});

const NOT_FOUND = { error: { message: "Not found", code: -32004, data: { code: "NOT_FOUND", httpStatus: 404 } } };

/**
 * A server whose `jobs.retry` gets no answer while `failing` (the network, or the server going away: the retry may or
 * may not have been made), then answers with job `madeId`; `sent` holds each retry's job and idempotency key.
 */
const retriesAnswering = (madeId: string) => {
  const server = { failing: true, sent: [] as { jobId: string; key: string }[] };
  serverAnswering(
    (procedure) => {
      if (procedure !== "jobs.retry") return undefined;
      if (server.failing) return Promise.reject(new TypeError("Failed to fetch"));
      return ok(makeJob({ id: madeId, conversationId: "c1" }));
    },
    undefined,
    (procedures, body) => {
      if (!procedures.includes("jobs.retry")) return;
      const field = (name: string) => new RegExp(`"${name}":"([^"]+)"`).exec(body)?.[1] ?? "";
      server.sent.push({ jobId: field("jobId"), key: field("idempotencyKey") });
    },
  );
  return server;
};

/** A chat state with conversation `c1` open, once its first reads are answered. */
const openOn = async (listPollMs?: number) => {
  history.replaceState(null, "", "/?c=c1");
  let dispose = () => undefined as void;
  const chat = createRoot((d) => {
    dispose = d;
    return createChatState(listPollMs === undefined ? {} : { listPollMs });
  });
  await vi.advanceTimersByTimeAsync(10);
  return { chat, dispose };
};

describe("createChatState", () => {
  let dispose = () => undefined as void;
  afterEach(() => {
    dispose();
    vi.useRealTimers();
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("leaves the open conversation when a job action does not find its job and the conversation is gone too", async () => {
    vi.useFakeTimers();
    let deleted = false;
    serverAnswering((procedure) => {
      if (procedure === "conversations.list") return ok(deleted ? [] : [conversation("c1", "Foxes")]);
      if (procedure === "messages.list" && deleted) return NOT_FOUND;
      if (procedure === "jobs.retry") return NOT_FOUND;
      return undefined;
    });
    const open = await openOn();
    dispose = open.dispose;
    expect(open.chat.selectedId()).toBe("c1");
    deleted = true;
    const retried = open.chat.retry(makeJob({ conversationId: "c1", status: "cancelled" }));
    await Promise.all([
      expect(retried).rejects.toThrow("This job is gone: it was removed, or it is not yours."),
      vi.advanceTimersByTimeAsync(10),
    ]);
    expect(open.chat.selectedId()).toBeNull();
    expect(open.chat.conversations()).toEqual([]);
  });

  it("reads the lists of choices again once a backend answers, at each poll until they load", async () => {
    vi.useFakeTimers();
    const UNAVAILABLE = {
      error: {
        message: "No backend answers, so the samplers are not known yet; try again shortly",
        code: -32603,
        data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
      },
    };
    const server = { up: false, unavailableAnswers: Infinity };
    const backend = { url: "http://gpu-1:7860", busy: false, stopping: false, jobId: null };
    const asked = serverAnswering((procedure) => {
      if (procedure === "queue.status") return ok({ paused: false, backends: [{ ...backend, healthy: server.up }] });
      if (procedure !== "samplers.list") return undefined;
      return server.unavailableAnswers-- > 0 ? UNAVAILABLE : ok([{ name: "Euler", aliases: [] }]);
    });
    const open = await openOn();
    dispose = open.dispose;
    const samplers = () => open.chat.catalog.samplers;
    expect(samplers()).toEqual({
      error:
        "The samplers could not be loaded: No backend answers, so the samplers are not known yet; try again shortly",
    });
    // No backend answers: the page waits for one instead of asking at every poll.
    await vi.advanceTimersByTimeAsync(3_000);
    expect(samplers().items).toBeUndefined();
    expect(asked.filter((procedure) => procedure === "samplers.list")).toHaveLength(1);
    // One comes up, but the server's catalog has not asked it yet: unknown still at the first poll after, not given up.
    server.up = true;
    server.unavailableAnswers = 1;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(samplers().items).toBeUndefined();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(samplers().items).toEqual([{ name: "Euler", aliases: [] }]);
    expect(samplers().error).toBeUndefined();
  });

  it("sends Retry pressed again after no answer with the same key, and a later Retry with a new one", async () => {
    vi.useFakeTimers();
    const server = retriesAnswering("j2");
    const open = await openOn();
    dispose = open.dispose;
    const failed = makeJob({ id: "j1", conversationId: "c1", status: "error" });
    const settle = async <T>(action: Promise<T>) => (await Promise.all([action, vi.advanceTimersByTimeAsync(10)]))[0];
    await Promise.all([expect(open.chat.retry(failed)).rejects.toThrow(), vi.advanceTimersByTimeAsync(10)]);
    server.failing = false;
    expect((await settle(open.chat.retry(failed))).id).toBe("j2");
    await settle(open.chat.retry(failed));
    const keys = server.sent.map((sent) => sent.key);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toEqual(expect.any(String));
    expect(keys[0]).not.toBe("");
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it("sends Retry of one card pressed again after no answer with its first key, though another card's came between", async () => {
    vi.useFakeTimers();
    const server = retriesAnswering("j9");
    const open = await openOn();
    dispose = open.dispose;
    const [a, b] = ["j1", "j2"].map((id) => makeJob({ id, conversationId: "c1", status: "error" }));
    // The network is down: Retry on one card, then on another; neither is answered (either may have been made).
    for (const job of [a!, b!]) {
      await Promise.all([expect(open.chat.retry(job)).rejects.toThrow(), vi.advanceTimersByTimeAsync(10)]);
    }
    server.failing = false;
    await Promise.all([open.chat.retry(a!), vi.advanceTimersByTimeAsync(10)]);
    const keys = server.sent;
    expect(keys.map((sent) => sent.jobId)).toEqual(["j1", "j2", "j1"]);
    expect(keys[2]!.key).toBe(keys[0]!.key);
  });

  it("opens the newest conversation of the user's own, not another user's from an admin's list", async () => {
    await checkAuth(async () =>
      Response.json({ required: true, authorized: true, user: { name: "admin", admin: true } }),
    );
    vi.useFakeTimers();
    serverAnswering((procedure) =>
      procedure === "conversations.list"
        ? ok([conversation("c9", "Ann's newest", "ann"), conversation("c2", "The admin's", "admin")])
        : undefined,
    );
    history.replaceState(null, "", "/");
    const chat = createRoot((d) => {
      dispose = d;
      return createChatState({});
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(chat.selectedId()).toBe("c2");
  });

  it("goes back to the conversation chosen before on Back, and forward again, where Back left Anvil", async () => {
    vi.useFakeTimers();
    serverAnswering((procedure) =>
      procedure === "conversations.list" ? ok([conversation("c2", "Owls"), conversation("c1", "Foxes")]) : undefined,
    );
    const start = history.length;
    const open = await openOn();
    dispose = open.dispose;

    open.chat.select("c2", true);
    open.chat.startNew();
    await vi.advanceTimersByTimeAsync(10);
    expect(history.length).toBe(start + 2);
    for (const [move, expected] of [
      [() => history.back(), "c2"],
      [() => history.back(), "c1"],
      [() => history.forward(), "c2"],
      // A new conversation again: none is open, not the newest.
      [() => history.forward(), null],
    ] as const) {
      move();
      await vi.advanceTimersByTimeAsync(10);
      expect(open.chat.selectedId()).toBe(expected);
    }
    expect(location.search).toBe("");
  });

  it("reads the open conversation again when a job action does not find its job", async () => {
    vi.useFakeTimers();
    const asked = serverAnswering((procedure) => {
      if (procedure === "conversations.list") return ok([conversation("c1", "Foxes")]);
      if (procedure === "jobs.cancel" || procedure === "jobs.move") return NOT_FOUND;
      return undefined;
    });
    const open = await openOn();
    dispose = open.dispose;
    const reads = () => asked.filter((procedure) => procedure === "messages.list").length;
    const before = reads();
    await Promise.all([
      expect(open.chat.cancel(makeJob({ conversationId: "c1" }))).rejects.toThrow("This job is gone"),
      vi.advanceTimersByTimeAsync(10),
    ]);
    expect(reads()).toBe(before + 1);
    await Promise.all([
      expect(open.chat.move(makeJob({ conversationId: "c1" }), "front")).rejects.toThrow("This job is gone"),
      vi.advanceTimersByTimeAsync(10),
    ]);
    expect(reads()).toBe(before + 2);
    expect(open.chat.selectedId()).toBe("c1");
  });

  it("reads the open conversation once, not again, for jobs its stream shows while that read is under way", async () => {
    vi.useFakeTimers();
    let stream: ReturnType<typeof sseStream<JobStreamEvent>> | null = null;
    let answerMessages = (_: object) => undefined as void;
    const message = (id: string) => ({
      id,
      conversationId: "c1",
      role: "assistant",
      content: "Image",
      metadata: {},
      createdAt: "2026-12-01T10:00:00.000Z",
    });
    const asked = serverAnswering(
      (procedure) => {
        if (procedure === "conversations.list") return ok([conversation("c1", "Foxes")]);
        if (procedure === "messages.list") {
          return new Promise<object>((resolve) => (answerMessages = resolve));
        }
        return undefined;
      },
      () => (stream = sseStream<JobStreamEvent>()).response,
    );
    history.replaceState(null, "", "/?c=c1");
    const chat = createRoot((d) => {
      dispose = d;
      return createChatState({});
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(stream).not.toBeNull();
    // A conversation's stream begins with a snapshot of each of its waiting jobs, here before its messages are read.
    const ids = ["m1", "m2", "m3"];
    for (const id of ids) stream!.send(makeJob({ id: `job-${id}`, conversationId: "c1", messageId: id }));
    await vi.advanceTimersByTimeAsync(10);
    answerMessages(ok(ids.map(message)));
    await vi.advanceTimersByTimeAsync(10);

    expect(chat.messages.map((m) => m.id)).toEqual(ids);
    expect(asked.filter((procedure) => procedure === "messages.list")).toHaveLength(1);
    // While a read is under way, a job whose messages it turns out not to hold: one more read, once it is in.
    stream!.send(makeJob({ id: "job-m5", conversationId: "c1", messageId: "m5" }));
    await vi.advanceTimersByTimeAsync(10);
    stream!.send(makeJob({ id: "job-m6", conversationId: "c1", messageId: "m6" }));
    stream!.send(makeJob({ id: "job-m7", conversationId: "c1", messageId: "m7" }));
    await vi.advanceTimersByTimeAsync(10);
    expect(asked.filter((procedure) => procedure === "messages.list")).toHaveLength(2);
    answerMessages(ok([...ids, "m5", "m6"].map(message)));
    await vi.advanceTimersByTimeAsync(10);
    expect(asked.filter((procedure) => procedure === "messages.list")).toHaveLength(3);
    answerMessages(ok([...ids, "m5", "m6", "m7"].map(message)));
    await vi.advanceTimersByTimeAsync(10);
    expect(chat.messages.map((m) => m.id)).toEqual([...ids, "m5", "m6", "m7"]);
    expect(asked.filter((procedure) => procedure === "messages.list")).toHaveLength(3);
  });

  it("reads a conversation's many out-of-step waiting jobs again in one list, and a few one by one", async () => {
    vi.useFakeTimers();
    let stream: ReturnType<typeof sseStream<JobStreamEvent>> | null = null;
    const waiting = (count: number, shift: number) =>
      Array.from({ length: count }, (_, i) =>
        makeJob({ id: `job-${i}`, conversationId: "c1", messageId: `m${i}`, queuePosition: i + 1 + shift }),
      );
    // The page holds every job's message: nothing but the line events makes it read again.
    const messages = Array.from({ length: 120 }, (_, i) => ({
      id: `m${i}`,
      conversationId: "c1",
      role: "assistant",
      content: "Image",
      metadata: {},
      createdAt: "2026-12-01T10:00:00.000Z",
    }));
    let listed = waiting(0, 0);
    const asked = serverAnswering(
      (procedure) => {
        if (procedure === "conversations.list") return ok([conversation("c1", "Foxes")]);
        if (procedure === "messages.list") return ok(messages);
        if (procedure === "jobs.list") return ok({ items: listed, nextCursor: null });
        if (procedure === "jobs.get") return ok(makeJob({ id: "job-0", conversationId: "c1", queuePosition: 7 }));
        return undefined;
      },
      () => (stream = sseStream<JobStreamEvent>()).response,
    );
    const open = await openOn();
    dispose = open.dispose;
    const chat = open.chat;
    const reads = (procedure: string) => asked.filter((p) => p === procedure).length;
    const listsBefore = reads("jobs.list");
    // The stream's snapshots of 120 waiting jobs, at line version 1.
    stream!.send({ kind: "line", from: 0, version: 1, changes: [], timing: null });
    for (const job of waiting(120, 0)) stream!.send(job);
    await vi.advanceTimersByTimeAsync(10);
    expect(chat.jobs["job-119"]?.queuePosition).toBe(120);

    // Twenty of them started elsewhere; a new leader's line starts at version 0 again: no position the page holds
    // can be moved by its first event. The jobs it read are still waiting, twenty places further up.
    listed = waiting(120, -20).slice(20);
    stream!.send({ kind: "line", from: 0, version: 2, changes: [], timing: null });
    await vi.advanceTimersByTimeAsync(10);
    expect(reads("jobs.get")).toBe(0);
    expect(reads("jobs.list")).toBe(listsBefore + 1);
    expect(chat.jobs["job-119"]?.queuePosition).toBe(100);

    // The line's next event is out of step with what the page holds again, for one job of it only.
    for (const job of waiting(120, 0).slice(1)) stream!.send({ ...job, status: "cancelled", queuePosition: 0 });
    stream!.send({ kind: "line", from: 7, version: 8, changes: [], timing: null });
    await vi.advanceTimersByTimeAsync(10);
    expect(reads("jobs.get")).toBe(1);
    expect(reads("jobs.list")).toBe(listsBefore + 1);
    expect(chat.jobs["job-0"]?.queuePosition).toBe(7);
  });

  it("takes a burst of the stream's events in together: what follows the jobs computes once, not once each", async () => {
    vi.useFakeTimers();
    let stream: ReturnType<typeof sseStream<JobStreamEvent>> | null = null;
    serverAnswering(
      (procedure) => (procedure === "conversations.list" ? ok([conversation("c1", "Foxes")]) : undefined),
      () => (stream = sseStream<JobStreamEvent>()).response,
    );
    const open = await openOn();
    dispose = open.dispose;
    let runs = 0;
    let waiting = 0;
    createRoot(() =>
      createEffect(() => {
        waiting = Object.values(open.chat.jobs).filter((job) => job.status === "queued").length;
        runs++;
      }),
    );
    const before = runs;
    // A conversation's stream opens with a snapshot of each of its waiting jobs.
    for (let i = 0; i < 500; i++) {
      stream!.send(makeJob({ id: `job-${i}`, conversationId: "c1", messageId: `m${i}`, queuePosition: i + 1 }));
    }
    await vi.advanceTimersByTimeAsync(10);

    expect(waiting).toBe(500);
    expect(runs - before).toBeLessThanOrEqual(2);
  });

  it("reads the queue panel again as soon as the job stream is back, not at the next poll", async () => {
    vi.useFakeTimers();
    const streams: ReturnType<typeof sseStream<JobStreamEvent>>[] = [];
    const asked = serverAnswering(
      (procedure) => (procedure === "conversations.list" ? ok([conversation("c1", "Foxes")]) : undefined),
      () => {
        const stream = sseStream<JobStreamEvent>();
        streams.push(stream);
        return stream.response;
      },
    );
    const open = await openOn();
    dispose = open.dispose;
    expect(streams).toHaveLength(1);
    const statusReads = () => asked.filter((procedure) => procedure === "queue.status").length;
    // Halfway between two polls (every 3 s): the stream breaks, and the page opens another 3 s later.
    await vi.advanceTimersByTimeAsync(4_500);
    const before = statusReads();
    streams[0]!.fail();
    while (streams.length < 2) await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(200);
    // One poll came meanwhile; the other read is the stream's return (paused or resumed meanwhile, say), 1.5 s
    // before the next poll would have shown it.
    expect(statusReads() - before).toBe(2);
  });

  it("reads the list every interval while visible, and leaves the open conversation once it is deleted elsewhere", async () => {
    vi.useFakeTimers();
    let deleted = false;
    const asked = serverAnswering((procedure) => {
      if (procedure === "conversations.list")
        return ok(
          deleted ? [conversation("c2", "Harbours")] : [conversation("c1", "Foxes"), conversation("c2", "Harbours")],
        );
      if (procedure === "messages.list" && deleted) return NOT_FOUND;
      return undefined;
    });
    const open = await openOn(20_000);
    dispose = open.dispose;
    const lists = () => asked.filter((procedure) => procedure === "conversations.list").length;
    expect(lists()).toBe(1);
    deleted = true;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(lists()).toBe(2);
    expect(open.chat.selectedId()).toBeNull();
    expect(open.chat.conversations().map((c) => c.id)).toEqual(["c2"]);
  });
});
