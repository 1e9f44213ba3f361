import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, occupyGpu, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

describe.each(testDrivers())("jobs.submitMany and idempotency keys on $kind", (driver) => {
  const server = useTestServer(driver);

  it("accepts the jobs in one go, in input order, with positions in that order", async () => {
    const { trpc } = server();
    await occupyGpu(server());
    const prompts = Array.from({ length: 30 }, (_, i) => uniquePrompt(`many ${i}`));
    const jobs = await trpc.jobs.submitMany.mutate({ jobs: prompts.map((prompt) => ({ prompt, ...quick })) });
    expect(jobs.map((job) => job.prompt)).toEqual(prompts);
    expect(jobs.map((job) => job.queuePosition)).toEqual(prompts.map((_, i) => i + 1));
    const listed = await trpc.jobs.list.query({ status: ["queued"], limit: 500 });
    expect(listed.items.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
  });

  it("answers one place each when the first job starts at once on a free GPU", async () => {
    const { trpc } = server();
    await expect
      .poll(async () => trpc.queue.status.query(), { timeout: 30_000 })
      .toMatchObject({
        queued: 0,
        processing: 0,
      });
    const jobs = await trpc.jobs.submitMany.mutate({
      jobs: [1, 2, 3].map((i) => ({ prompt: uniquePrompt(`free GPU ${i}`), ...quick })),
    });
    // As the batch was stored: the first gets the GPU right after, and the line events that follow say so.
    expect(jobs.map((job) => [job.status, job.queuePosition])).toEqual([
      ["queued", 1],
      ["queued", 2],
      ["queued", 3],
    ]);
  });

  it("accepts none of the jobs when one is refused, and names its index", async () => {
    const { trpc } = server();
    const before = (await trpc.jobs.list.query({ limit: 500 })).items.length;
    const fine = { prompt: uniquePrompt("fine"), ...quick };
    const unknown = await trpcError(
      trpc.jobs.submitMany.mutate({ jobs: [fine, fine, fine, { ...fine, conversationId: randomUUID() }] }),
    );
    expect(codeOf(unknown)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
    expect(unknown.message).toMatch(/^jobs\.3\.conversationId: /);
    const invalid = await trpcError(trpc.jobs.submitMany.mutate({ jobs: [fine, fine, fine, { ...fine, prompt: "" }] }));
    expect(codeOf(invalid)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(invalid.message).toBe("jobs.3.prompt: prompt must not be empty");
    for (const jobs of [[], Array.from({ length: 1001 }, () => ({ prompt: "x" }))]) {
      const error = await trpcError(trpc.jobs.submitMany.mutate({ jobs }));
      expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toMatch(/^jobs must hold at (least 1|most 1000) jobs?$/);
    }
    expect((await trpc.jobs.list.query({ limit: 500 })).items).toHaveLength(before);
  });

  it("answers the same key and request with the same job, and a different request with CONFLICT naming the key", async () => {
    const { trpc } = server();
    const idempotencyKey = `order-${randomUUID()}`;
    const request = { prompt: uniquePrompt("keyed"), ...quick, idempotencyKey };
    const first = await trpc.jobs.submit.mutate(request);
    // Defaults written out are the same request.
    expect((await trpc.jobs.submit.mutate({ ...request, sampler: "Euler" })).id).toBe(first.id);
    expect((await trpc.jobs.submitMany.mutate({ jobs: [request] }))[0]?.id).toBe(first.id);
    const conflict = await trpcError(trpc.jobs.submit.mutate({ ...request, steps: 2 }));
    expect(codeOf(conflict)).toEqual({ code: "CONFLICT", httpStatus: 409 });
    expect(conflict.message).toContain(idempotencyKey);
    const inBatch = await trpcError(
      trpc.jobs.submitMany.mutate({ jobs: [{ prompt: "other" }, { ...request, seed: 7 }] }),
    );
    expect(codeOf(inBatch)).toEqual({ code: "CONFLICT", httpStatus: 409 });
    expect(inBatch.message).toMatch(new RegExp(`^jobs\\.1\\.idempotencyKey: .*${idempotencyKey}`));
  });

  it("takes a submitMany sent alone past the 256 KiB of other requests: many jobs with long prompts", async () => {
    const { url, trpc } = server();
    const prompt = (i: number) => `${uniquePrompt(`long ${i}`)} ${"a".repeat(3_900)}`;
    const jobs = Array.from({ length: 70 }, (_, i) => ({ prompt: prompt(i), ...quick }));
    const body = JSON.stringify({ jobs });
    expect(body.length).toBeGreaterThan(256 * 1024);
    const alone = await fetch(`${url}/trpc/jobs.submitMany`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(alone.status).toBe(200);
    const made = ((await alone.json()) as { result: { data: { id: string; prompt: string }[] } }).result.data;
    expect(made.map((job) => job.prompt)).toEqual(jobs.map((job) => job.prompt));
    // In a batch with other calls the usual limit holds.
    const batched = await fetch(`${url}/trpc/jobs.submitMany,conversations.create?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ 0: { jobs }, 1: {} }),
    });
    expect(batched.status).toBe(413);
    await Promise.all(made.map((job) => trpc.jobs.cancel.mutate({ jobId: job.id }).catch(() => undefined)));
  });
});
