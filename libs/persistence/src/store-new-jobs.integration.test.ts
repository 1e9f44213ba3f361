import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toJob } from "./records";
import { conversations, jobEvents, jobs, messages } from "./schema";
import { storeNewJobs } from "./store-new-jobs";
import type { SubmitJobInput } from "./submission";
import { must, params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("storeNewJobs on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const db = () => test().database.db;
  const counts = async () => ({
    conversations: await db().$count(conversations),
    messages: await db().$count(messages),
    jobs: await db().$count(jobs),
    events: await db().$count(jobEvents),
  });

  it("logs each job's first event as toJob makes it from the stored row, at its place in the line", async () => {
    const conversation = await store().createConversation("theirs", "alice");
    const input = fc.record(
      {
        prompt: fc.string({ minLength: 1, maxLength: 80, unit: "grapheme" }),
        steps: fc.integer({ min: 1, max: 150 }),
        cfgScale: fc.double({ min: 0, max: 30, noNaN: true }),
        seed: fc.integer({ min: -1, max: 4294967295 }),
        priority: fc.integer({ min: -10, max: 10 }),
        owner: fc.constantFrom("alice", "bob"),
        inConversation: fc.boolean(),
        callbackUrl: fc.option(fc.webUrl(), { nil: undefined }),
        idempotencyKey: fc.option(fc.uuid(), { nil: undefined }),
      },
      { requiredKeys: ["prompt", "steps", "cfgScale", "seed", "priority", "owner", "inConversation"] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 5 }), async (batch) => {
        const inputs: SubmitJobInput[] = batch.map(({ steps, cfgScale, seed, inConversation, ...rest }) => ({
          ...rest,
          // No NUL: PostgreSQL text cannot hold it (the database refuses the whole batch; tested elsewhere).
          prompt: rest.prompt.replaceAll("\u0000", ""),
          params: { ...params, steps, cfgScale, seed },
          ...(inConversation ? { conversationId: conversation.id } : {}),
        }));
        if (inputs.some((i) => i.prompt === "")) return;
        const queuedBefore = await db().$count(jobs);
        const stored = await storeNewJobs(db(), inputs);
        if (stored === null) throw new Error("a batch of new jobs was refused");
        for (const [k, { job, queuePosition }] of stored.entries()) {
          expect(queuePosition).toBe(queuedBefore + k + 1);
          expect(job).toMatchObject({ prompt: inputs[k]?.prompt, priority: inputs[k]?.priority, status: "queued" });
          const [event] = await store().eventsAfter(job.lastEventId - 1, { jobId: job.id }, 1);
          expect(event?.id).toBe(job.lastEventId);
          expect(event?.job).toEqual(toJob(job, queuePosition));
          const assistant = (await store().listMessages(job.conversationId)).find((m) => m.id === job.messageId);
          expect(assistant?.metadata).toEqual({
            jobId: job.id,
            status: "queued",
            queuePosition,
            progress: 0,
            imageUrl: null,
            error: null,
            prompt: job.prompt,
          });
        }
        const seqs = stored.map(({ job }) => job.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }),
      { numRuns: 12 },
    );
  });

  it("writes nothing and leaves the batch to the general path when one input is not a plain new job", async () => {
    const mine = await store().createConversation("mine", "alice");
    await store().submitJob({ prompt: "held", params, owner: "alice", idempotencyKey: "held" });
    const before = await counts();
    const refused: SubmitJobInput[][] = [
      [
        { prompt: "a", params },
        { prompt: "b", params, conversationId: "6f1c0f8e-4a43-4c3e-9d1e-2b9f0d7a1c55" },
      ],
      [{ prompt: "a", params, owner: "bob", conversationOwner: "bob", conversationId: mine.id }],
      [{ prompt: "a", params, owner: "alice", idempotencyKey: "held" }],
      [{ prompt: "a", params, conversationId: "not-a-uuid" }],
      [{ prompt: "a", params, conversationId: mine.id.toUpperCase() }],
      [
        { prompt: "a", params, idempotencyKey: "twice" },
        { prompt: "a", params, idempotencyKey: "twice" },
      ],
    ];
    for (const inputs of refused) expect(await storeNewJobs(db(), inputs)).toBeNull();
    expect(await counts()).toEqual(before);
    // The same key of another owner, and the owner's own conversation, are new jobs.
    const stored = await storeNewJobs(db(), [
      { prompt: "a", params, owner: "bob", idempotencyKey: "held" },
      { prompt: "b", params, owner: "alice", conversationOwner: "alice", conversationId: mine.id },
    ]);
    expect(stored?.map(({ queuePosition }) => queuePosition)).toEqual([2, 3]);
  });

  it("commits batches sent together on the in-order connection in the order sent", async () => {
    // Sent at once, none awaited before the next goes: on a pool they would race for the event-order lock.
    const sent = Array.from({ length: 24 }, (_, b) =>
      store().submitNewJobs(Array.from({ length: 3 }, (_, k) => ({ prompt: `batch ${b} job ${k}`, params }))),
    );
    const batches = await Promise.all(sent);
    const seqs = batches.flatMap((batch) => must(batch).map(({ job }) => job.seq));
    const eventIds = batches.flatMap((batch) => must(batch).map(({ job }) => job.lastEventId));
    const positions = batches.flatMap((batch) => must(batch).map(({ queuePosition }) => queuePosition));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(eventIds).toEqual([...eventIds].sort((a, b) => a - b));
    expect(positions).toEqual(Array.from({ length: 72 }, (_, i) => i + 1));
  });
});
