import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "./database";
import { PgImageStore } from "./pg-image-store";
import type { JobRecord } from "./records";
import { must, params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("deleting a conversation on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const submit = async (prompt: string, conversationId?: string): Promise<JobRecord> =>
    (await store().submitJob({ prompt, params, ...(conversationId === undefined ? {} : { conversationId }) })).job;
  const end = async (job: JobRecord, to: "complete" | "cancelled") => {
    if (to === "complete") await store().applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot });
    await store().applyTransition({ jobId: job.id, from: to === "complete" ? "processing" : "queued", to, snapshot });
  };
  /** How many rows of each table belong to the conversation. */
  const countsOf = async (conversationId: string) => {
    const count = async (query: ReturnType<typeof sql>) =>
      Number(rowsOf(await test().database.db.execute(query))[0]?.["n"]);
    return {
      conversations: await count(sql`select count(*) as n from conversations where id = ${conversationId}`),
      messages: await count(sql`select count(*) as n from messages where conversation_id = ${conversationId}`),
      jobs: await count(sql`select count(*) as n from jobs where conversation_id = ${conversationId}`),
      events: await count(sql`select count(*) as n from job_events where conversation_id = ${conversationId}`),
      images: await count(
        sql`select count(*) as n from job_images where job_id in (select id from jobs where conversation_id = ${conversationId})`,
      ),
    };
  };

  it("deletes a conversation whose jobs ended, with its messages, jobs, events and stored images, and nothing else", async () => {
    const first = await submit("a lighthouse");
    const second = await submit("a harbour", first.conversationId);
    const other = await submit("somebody else's fox");
    await end(first, "complete");
    await end(second, "cancelled");
    await end(other, "complete");
    const images = new PgImageStore(test().database);
    await images.write(first.id, new Uint8Array([1, 2, 3]));
    await images.write(other.id, new Uint8Array([4, 5, 6]));
    expect(await countsOf(first.conversationId)).toEqual({
      conversations: 1,
      messages: 4,
      jobs: 2,
      events: 5,
      images: 1,
    });

    const deleted = await store().deleteConversation(first.conversationId);
    expect(deleted.kind).toBe("deleted");
    expect(deleted.kind === "deleted" && deleted.jobs.map((job) => job.id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
    expect(await countsOf(first.conversationId)).toEqual({
      conversations: 0,
      messages: 0,
      jobs: 0,
      events: 0,
      images: 0,
    });
    expect(await store().getJob(first.id)).toBeNull();
    // The other conversation is untouched.
    expect(await countsOf(other.conversationId)).toMatchObject({ conversations: 1, jobs: 1, images: 1 });
    expect((await images.read(other.id))?.size).toBe(3);
    expect(await store().deleteConversation(first.conversationId)).toEqual({ kind: "missing" });
  });

  it("leaves a webhook delivery still pending to be made, and takes the finished ones", async () => {
    const callbackUrl = "http://receiver.example/hook";
    const delivered = (await store().submitJob({ prompt: "delivered", params, callbackUrl })).job;
    const pending = (
      await store().submitJob({ prompt: "pending", params, callbackUrl, conversationId: delivered.conversationId })
    ).job;
    for (const job of [delivered, pending]) {
      await store().applyJournalBatch([
        { kind: "transition", jobId: job.id, from: "queued", to: "cancelled", patch: { finishedAt: new Date() } },
      ]);
    }
    const db = test().database.db;
    await db.execute(sql`update webhook_deliveries set status = 'delivered' where job_id = ${delivered.id}`);
    const deliveries = async () =>
      rowsOf(
        await db.execute(
          sql`select job_id, status from webhook_deliveries where job_id in (${delivered.id}, ${pending.id}) order by status`,
        ),
      ).map((row) => [row["job_id"], row["status"]]);
    expect(await deliveries()).toEqual([
      [delivered.id, "delivered"],
      [pending.id, "pending"],
    ]);
    expect((await store().deleteConversation(delivered.conversationId)).kind).toBe("deleted");
    expect(await deliveries()).toEqual([[pending.id, "pending"]]);
  });

  it("deletes nothing while a job of it waits or runs, and names those jobs", async () => {
    // The running one was submitted first, as it would have been to be running.
    const running = await submit("runs");
    const waiting = await submit("waits", running.conversationId);
    const done = await submit("done", running.conversationId);
    await store().applyTransition({ jobId: running.id, from: "queued", to: "processing", snapshot });
    await end(done, "cancelled");
    const refused = await store().deleteConversation(waiting.conversationId);
    expect(refused.kind).toBe("live");
    // The waiting one first: cancelling the running one first would let the other start on its GPU.
    expect(refused.kind === "live" && refused.jobIds).toEqual([waiting.id, running.id]);
    expect(await countsOf(waiting.conversationId)).toMatchObject({ conversations: 1, jobs: 3 });
    expect((await store().activeJobs()).map((active) => active.id).sort()).toEqual([waiting.id, running.id].sort());
  });

  it("knows no conversation by an id that is not one", async () => {
    expect(await store().deleteConversation("not-a-uuid")).toEqual({ kind: "missing" });
    expect(await store().deleteConversation("00000000-0000-4000-8000-000000000000")).toEqual({ kind: "missing" });
  });

  it("leaves a submission into the conversation either in it before the deletion or refused after it", async () => {
    const job = await submit("first");
    await end(job, "cancelled");
    const [deletion, late] = await Promise.allSettled([
      store().deleteConversation(job.conversationId),
      submit("sent as it is deleted", job.conversationId),
    ]);
    expect(deletion.status).toBe("fulfilled");
    const outcome = must(deletion.status === "fulfilled" ? deletion.value : null);
    if (outcome.kind === "deleted") {
      // The submission came second: the conversation was gone, and it says so.
      expect(late.status).toBe("rejected");
      expect(late.status === "rejected" && String(late.reason)).toMatch(/conversation/i);
    } else {
      // It came first: its job waits, so nothing was deleted.
      expect(outcome.kind).toBe("live");
      expect(late.status).toBe("fulfilled");
      expect(await countsOf(job.conversationId)).toMatchObject({ conversations: 1, jobs: 2 });
    }
  });
});
