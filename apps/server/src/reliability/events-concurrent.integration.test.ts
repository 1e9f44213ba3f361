import type { Job, JobStatus } from "@anvil/job-machine";
import type { JobEvent } from "@anvil/persistence";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { eventLog, logTriples, statusTriples, subscribeAttached } from "./support/attached";
import type { Received } from "./support/events";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";

const SUBMITTERS = 4;
const JOBS_EACH = 4;
/** The rolling subscriber leaves after this many events and comes back with the last id it saw. */
const EVENTS_PER_CONNECTION = 5;

const isFinal = (status: JobStatus) => status === "complete" || status === "error" || status === "cancelled";

/** A job's statuses in order, each run of repeats (a snapshot of an unchanged status) folded into one. */
const folded = (statuses: readonly JobStatus[]): JobStatus[] =>
  statuses.filter((status, i) => i === 0 || statuses[i - 1] !== status);

describe.each(testDrivers())("jobs.events under concurrent writers on $kind", (driver) => {
  let database: TestDatabase | undefined;
  let running: InProcessServer | undefined;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database);
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("never shows a subscriber that resumes from the last id it saw a gap or a repeat, while several clients submit at once", async () => {
    const { anvil, trpc, url } = running!;
    // Nothing else writes here: the log after this point is this test's.
    const startAfter = (await anvil.store.latestEventId()) ?? 0;

    // Several clients, each submitting its jobs one after another, all at the same time.
    let submitted: Job[] | null = null;
    const submitting = Promise.all(
      Array.from({ length: SUBMITTERS }, async (_, s) => {
        const client = httpClient(url);
        const jobs: Job[] = [];
        for (let j = 0; j < JOBS_EACH; j++) {
          jobs.push(await client.jobs.submit.mutate({ prompt: uniquePrompt(`submitter ${s} job ${j}`), ...quick }));
        }
        return jobs;
      }),
    ).then((jobs) => (submitted = jobs.flat()));

    // Meanwhile a client that keeps leaving and coming back with the id of the last event it received.
    const connections: Received[][] = [];
    let lastEventId = String(startAfter);
    const allFinal = (received: readonly Received[]) =>
      submitted !== null &&
      submitted.every((job) => received.some((e) => e.job.id === job.id && isFinal(e.job.status)));
    for (;;) {
      await waitFor(() => anvil.events.subscribers === 0, "the previous connection is gone");
      const subscription = await subscribeAttached(anvil.events, trpc, { lastEventId });
      cleanups.push(() => subscription.stop());
      await subscription.until(
        (events) => events.length >= EVENTS_PER_CONNECTION || allFinal([...connections.flat(), ...events]),
        "a few events arrive",
      );
      subscription.stop();
      expect(subscription.error()).toBeNull();
      connections.push([...subscription.events]);
      lastEventId = subscription.events.at(-1)?.id ?? lastEventId;
      if (allFinal(connections.flat())) break;
    }
    await submitting;
    const received = connections.flat();
    const log = await eventLog(anvil.store, startAfter);
    const logged = new Map(log.map((event) => [event.id, event]));

    expect(connections.length).toBeGreaterThan(3);
    // No event twice, none out of order, across every reconnection.
    const ids = statusTriples(received).map(([id]) => id);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    // Each status event is the one the log holds under that id.
    for (const [id, jobId, status] of statusTriples(received)) {
      expect([logged.get(id)?.jobId, logged.get(id)?.status]).toEqual([jobId, status]);
    }
    // Every job went through exactly the status changes the log records, none missed, none repeated.
    for (const job of submitted!) {
      const seen = received.filter((e) => e.job.id === job.id).map((e) => e.job.status);
      const inLog = log.filter((e) => e.jobId === job.id).map((e) => e.status);
      expect(folded(seen), job.prompt).toEqual(folded(inLog));
      expect(inLog).toEqual(["queued", "processing", "complete"]);
    }
    expect(log.filter((event) => isFinal(event.status))).toHaveLength(SUBMITTERS * JOBS_EACH);

    // And from any id it saw (every fourth, the first and the last), a resume replays exactly the rest of the log.
    const cursors = ids.filter((_, i) => i % 4 === 0 || i === ids.length - 1);
    for (const cursor of cursors) {
      const rest: JobEvent[] = log.filter((event) => event.id > cursor);
      await waitFor(() => anvil.events.subscribers === 0, "the previous subscription is gone");
      const replay = await subscribeAttached(anvil.events, trpc, { lastEventId: String(cursor) });
      cleanups.push(() => replay.stop());
      await replay.until((events) => statusTriples(events).length >= rest.length, "the rest is replayed");
      replay.stop();
      expect(statusTriples(replay.events), `from ${cursor}`).toEqual(logTriples(rest));
      expect(replay.error()).toBeNull();
    }
  });
});
