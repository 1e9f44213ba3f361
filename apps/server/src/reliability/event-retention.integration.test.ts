import type { JobEvent } from "@anvil/persistence";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { wsClient } from "../testing/clients";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { eventLog, failureOf, logTriples, statusTriples, subscribeAttached } from "./support/attached";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";

/** Short enough to watch the loop prune by itself; the loop runs every PRUNE_EVERY_MS. */
const RETENTION_MS = 1_000;
const PRUNE_EVERY_MS = 50;

describe.each(testDrivers())("event log retention on $kind", (driver) => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    // The next test counts attached subscriptions: none of this one's may still be leaving.
    await waitFor(() => running?.anvil.events.subscribers === 0, "every subscription is detached");
  });
  // One server for both tests: starting PGlite is the slowest part, and each test waits for its own events to age.
  let database: TestDatabase | undefined;
  let running: InProcessServer | undefined;
  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database, {
      eventRetentionMs: RETENTION_MS,
      eventPruneIntervalMs: PRUNE_EVERY_MS,
    });
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });
  const server = (): InProcessServer => {
    if (!running) throw new Error("the server has not started");
    return running;
  };

  /**
   * Runs one quick job to the end and returns it with the ids of its three status events (queued, processing,
   * complete) as a subscriber received them: on a busy machine the first may have aged past the retention already.
   */
  const finishedJob = async ({ trpc, anvil }: InProcessServer) => {
    const subscription = await subscribeAttached(anvil.events, trpc);
    cleanups.push(() => subscription.stop());
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("retained"), ...quick });
    await subscription.until(
      (events) => events.some((e) => e.job.id === job.id && e.job.status === "complete"),
      "the job completes",
    );
    subscription.stop();
    const received = statusTriples(subscription.events).filter(([, jobId]) => jobId === job.id);
    expect(received.map(([, , status]) => status)).toEqual(["queued", "processing", "complete"]);
    const [queued, processing, complete] = received.map(([id]) => id) as [number, number, number];
    return { queued, processing, complete };
  };

  it("prunes events older than the retention by itself, never younger ones, and always keeps the latest event", async () => {
    const { anvil, trpc } = server();
    const subscription = await subscribeAttached(anvil.events, trpc);
    cleanups.push(() => subscription.stop());
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("retained"), ...quick });
    // When each event was written: the queued one's is its job's `createdAt` (one transaction writes both); the
    // others' are learnt from the log while they are in it.
    const writtenAt = new Map<number, string>();

    // Watched from the submission on, so that the first reads come while the job's first events are young.
    let log: JobEvent[] = [];
    await waitFor(async () => {
      const received = statusTriples(subscription.events).filter(([, jobId]) => jobId === job.id);
      log = await eventLog(anvil.store);
      const checkedAt = Date.now();
      if (received[0]) writtenAt.set(received[0][0], job.createdAt);
      for (const event of log) writtenAt.set(event.id, event.createdAt);
      const kept = new Set(log.map((e) => e.id));
      for (const [id] of received) {
        // Pruning takes a prefix of the log: nothing newer than the oldest kept event is missing.
        const oldest = log[0]?.id ?? Infinity;
        if (id > oldest) expect(kept.has(id), `event ${id} is missing behind ${oldest}`).toBe(true);
        const at = writtenAt.get(id);
        if (!kept.has(id) && at !== undefined) {
          expect(checkedAt - Date.parse(at), `event ${id} was pruned while young`).toBeGreaterThanOrEqual(RETENTION_MS);
        }
      }
      return received.at(-1)?.[2] === "complete" && log.length === 1;
    }, "the job completes and its aged events are pruned");

    // The latest event stays, however old it gets, so ids go on from it.
    const [latest] = log;
    await waitFor(() => Date.now() - Date.parse(latest!.createdAt) > RETENTION_MS, "the latest event ages");
    const passes = anvil.service.retention.completedPasses;
    await waitFor(() => anvil.service.retention.completedPasses >= passes + 2, "the loop prunes twice more");
    expect(logTriples(await eventLog(anvil.store))).toEqual(logTriples([latest!]));
    expect(latest).toMatchObject({ jobId: job.id, status: "complete" });
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after pruning"), ...quick });
    expect((await anvil.store.getJob(next.id))!.lastEventId).toBeGreaterThan(latest!.id);
    // Its events must not fall between the next test's own (its image may be kept while the next job generates).
    await waitForStatus(trpc, next.id, "complete");
  });

  it("answers a resume from before the kept history with PRECONDITION_FAILED asking to reload, and replays from inside it", async () => {
    const { anvil, trpc, url } = server();
    const { queued, processing, complete } = await finishedJob(server());
    await waitFor(async () => (await anvil.store.oldestEventId()) === complete, "the aged events are pruned");
    const kept = await eventLog(anvil.store);

    // `queued` and `processing` were pruned: resuming after `queued` (or from the very start) would miss one.
    const ws = wsClient(url);
    cleanups.push(() => ws.close());
    for (const [client, lastEventId] of [
      [trpc, queued],
      [ws.client, queued],
      [trpc, 0],
    ] as const) {
      const gone = await subscribeAttached(anvil.events, client, { lastEventId: String(lastEventId) });
      cleanups.push(() => gone.stop());
      const { code, message } = await failureOf(gone);
      expect(code).toBe("PRECONDITION_FAILED");
      expect(message).toMatch(/reload/i);
      expect(gone.events).toEqual([]);
    }

    // After `processing` nothing is missing: the kept history starts with the next event.
    const inside = await subscribeAttached(anvil.events, trpc, { lastEventId: String(processing) });
    cleanups.push(() => inside.stop());
    await inside.until((events) => events.length > 0, "the kept event is replayed");
    const latest = await subscribeAttached(anvil.events, ws.client, { lastEventId: String(complete) });
    cleanups.push(() => latest.stop());

    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("live after a resume"), ...quick });
    await waitForStatus(trpc, next.id, "complete");
    const nextEvents = await anvil.store.eventsAfter(complete, { jobId: next.id }, 10);
    for (const subscription of [inside, latest]) {
      await subscription.until(
        (events) => events.some((e) => e.job.id === next.id && e.job.status === "complete"),
        "the live job completes",
      );
    }
    // The live job's three events, as the subscriber from the newest kept event got them; the log may have pruned
    // the first of them by now (it ages past the retention while the job runs on a loaded machine).
    const live = statusTriples(latest.events);
    expect(live.map(([, jobId, status]) => [jobId, status])).toEqual(
      ["queued", "processing", "complete"].map((status) => [next.id, status]),
    );
    expect(live.slice(live.length - nextEvents.length)).toEqual(logTriples(nextEvents));
    expect(statusTriples(inside.events)).toEqual([...logTriples(kept), ...live]);
    expect(inside.error()).toBeNull();
    expect(latest.error()).toBeNull();
  });
});
