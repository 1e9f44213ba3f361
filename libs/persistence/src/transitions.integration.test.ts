import { describe, expect, it } from "vitest";
import { toJob } from "./records";
import { lockEventOrder } from "./event-order";
import { applyChangesLocked } from "./transitions";
import type { RowChange, Transition } from "./transitions";
import { jobEvents } from "./schema";
import { completedMetadata, must, params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore.applyTransition on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const eventCount = () => test().database.db.$count(jobEvents);
  const assistantMetadata = async (conversationId: string) =>
    (await store().listMessages(conversationId)).find((m) => m.role === "assistant")?.metadata;

  it("updates the job, mirrors it into the assistant message and logs the snapshot, together", async () => {
    const { job } = await store().submitJob({ prompt: "a lighthouse", params });
    const startedAt = new Date("2030-01-02T03:04:05.678Z");
    const started = await store().applyTransition({
      jobId: job.id,
      from: "queued",
      to: "processing",
      patch: { startedAt, attempts: 1 },
      snapshot,
    });
    expect(started?.job).toMatchObject({ status: "processing", startedAt: startedAt.toISOString(), attempts: 1 });
    expect(started?.eventId).toBeGreaterThan(job.lastEventId);
    expect(started?.job.lastEventId).toBe(started?.eventId);

    const done = await store().applyTransition({
      jobId: job.id,
      from: "processing",
      to: "complete",
      patch: { progress: 100, imageUrl: `/images/${job.id}.png`, usedSeed: 4294967295, finishedAt: new Date() },
      snapshot,
    });
    expect(done?.job).toMatchObject({ status: "complete", progress: 100, usedSeed: 4294967295 });
    expect(await store().getJob(job.id)).toEqual(done?.job);
    expect(await assistantMetadata(job.conversationId)).toEqual(completedMetadata(job));
    const events = await store().eventsAfter(job.lastEventId, { jobId: job.id }, 10);
    expect(events.map((e) => [e.id, e.status])).toEqual([
      [started?.eventId, "processing"],
      [done?.eventId, "complete"],
    ]);
    expect(events[1]?.job).toEqual(toJob(must(done).job, 0));
  });

  it("refuses a transition from the wrong status: returns null and writes no event", async () => {
    const { job } = await store().submitJob({ prompt: "a cat", params });
    const wrong = await store().applyTransition({ jobId: job.id, from: "processing", to: "complete", snapshot });
    expect(wrong).toBeNull();
    expect(await store().getJob(job.id)).toEqual(job);
    expect(await eventCount()).toBe(1);
    expect(await store().applyTransition({ jobId: "nope", from: "queued", to: "cancelled", snapshot })).toBeNull();
  });

  it("applies one of three racing copies of the same transition, never more", async () => {
    const { job } = await store().submitJob({ prompt: "a race", params });
    const cancel = () => store().applyTransition({ jobId: job.id, from: "queued", to: "cancelled", snapshot });
    const results = await Promise.all([cancel(), cancel(), cancel()]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await eventCount()).toBe(2);
  });

  it("rolls back when the snapshot does not describe the updated job", async () => {
    const { job } = await store().submitJob({ prompt: "a mismatch", params });
    const lying = () => ({ ...toJob(job, 1), status: "queued" as const });
    await expect(
      store().applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot: lying }),
    ).rejects.toThrow(/does not match/);
    expect((await store().getJob(job.id))?.status).toBe("queued");
    expect(await eventCount()).toBe(1);
  });

  it("updateProgress records progress of a processing job in job and message, without an event", async () => {
    const { job } = await store().submitJob({ prompt: "a slow one", params });
    expect(await store().updateProgress(job.id, 10)).toBeNull();
    await store().applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot });
    const events = await eventCount();
    expect(await store().updateProgress(job.id, 42.4)).toMatchObject({ progress: 42, status: "processing" });
    expect(await assistantMetadata(job.conversationId)).toMatchObject({ progress: 42, status: "processing" });
    expect(await store().updateProgress(job.id, 250)).toMatchObject({ progress: 100 });
    expect(await eventCount()).toBe(events);
  });

  it("transaction() commits a batch of transitions and progress together, or none of it", async () => {
    const a = (await store().submitJob({ prompt: "a", params })).job;
    const b = (await store().submitJob({ prompt: "b", params })).job;
    const statuses = await store().transaction(async (tx) => [
      (await tx.applyTransition({ jobId: a.id, from: "queued", to: "processing", snapshot }))?.job.status,
      (await tx.updateProgress(a.id, 30))?.status,
      (await tx.applyTransition({ jobId: b.id, from: "queued", to: "cancelled", snapshot }))?.job.status,
    ]);
    expect(statuses).toEqual(["processing", "processing", "cancelled"]);
    expect((await store().getJob(a.id))?.progress).toBe(30);

    await expect(
      store().transaction(async (tx) => {
        await tx.updateProgress(a.id, 60);
        await tx.applyTransition({ jobId: a.id, from: "processing", to: "complete", snapshot });
        throw new Error("the batch fails after both writes");
      }),
    ).rejects.toThrow("the batch fails");
    expect(await store().getJob(a.id)).toMatchObject({ status: "processing", progress: 30 });
    expect(await eventCount()).toBe(4);
  });

  it("applyChangesLocked applies a batch in its order: two changes of one job in turn, event ids rising as given", async () => {
    const jobs = await Promise.all(
      ["p", "q", "r"].map(async (prompt) => (await store().submitJob({ prompt, params })).job),
    );
    const [p, q, r] = jobs.map((job) => job.id) as [string, string, string];
    const change = (jobId: string, from: Transition["from"], to: Transition["to"]): RowChange => ({
      kind: "transition",
      transition: { jobId, from, to, patch: to === "complete" ? { progress: 100 } : {}, snapshot },
    });
    const results = await test().database.db.transaction(async (tx) => {
      await lockEventOrder(tx);
      return applyChangesLocked(tx, [
        change(q, "queued", "processing"),
        change(p, "queued", "processing"),
        { kind: "progress", jobId: q, progress: 55 },
        change(q, "processing", "complete"),
        change(r, "processing", "complete"),
        change(r, "queued", "cancelled"),
      ]);
    });
    const ids = results.flatMap((result) =>
      result.kind === "transition" && result.applied ? [result.applied.eventId] : [],
    );
    expect(
      results.map((result) =>
        result.kind === "transition" ? result.applied?.job.status : result.kind === "progress" && result.job?.progress,
      ),
    ).toEqual(["processing", "processing", 55, "complete", undefined, "cancelled"]);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const logged = await store().eventsAfter(Math.max(...jobs.map((job) => job.lastEventId)), {}, 10);
    expect(logged.map((event) => [event.id, event.jobId, event.status])).toEqual([
      [ids[0], q, "processing"],
      [ids[1], p, "processing"],
      [ids[2], q, "complete"],
      [ids[3], r, "cancelled"],
    ]);
    expect(await assistantMetadata(jobs[1]!.conversationId)).toMatchObject({
      status: "complete",
      progress: 100,
    });
  });
});
