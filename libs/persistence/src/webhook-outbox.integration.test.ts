import { describe, expect, it } from "vitest";
import { webhookDeliveries } from "./schema";
import { must, params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { WebhookStore } from "./webhook-store";

const hook = "http://receiver.example/hook";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("the webhook outbox on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const outbox = () => new WebhookStore(test().database);
  const rows = () => test().database.db.select().from(webhookDeliveries);
  const finish = async (callbackUrl?: string) => {
    const { job } = await store().submitJob({ prompt: "hooked", params, ...(callbackUrl ? { callbackUrl } : {}) });
    const to = { jobId: job.id, from: "queued" as const, to: "processing" as const, patch: { attempts: 1 }, snapshot };
    must(await store().applyTransition(to));
    return store().applyTransition({ jobId: job.id, from: "processing", to: "complete", snapshot });
  };

  it("writes one delivery of the final snapshot with the final transition, and none for a retried one", async () => {
    const done = must(await finish(hook));
    expect(await store().applyTransition({ jobId: done.job.id, from: "processing", to: "complete", snapshot })).toBe(
      null,
    );
    await finish();
    const [delivery, ...rest] = await rows();
    expect(rest).toEqual([]);
    expect(delivery).toMatchObject({ jobId: done.job.id, url: hook, status: "pending", attempts: 0 });
    expect(JSON.parse(must(delivery).body)).toEqual({ ...done.snapshot, callbackUrl: hook });
  });

  it("writes no delivery when the final transition rolls back", async () => {
    const { job } = await store().submitJob({ prompt: "rolled back", params, callbackUrl: hook });
    await expect(
      store().transaction(async (tx) => {
        await tx.applyTransition({ jobId: job.id, from: "queued", to: "cancelled", snapshot });
        throw new Error("the commit never happens");
      }),
    ).rejects.toThrow("the commit never happens");
    expect(await rows()).toEqual([]);
  });

  it("gives each due delivery to one claim, retries a failed one later, and gives up past its age", async () => {
    for (let i = 0; i < 3; i++) await finish(hook);
    const [a, b] = await Promise.all([outbox().claim(2, 60_000), outbox().claim(2, 60_000)]);
    expect([...must(a), ...must(b)].map((d) => d.id).sort()).toEqual((await rows()).map((r) => r.id).sort());
    expect(await outbox().claim(10, 60_000)).toEqual([]);
    expect(await outbox().stats()).toMatchObject({ pending: 3 });

    const [first, second, third] = [...must(a), ...must(b)];
    expect(await outbox().delivered(must(first))).toBe(true);
    expect(await outbox().failed(must(second), "HTTP 500", 0, 60 * 60_000)).toBe("pending");
    expect(await outbox().failed(must(third), "HTTP 500", 0, -1)).toBe("failed");
    // A claim is recorded once: the same attempt reported again changes nothing.
    expect(await outbox().delivered(must(second))).toBe(false);
    const again = await outbox().claim(10, 60_000);
    expect(again.map((d) => [d.id, d.attempt])).toEqual([[must(second).id, 2]]);
    expect(await outbox().stats()).toMatchObject({ pending: 1 });
  });

  it("prunes only deliveries that ended longer ago than asked, never a pending one", async () => {
    for (let i = 0; i < 3; i++) await finish(hook);
    const [done, failed] = await outbox().claim(2, 60_000);
    expect(await outbox().delivered(must(done))).toBe(true);
    expect(await outbox().failed(must(failed), "HTTP 500", 0, -1)).toBe("failed");
    expect(await outbox().prune(60_000)).toBe(0);
    expect(await outbox().prune(-1)).toBe(2);
    expect((await rows()).map((r) => r.status)).toEqual(["pending"]);
  });
});
