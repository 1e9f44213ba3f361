import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { pruneEventsOlderThan } from "./events";
import type { JobEvent } from "./records";
import { must, params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("job event ids on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);

  it("come in commit order: a polling reader never sees an id below one it saw and gets each event once", async () => {
    const writers = 20;
    const expected = writers * 3;
    const seen: JobEvent[] = [];
    let cursor = 0;
    let writing = true;
    const reader = (async () => {
      // Keep polling while the appenders run; then drain what is left. Only a poll that began after the last
      // commit may end it: one that began before can come back empty although the last event is committed now.
      for (;;) {
        const after = !writing;
        const batch = await store().eventsAfter(cursor, {}, 1000);
        for (const event of batch) {
          expect(event.id).toBeGreaterThan(cursor);
          cursor = event.id;
          seen.push(event);
        }
        if (batch.length === 0) {
          if (after) break;
          await sleep(1);
        }
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async (_, i) => {
        const { job } = await store().submitJob({ prompt: `job ${i}`, params });
        await store().applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot });
        await store().applyTransition({ jobId: job.id, from: "processing", to: "complete", snapshot });
      }),
    );
    writing = false;
    await reader;

    const all = await store().eventsAfter(0, {}, 1000);
    expect(all).toHaveLength(expected);
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it("filter by job and by conversation", async () => {
    const a = await store().submitJob({ prompt: "a", params });
    const b = await store().submitJob({ prompt: "b", params });
    const c = await store().submitJob({ prompt: "c", params, conversationId: a.job.conversationId });
    await store().applyTransition({ jobId: a.job.id, from: "queued", to: "cancelled", snapshot });
    const ids = (events: JobEvent[]) => events.map((e) => `${e.job.prompt}:${e.status}`);
    expect(ids(await store().eventsAfter(0, { jobId: a.job.id }, 10))).toEqual(["a:queued", "a:cancelled"]);
    expect(ids(await store().eventsAfter(0, { conversationId: a.job.conversationId }, 10))).toEqual([
      "a:queued",
      "c:queued",
      "a:cancelled",
    ]);
    expect(ids(await store().eventsAfter(b.job.lastEventId, {}, 10))).toEqual(["c:queued", "a:cancelled"]);
    expect(ids(await store().eventsAfter(0, {}, 2))).toEqual(["a:queued", "b:queued"]);
    expect(await store().eventsAfter(0, { jobId: "not-a-uuid" }, 10)).toEqual([]);
    expect(c.job.lastEventId).toBeGreaterThan(b.job.lastEventId);
  });

  it("pruneEvents drops old events and oldestEventId tells where retained history starts", async () => {
    expect(await store().oldestEventId()).toBeNull();
    expect(await store().latestEventId()).toBeNull();
    const jobs = [];
    for (const prompt of ["a", "b", "c"]) jobs.push((await store().submitJob({ prompt, params })).job);
    const third = must(jobs[2]);
    expect(await store().oldestEventId()).toBe(jobs[0]?.lastEventId);
    expect(await store().latestEventId()).toBe(third.lastEventId);
    expect(await store().pruneEvents(third.lastEventId)).toBe(2);
    expect(await store().oldestEventId()).toBe(third.lastEventId);
    expect((await store().eventsAfter(0, {}, 10)).map((e) => e.jobId)).toEqual([third.id]);
  });

  it("prunes a long backlog a batch at a time, oldest first, and keeps the latest event", async () => {
    await store().submitJobs(Array.from({ length: 25 }, (_, i) => ({ prompt: `old ${i}`, params })));
    const latest = await store().latestEventId();
    // Every event is older than a second from now: all go but the latest, ten per statement.
    expect(await pruneEventsOlderThan(test().database.db, -1_000, 10)).toBe(24);
    expect(await store().oldestEventId()).toBe(latest);
    expect(await pruneEventsOlderThan(test().database.db, -1_000, 10)).toBe(0);
  });
});
