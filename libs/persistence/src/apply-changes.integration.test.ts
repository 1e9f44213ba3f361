import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { JournalChange } from "./apply-changes";
import { Fenced, LeaderLease } from "./leader-lease";
import { toJob } from "./records";
import { jobEvents, webhookDeliveries } from "./schema";
import { completedMetadata, must, params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

type Move = Extract<JournalChange, { kind: "transition" }>;

/** A status change of `jobId` setting `patch`. */
const move = (jobId: string, from: Move["from"], to: Move["to"], patch: Move["patch"] = {}): Move => ({
  kind: "transition",
  jobId,
  from,
  to,
  patch,
});

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore.applyJournalBatch on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const events = () => test().database.db.select().from(jobEvents).orderBy(jobEvents.id);
  const metadataOf = async (conversationId: string) =>
    (await store().listMessages(conversationId)).find((m) => m.role === "assistant")?.metadata;

  it("logs and returns each snapshot exactly as toJob(record, 0) makes it, through a job's whole life", async () => {
    const { job } = await store().submitJob({ prompt: "a lighthouse", params, callbackUrl: "http://hooks.test/a" });
    // A job stored before a parameter existed: its snapshot fills in the default, as toJob does.
    await test().database.db.execute(sql`update jobs set params = params - 'scheduler' where id = ${job.id}`);
    const startedAt = new Date("2030-01-02T03:04:05.678Z");
    const batches: JournalChange[][] = [
      [move(job.id, "queued", "processing", { progress: 0, attempts: 1, startedAt, backend: "http://gpu-1", turn: 3 })],
      [{ kind: "progress", jobId: job.id, progress: 41.6 }],
      [move(job.id, "processing", "queued", { progress: 0, startedAt: null })],
      [move(job.id, "queued", "processing", { progress: 0, attempts: 2, startedAt, backend: null })],
      [
        move(job.id, "processing", "complete", {
          progress: 100,
          imageUrl: `/images/${job.id}.png`,
          usedSeed: 4294967295,
          finishedAt: new Date("2030-01-02T03:04:09.001Z"),
        }),
      ],
    ];
    const results = [];
    for (const batch of batches) results.push(...(await store().applyJournalBatch(batch)));
    expect(
      results.map((r) => (r.kind === "progress" ? r.job?.progress : r.kind === "transition" && r.applied?.job.status)),
    ).toEqual(["processing", 42, "queued", "processing", "complete"]);
    const logged = (await events()).slice(1);
    const transitions = results.flatMap((r) => (r.kind === "transition" && r.applied ? [r.applied] : []));
    expect(logged.map((e) => e.id)).toEqual(transitions.map((t) => t.eventId));
    for (const [i, applied] of transitions.entries()) {
      expect(applied.snapshot).toEqual(toJob(applied.job, 0));
      expect(logged[i]?.job).toEqual(applied.snapshot);
      expect(applied.job).toEqual(
        i === transitions.length - 1 ? await store().getJob(job.id) : expect.objectContaining({ id: job.id }),
      );
    }
    expect(transitions[0]?.snapshot).toMatchObject({
      attempt: 1,
      backend: "http://gpu-1",
      startedAt: "2030-01-02T03:04:05.678Z",
      params: { ...params },
    });
    expect(transitions[1]?.snapshot).toMatchObject({ status: "queued", attempt: 2, startedAt: null, progress: 0 });
    expect(transitions[3]?.snapshot).toMatchObject({ usedSeed: 4294967295, finishedAt: "2030-01-02T03:04:09.001Z" });
    expect(await metadataOf(job.conversationId)).toEqual(completedMetadata(job));
    // The final status with a callback leaves its delivery, whose body is the logged snapshot.
    const deliveries = await test().database.db.select().from(webhookDeliveries);
    expect(deliveries.map((d) => [d.url, JSON.parse(d.body)])).toEqual([
      ["http://hooks.test/a", transitions[3]?.snapshot],
    ]);
  });

  it("keeps who cancelled a job, in its row, its snapshot (as toJob makes it) and its webhook", async () => {
    const { job } = await store().submitJob({ prompt: "a lighthouse", params, callbackUrl: "http://hooks.test/b" });
    const finishedAt = new Date("2030-01-02T03:04:09.001Z");
    const [result] = await store().applyJournalBatch([
      move(job.id, "queued", "cancelled", { finishedAt, cancelledBy: "admin" }),
    ]);
    const applied = result?.kind === "transition" ? result.applied : null;
    expect(applied?.snapshot).toMatchObject({ status: "cancelled", cancelledBy: "admin" });
    expect(applied?.snapshot).toEqual(toJob(must(applied).job, 0));
    expect(await store().getJob(job.id)).toMatchObject({ cancelledBy: "admin" });
    const deliveries = await test().database.db.select().from(webhookDeliveries);
    expect(deliveries.map((d) => JSON.parse(d.body).cancelledBy)).toEqual(["admin"]);
  });

  it("keeps who moved a job, in its row and in every later snapshot (as toJob makes it) and its webhook", async () => {
    const { job } = await store().submitJob({ prompt: "a harbour", params, callbackUrl: "http://hooks.test/c" });
    expect(await store().getJob(job.id)).toMatchObject({ movedBy: null });
    expect(await store().moveJob(job.id, "front", "admin")).toMatchObject({ movedBy: "admin" });
    expect(await store().getJob(job.id)).toMatchObject({ movedBy: "admin" });
    const finishedAt = new Date("2030-01-02T03:04:09.001Z");
    const [result] = await store().applyJournalBatch([
      move(job.id, "queued", "cancelled", { finishedAt, cancelledBy: "ann" }),
    ]);
    const applied = result?.kind === "transition" ? result.applied : null;
    expect(applied?.snapshot).toMatchObject({ status: "cancelled", movedBy: "admin", cancelledBy: "ann" });
    expect(applied?.snapshot).toEqual(toJob(must(applied).job, 0));
    const deliveries = await test().database.db.select().from(webhookDeliveries);
    expect(deliveries.map((d) => JSON.parse(d.body).movedBy)).toEqual(["admin"]);
    // A job that is not queued is not moved, and nobody is said to have moved it.
    expect(await store().moveJob(job.id, "back", "bob")).toBeNull();
    expect(await store().getJob(job.id)).toMatchObject({ movedBy: "admin" });
  });

  it("applies a batch in its order, and answers a change it cannot apply with nothing, writing nothing for it", async () => {
    const a = (await store().submitJob({ prompt: "a", params })).job;
    const b = (await store().submitJob({ prompt: "b", params })).job;
    const before = (await events()).length;
    const results = await store().applyJournalBatch([
      move(b.id, "queued", "processing", { attempts: 1 }),
      move(a.id, "processing", "complete"),
      { kind: "progress", jobId: a.id, progress: 10 },
      move("not-a-job", "queued", "cancelled"),
      move(b.id, "processing", "error", { error: "out of memory", finishedAt: new Date() }),
      move(a.id, "queued", "cancelled", { finishedAt: new Date() }),
    ]);
    expect(
      results.map((r) => (r.kind === "progress" ? r.job : r.kind === "transition" && (r.applied?.job.status ?? null))),
    ).toEqual(["processing", null, null, null, "error", "cancelled"]);
    const logged = (await events()).slice(before);
    expect(logged.map((e) => [e.jobId, e.status])).toEqual([
      [b.id, "processing"],
      [b.id, "error"],
      [a.id, "cancelled"],
    ]);
    expect(logged.map((e) => e.id)).toEqual([...logged.map((e) => e.id)].sort((x, y) => x - y));
    expect(must(await store().getJob(b.id)).error).toBe("out of memory");
  });

  it("writes the places waiting jobs bring (fifo), with a status change or alone, and none to a job that does not wait", async () => {
    const [a, b, c] = [
      (await store().submitJob({ prompt: "a", params })).job,
      (await store().submitJob({ prompt: "b", params })).job,
      (await store().submitJob({ prompt: "c", params })).job,
    ];
    const placeOf = async (jobId: string) => must(await store().getJob(jobId)).line.place;
    expect(await placeOf(b.id)).toBeNull();
    await store().applyJournalBatch([{ kind: "places", jobId: a.id, places: [{ jobId: a.id, place: b.seq }] }]);
    expect(await placeOf(a.id)).toBe(b.seq);
    const before = (await events()).length;
    const results = await store().applyJournalBatch([
      // a starts in b's place: b brings a's from now on, and a its own seq should it wait again, in its start's commit.
      {
        ...move(a.id, "queued", "processing", { attempts: 1 }),
        places: [
          { jobId: b.id, place: a.seq },
          { jobId: a.id, place: null },
        ],
      },
      // A move's places come alone; a place for a running job (a) or no job at all is not written.
      {
        kind: "places",
        jobId: c.id,
        places: [
          { jobId: c.id, place: b.seq },
          { jobId: a.id, place: c.seq },
          { jobId: "not-a-job", place: 1 },
        ],
      },
      { kind: "places", jobId: b.id, places: [{ jobId: b.id, place: null }] },
    ]);
    expect(results.map((r) => r.kind)).toEqual(["transition", "places", "places"]);
    expect([await placeOf(a.id), await placeOf(b.id), await placeOf(c.id)]).toEqual([null, null, b.seq]);
    // Places are the line's own record: no event, and the job's snapshot does not show them.
    expect((await events()).slice(before).map((e) => e.status)).toEqual(["processing"]);
    await store().applyJournalBatch([{ kind: "places", jobId: b.id, places: [{ jobId: b.id, place: a.seq }] }]);
    expect(await placeOf(b.id)).toBe(a.seq);
  });

  it("writes nothing of a batch once its lease term is over, and refuses it with Fenced", async () => {
    const lease = (holder: string) => new LeaderLease(test().database.db, holder, `http://${holder}`, 60_000);
    const a = lease("a");
    const epoch = must(await a.acquire());
    const fenced = store().withFence(a.fenceOf(epoch));
    const { job } = await store().submitJob({ prompt: "in the old term", params });
    expect((await fenced.applyJournalBatch([move(job.id, "queued", "processing", { attempts: 1 })]))[0]).toMatchObject({
      applied: { job: { status: "processing" } },
    });
    await test().database.db.execute(
      sql`update cluster_leader set expires_at = clock_timestamp() - interval '1 millisecond'`,
    );
    must(await lease("b").acquire());
    const before = (await events()).length;
    await expect(
      fenced.applyJournalBatch([move(job.id, "processing", "complete", { progress: 100 })]),
    ).rejects.toBeInstanceOf(Fenced);
    expect(must(await store().getJob(job.id)).status).toBe("processing");
    expect(await events()).toHaveLength(before);
  });

  it("refuses a whole batch when one change cannot be stored, leaving every row as it was", async () => {
    const a = (await store().submitJob({ prompt: "a", params })).job;
    const b = (await store().submitJob({ prompt: "b", params })).job;
    await expect(
      store().applyJournalBatch([
        move(a.id, "queued", "processing", { attempts: 1 }),
        move(b.id, "queued", "error", { error: "a NUL \u0000 byte", finishedAt: new Date() }),
      ]),
    ).rejects.toThrow();
    expect([must(await store().getJob(a.id)).status, must(await store().getJob(b.id)).status]).toEqual([
      "queued",
      "queued",
    ]);
  });
});
