import { describe, expect, it } from "vitest";
import { jobEvents } from "./schema";
import { params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore.refundAttempt on $kind", (driver) => {
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

  it("takes back the attempt a shutdown interrupted, once, without a status change or an event", async () => {
    const job = await started(2);
    const events = await test().database.db.$count(jobEvents);
    expect(await store().refundAttempt(job.id, 2)).toBe(true);
    // A repeat (or a stale count) takes back nothing more.
    expect(await store().refundAttempt(job.id, 2)).toBe(false);
    expect(await store().getJob(job.id)).toMatchObject({ status: "processing", attempts: 1 });
    expect(await test().database.db.$count(jobEvents)).toBe(events);
  });

  it("leaves a job that is not processing as it is", async () => {
    const { job } = await store().submitJob({ prompt: "still queued", params });
    expect(await store().refundAttempt(job.id, 0)).toBe(false);
    expect(await store().refundAttempt(job.id, 1)).toBe(false);
    expect(await store().getJob(job.id)).toMatchObject({ status: "queued", attempts: 0 });
  });
});
