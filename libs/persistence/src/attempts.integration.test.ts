import { describe, expect, it } from "vitest";
import { jobEvents } from "./schema";
import { params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore.spareAttempt on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const started = async (attempt: number) => {
    const { job } = await store().submitJob({ prompt: "stopped by a shutdown", params });
    await store().applyTransition({
      jobId: job.id,
      from: "queued",
      to: "processing",
      patch: { attempts: attempt },
      snapshot,
    });
    return job;
  };

  it("spares the attempt a shutdown interrupted, once, without a status change or an event", async () => {
    const job = await started(2);
    const events = await test().database.db.$count(jobEvents);
    expect(await store().spareAttempt(job.id, 2, 0)).toBe(true);
    // A repeat (the count read before this spare) or a stale attempt spares nothing more.
    expect(await store().spareAttempt(job.id, 2, 0)).toBe(false);
    expect(await store().spareAttempt(job.id, 1, 1)).toBe(false);
    // The run still counts: the job shows the attempt it was on, and runs again as its next.
    expect(await store().getJob(job.id)).toMatchObject({ status: "processing", attempts: 2, spared: 1, attempt: 2 });
    expect(await test().database.db.$count(jobEvents)).toBe(events);
    // A later attempt cut short by another shutdown is spared too.
    await store().applyTransition({ jobId: job.id, from: "processing", to: "queued", patch: {}, snapshot });
    await store().applyTransition({
      jobId: job.id,
      from: "queued",
      to: "processing",
      patch: { attempts: 3 },
      snapshot,
    });
    expect(await store().spareAttempt(job.id, 3, 1)).toBe(true);
    expect(await store().getJob(job.id)).toMatchObject({ attempts: 3, spared: 2 });
  });

  it("leaves a job that is not processing as it is", async () => {
    const { job } = await store().submitJob({ prompt: "still queued", params });
    expect(await store().spareAttempt(job.id, 0, 0)).toBe(false);
    expect(await store().spareAttempt(job.id, 1, 0)).toBe(false);
    expect(await store().getJob(job.id)).toMatchObject({ status: "queued", attempts: 0, spared: 0 });
  });
});
