import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { JournalChange } from "./apply-changes";
import type { AnvilDatabase } from "./database";
import { JobStore } from "./job-store";
import { conversations, jobs, queueCounts } from "./schema";
import { params, snapshot, useTestDatabase } from "./testing/fixtures";
import { openPgliteBefore, testDrivers } from "./testing/test-databases";

type Move = Extract<JournalChange, { kind: "transition" }>;

const move = (jobId: string, from: Move["from"], to: Move["to"]): JournalChange => ({
  kind: "transition",
  jobId,
  from,
  to,
  patch: {},
});

/** The kept count beside the count of the rows themselves. */
const counts = async ({ db }: Pick<AnvilDatabase, "db">) => {
  const [kept] = await db.select({ n: queueCounts.queued }).from(queueCounts);
  return { kept: kept?.n, counted: await db.$count(jobs, eq(jobs.status, "queued")) };
};

/**
 * The counts of an embedded database that a server with the migrations before `firstMissing` left as `prepare` made it,
 * once the migrations of this version were applied to it.
 */
async function countsAfterUpgrade(firstMissing: string, prepare: (old: AnvilDatabase) => Promise<void>) {
  const { database, upgrade } = await openPgliteBefore(firstMissing);
  try {
    await prepare(database);
    await upgrade();
    return await counts(database);
  } finally {
    await database.close();
  }
}

describe("the count of waiting jobs, on an upgrade", () => {
  it("starts from the jobs a database already holds when migration 0011 is applied", async () => {
    const upgraded = await countsAfterUpgrade("0011_", async (old) => {
      const store = new JobStore(old);
      await store.submitJobs(["a", "b", "c", "d"].map((prompt) => ({ prompt, params })));
      const [started] = await store.submitJobs([{ prompt: "e", params }]);
      if (started === undefined || started instanceof Error) throw new Error("the job was not stored");
      // As that server wrote it: today's store would read back columns its schema did not have yet.
      await old.db.execute(sql`update jobs set status = 'processing' where id = ${started.job.id}`);
    });
    expect(upgraded).toEqual({ kept: 4, counted: 4 });
  });

  it("is counted again by migration 0017, which mends a count a rolling upgrade to 0011 left off", async () => {
    const upgraded = await countsAfterUpgrade("0017_", async (old) => {
      await new JobStore(old).submitJobs(["a", "b", "c"].map((prompt) => ({ prompt, params })));
      // What 0011 left where a server of the previous version stored two jobs between its count and its triggers.
      await old.db.execute(sql`update queue_counts set queued = queued - 2`);
    });
    expect(upgraded).toEqual({ kept: 3, counted: 3 });
  });
});

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("the count of waiting jobs on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const db = () => test().database.db;
  const expectKept = async (queued: number) =>
    expect(await counts(test().database)).toEqual({ kept: queued, counted: queued });

  it("follows every way a job enters or leaves the line, and places new jobs by it", async () => {
    await expectKept(0);
    // The one-call path, a batch of three.
    const batch = await store().submitJobs(["a", "b", "c"].map((prompt) => ({ prompt, params })));
    await expectKept(3);
    // The general path (a repeated key goes there), whose new job is placed behind the three.
    const [first, again] = await store().submitJobs([
      { prompt: "d", params, idempotencyKey: "k" },
      { prompt: "d", params, idempotencyKey: "k" },
    ]);
    await expectKept(4);
    expect(first).toMatchObject({ created: true, queuePosition: 4 });
    expect(again).toMatchObject({ created: false });
    const [a, b, c] = batch.map((outcome) => {
      if (outcome instanceof Error) throw outcome;
      return outcome.job;
    });
    // Through the journal's one call: a start, a requeue, a start again, a completion.
    await store().applyJournalBatch([move(a!.id, "queued", "processing")]);
    await expectKept(3);
    await store().applyJournalBatch([move(a!.id, "processing", "queued")]);
    await expectKept(4);
    await store().applyJournalBatch([move(a!.id, "queued", "processing"), move(a!.id, "processing", "complete")]);
    await expectKept(3);
    // Through applyTransition: a cancellation, and a change that does not apply (b is not processing).
    await store().applyTransition({ jobId: b!.id, from: "queued", to: "cancelled", snapshot });
    expect(await store().applyTransition({ jobId: b!.id, from: "processing", to: "error", snapshot })).toBeNull();
    await expectKept(2);
    // Changes that leave the status alone: a move to the front, and an UPDATE that sets it to itself.
    await store().moveJob(c!.id, "front", "local");
    await db().execute(sql`update jobs set status = status where id = ${c!.id}`);
    await expectKept(2);
    // A job placed by the kept count: behind the two that wait.
    const late = await store().submitJob({ prompt: "e", params });
    expect(late.queuePosition).toBe(3);
    await expectKept(3);
    // Jobs that go with their conversation.
    await db().delete(conversations).where(eq(conversations.id, c!.conversationId));
    await expectKept(2);
    await test().reset();
    await expectKept(0);
  });
});
