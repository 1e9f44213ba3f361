import { describe, expect, it } from "vitest";
import { BatchRejected, ConversationNotFound, IdempotencyConflict } from "./errors";
import { jobs } from "./schema";
import { params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("submitting with keys and in batches on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const jobCount = () => test().database.db.$count(jobs);

  it("answers a repeated key with the same request with its job, and a different request with a conflict", async () => {
    const conversation = await store().createConversation("mine");
    const first = await store().submitJob({ prompt: "once", params, idempotencyKey: "k" });
    // The same request in another key order is the same request.
    const same = await store().submitJob({ params: { ...params }, prompt: "once", idempotencyKey: "k" });
    expect(same).toMatchObject({ job: first.job, created: false });
    const changes = [
      { prompt: "twice", params },
      { prompt: "once", params: { ...params, steps: params.steps + 1 } },
      { prompt: "once", params, conversationId: conversation.id },
      { prompt: "once", params, callbackUrl: "https://example.com/hook" },
    ];
    for (const change of changes) {
      const [outcome] = await store().submitJobs([{ ...change, idempotencyKey: "k" }]);
      expect(outcome).toBeInstanceOf(IdempotencyConflict);
      expect((outcome as Error).message).toContain('"k"');
    }
    // Within one batch, too.
    const [, clash] = await store().submitJobs([
      { prompt: "a", params, idempotencyKey: "k2" },
      { prompt: "b", params, idempotencyKey: "k2" },
    ]);
    expect(clash).toBeInstanceOf(IdempotencyConflict);
    expect(await jobCount()).toBe(2);
  });

  it("stores a batch all in one transaction in the order given, or none of it", async () => {
    await store().submitJob({ prompt: "held", params, idempotencyKey: "held" });
    const stored = await store().submitJobsAtomically(
      Array.from({ length: 20 }, (_, i) => ({ prompt: `job ${i}`, params })),
    );
    expect(stored.map((r) => [r.job.prompt, r.queuePosition])).toEqual(
      Array.from({ length: 20 }, (_, i) => [`job ${i}`, i + 2]),
    );
    expect(stored.map((r) => r.job.seq)).toEqual([...stored.map((r) => r.job.seq)].sort((a, b) => a - b));

    const unknown = "6f1c0f8e-4a43-4c3e-9d1e-2b9f0d7a1c55";
    const refusals = [
      { bad: { prompt: "lost", params, conversationId: unknown }, cause: ConversationNotFound },
      { bad: { prompt: "other", params, idempotencyKey: "held" }, cause: IdempotencyConflict },
    ];
    for (const { bad, cause } of refusals) {
      const error = await store()
        .submitJobsAtomically([{ prompt: "fine", params }, { prompt: "fine too", params }, bad])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BatchRejected);
      expect(error).toMatchObject({ index: 2 });
      expect((error as BatchRejected).cause).toBeInstanceOf(cause);
    }
    expect(await jobCount()).toBe(21);
  });
});
