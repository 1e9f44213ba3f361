import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AnvilDb } from "./database";
import { params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

const deepMerge = async (db: AnvilDb, a: unknown, b: unknown): Promise<unknown> => {
  const [row] = await db
    .select({ merged: sql<unknown>`jsonb_deep_merge(${JSON.stringify(a)}::jsonb, ${JSON.stringify(b)}::jsonb)` })
    .from(sql`(select 1) as one`);
  return row?.merged;
};

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("jsonb_deep_merge on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);

  it("merges nested objects key by key", async () => {
    const merged = await deepMerge(
      test().database.db,
      { a: { b: 1, c: { d: 2 } }, keep: true },
      { a: { c: { e: 3 }, f: 4 }, added: "x" },
    );
    expect(merged).toEqual({ a: { b: 1, c: { d: 2, e: 3 }, f: 4 }, keep: true, added: "x" });
  });

  it("replaces arrays, scalars and null instead of merging into them", async () => {
    const merged = await deepMerge(
      test().database.db,
      { list: [1, 2, 3], n: 1, s: "old", gone: { deep: 1 }, obj: { x: 1 } },
      { list: [9], n: "one", s: null, gone: null, obj: [1] },
    );
    expect(merged).toEqual({ list: [9], n: "one", s: null, gone: null, obj: [1] });
    expect(await deepMerge(test().database.db, { a: 1 }, [1])).toEqual([1]);
    expect(await deepMerge(test().database.db, [1], { a: 1 })).toEqual({ a: 1 });
  });

  it("mergeMessageMetadata deep-merges into a message and reports an unknown message", async () => {
    const { job } = await store().submitJob({ prompt: "a fox", params });
    expect(await store().mergeMessageMetadata(job.messageId, { progress: 40, extra: { a: 1 } })).toBe(true);
    const assistant = (await store().listMessages(job.conversationId))[1];
    expect(assistant?.metadata).toMatchObject({ jobId: job.id, status: "queued", progress: 40, extra: { a: 1 } });
    // A flat patch (every transition's) takes the shallow path: the same result, nested keys kept.
    expect(await store().mergeMessageMetadata(job.messageId, { progress: 50, error: null, status: "queued" })).toBe(
      true,
    );
    expect((await store().listMessages(job.conversationId))[1]?.metadata).toMatchObject({
      jobId: job.id,
      progress: 50,
      error: null,
      extra: { a: 1 },
    });
    expect(await store().mergeMessageMetadata("00000000-0000-4000-8000-000000000000", { a: 1 })).toBe(false);
    expect(await store().mergeMessageMetadata("not-a-uuid", { a: 1 })).toBe(false);
  });

  it("loses no field when 50 writers merge different nested keys into one message concurrently", async () => {
    const { job } = await store().submitJob({ prompt: "a crowd", params });
    const writers = Array.from({ length: 50 }, (_, i) =>
      store().mergeMessageMetadata(job.messageId, { nested: { [`key${i}`]: i }, [`top${i}`]: true }),
    );
    expect(await Promise.all(writers)).toEqual(Array(50).fill(true));
    const metadata = (await store().listMessages(job.conversationId))[1]?.metadata ?? {};
    const nested = metadata["nested"] as Record<string, number>;
    expect(Object.keys(nested)).toHaveLength(50);
    for (let i = 0; i < 50; i++) {
      expect(nested[`key${i}`]).toBe(i);
      expect(metadata[`top${i}`]).toBe(true);
    }
    expect(metadata).toMatchObject({ jobId: job.id, prompt: "a crowd", status: "queued" });
  });
});
