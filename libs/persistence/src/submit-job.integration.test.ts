import { describe, expect, it } from "vitest";
import { ConversationNotFound } from "./errors";
import { toJob } from "./records";
import { conversations, jobEvents, jobs, messages } from "./schema";
import { params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore.submitJob on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const counts = async () => {
    const db = test().database.db;
    return {
      conversations: await db.$count(conversations),
      messages: await db.$count(messages),
      jobs: await db.$count(jobs),
      events: await db.$count(jobEvents),
    };
  };

  it("creates the conversation, both messages, the queued job and its first event together", async () => {
    const { job, created, queuePosition } = await store().submitJob({ prompt: "a red fox in snow", params });
    expect(created).toBe(true);
    expect(queuePosition).toBe(1);
    expect(job).toMatchObject({ status: "queued", progress: 0, prompt: "a red fox in snow", params, attempts: 0 });
    expect(await store().getConversation(job.conversationId)).toMatchObject({ title: "a red fox in snow" });

    const [user, assistant, ...rest] = await store().listMessages(job.conversationId);
    expect(rest).toEqual([]);
    expect(user).toMatchObject({ role: "user", content: "a red fox in snow", metadata: {} });
    expect(assistant).toMatchObject({ id: job.messageId, role: "assistant" });
    expect(assistant?.metadata).toEqual({
      jobId: job.id,
      status: "queued",
      queuePosition: 1,
      progress: 0,
      imageUrl: null,
      error: null,
      prompt: "a red fox in snow",
    });

    const events = await store().eventsAfter(0, {}, 10);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: job.lastEventId, jobId: job.id, status: "queued" });
    expect(events[0]?.job).toEqual(toJob(job, 1));
  });

  it("adds the job to an existing conversation", async () => {
    const conversation = await store().createConversation("mine");
    const first = await store().submitJob({ prompt: "one", params, conversationId: conversation.id });
    const second = await store().submitJob({ prompt: "two", params, conversationId: conversation.id });
    expect(second.job.conversationId).toBe(conversation.id);
    expect(second.queuePosition).toBe(2);
    const contents = (await store().listMessages(conversation.id)).map((m) => `${m.role}:${m.content}`);
    expect(contents).toEqual(["user:one", "assistant:Image: one", "user:two", "assistant:Image: two"]);
    expect(first.job.seq).toBeLessThan(second.job.seq);
    expect(await counts()).toEqual({ conversations: 1, messages: 4, jobs: 2, events: 2 });
  });

  it("throws ConversationNotFound for an unknown or malformed conversation id and writes nothing", async () => {
    const unknown = "6f1c0f8e-4a43-4c3e-9d1e-2b9f0d7a1c55";
    await expect(store().submitJob({ prompt: "x", params, conversationId: unknown })).rejects.toThrow(
      ConversationNotFound,
    );
    await expect(store().submitJob({ prompt: "x", params, conversationId: "nope" })).rejects.toThrow(
      ConversationNotFound,
    );
    expect(await counts()).toEqual({ conversations: 0, messages: 0, jobs: 0, events: 0 });
  });

  it("rolls the new conversation back when a later insert of the submit fails", async () => {
    // PostgreSQL text cannot hold NUL: the title (first 60 characters) is fine, the message insert fails.
    const prompt = `${"a".repeat(80)}\u0000`;
    await expect(store().submitJob({ prompt, params })).rejects.toThrow();
    expect(await counts()).toEqual({ conversations: 0, messages: 0, jobs: 0, events: 0 });
  });

  it("titles a new conversation with the prompt on one line, cut to 60 characters", async () => {
    const prompt = `  a   very\nlong ${"prompt ".repeat(20)}`;
    const { job } = await store().submitJob({ prompt, params });
    const title = (await store().getConversation(job.conversationId))?.title ?? "";
    expect(Array.from(title)).toHaveLength(60);
    expect(title).toMatch(/^a very long prompt prompt .*…$/);
  });

  it("returns the first job for a repeated idempotency key", async () => {
    const first = await store().submitJob({ prompt: "once", params, idempotencyKey: "key-1" });
    const again = await store().submitJob({ prompt: "once", params, idempotencyKey: "key-1" });
    expect(again).toEqual({ job: first.job, created: false, queuePosition: 1 });
    expect(await counts()).toEqual({ conversations: 1, messages: 2, jobs: 1, events: 1 });
  });

  it("keeps each owner's idempotency keys apart: another user's key makes a job of their own", async () => {
    const alice = await store().submitJob({ prompt: "alice's", params, idempotencyKey: "k", owner: "alice" });
    const bob = await store().submitJob({ prompt: "bob's", params, idempotencyKey: "k", owner: "bob", priority: 3 });
    expect(bob.created).toBe(true);
    expect(bob.job).toMatchObject({ owner: "bob", priority: 3, prompt: "bob's" });
    expect(alice.job).toMatchObject({ owner: "alice", priority: 0 });
    expect((await store().getConversation(bob.job.conversationId))?.owner).toBe("bob");
  });

  it("does not find another owner's conversation when the submit is bound to its owner", async () => {
    const conversation = await store().createConversation("alice's", "alice");
    const submit = { prompt: "x", params, conversationId: conversation.id, owner: "bob" };
    await expect(store().submitJob({ ...submit, conversationOwner: "bob" })).rejects.toThrow(ConversationNotFound);
    // Unbound (an admin's submit) it may go into anyone's conversation, and stays the submitter's job.
    expect((await store().submitJob(submit)).job).toMatchObject({ owner: "bob", conversationId: conversation.id });
  });

  it("makes exactly one job for 10 concurrent submits with one idempotency key", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store().submitJob({ prompt: "race", params, idempotencyKey: "key-race" })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(await counts()).toEqual({ conversations: 1, messages: 2, jobs: 1, events: 1 });
  });

  describe("submitJobs, many in one transaction", () => {
    it("stores them in the order given, each input with its own outcome", async () => {
      const conversation = await store().createConversation("mine");
      const earlier = await store().submitJob({ prompt: "earlier", params, idempotencyKey: "kept" });
      const unknown = "6f1c0f8e-4a43-4c3e-9d1e-2b9f0d7a1c55";
      const results = await store().submitJobs([
        { prompt: "one", params, conversationId: conversation.id },
        { prompt: "lost", params, conversationId: unknown },
        { prompt: "alone", params, idempotencyKey: "new-key" },
        { prompt: "two", params, conversationId: conversation.id },
        { prompt: "earlier", params, idempotencyKey: "kept" },
        { prompt: "alone", params, idempotencyKey: "new-key" },
      ]);
      const [one, lost, alone, two, kept, aloneAgain] = results;
      expect(lost).toBeInstanceOf(ConversationNotFound);
      for (const r of [one, alone, two, kept, aloneAgain]) expect(r).not.toBeInstanceOf(Error);
      const ok = (r: (typeof results)[number] | undefined) => {
        if (r === undefined || r instanceof Error) throw new Error(`expected a stored job, got ${String(r)}`);
        return r;
      };

      // New jobs queue behind the earlier one, in the order given: seqs, event ids and positions.
      expect([ok(one), ok(alone), ok(two)].map((r) => [r.created, r.queuePosition])).toEqual([
        [true, 2],
        [true, 3],
        [true, 4],
      ]);
      expect(ok(one).job.seq).toBeLessThan(ok(alone).job.seq);
      expect(ok(alone).job.seq).toBeLessThan(ok(two).job.seq);
      expect(ok(one).job.lastEventId).toBeLessThan(ok(alone).job.lastEventId);
      expect(ok(alone).job.lastEventId).toBeLessThan(ok(two).job.lastEventId);
      // A repeated key gets the job that holds it, stored earlier or earlier in the same batch.
      expect(ok(kept)).toEqual({ job: earlier.job, created: false, queuePosition: 1 });
      expect(ok(aloneAgain)).toMatchObject({ job: ok(alone).job, created: false });

      const contents = (await store().listMessages(conversation.id)).map((m) => `${m.role}:${m.content}`);
      expect(contents).toEqual(["user:one", "assistant:Image: one", "user:two", "assistant:Image: two"]);
      const events = await store().eventsAfter(earlier.job.lastEventId, {}, 10);
      expect(events.map((e) => e.jobId)).toEqual([ok(one).job.id, ok(alone).job.id, ok(two).job.id]);
      expect(events.map((e) => e.job.queuePosition)).toEqual([2, 3, 4]);
      expect(await counts()).toEqual({ conversations: 3, messages: 8, jobs: 4, events: 4 });
    });

    it("writes nothing when one of them cannot be stored", async () => {
      const results = store().submitJobs([
        { prompt: "fine", params },
        { prompt: "NUL \u0000 inside", params },
      ]);
      await expect(results).rejects.toThrow();
      expect(await counts()).toEqual({ conversations: 0, messages: 0, jobs: 0, events: 0 });
    });
  });
});
