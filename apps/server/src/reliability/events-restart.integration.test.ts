import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitForStatus } from "../testing/wait";
import { eventLog, logTriples, statusTriples, subscribeAttached } from "./support/attached";
import type { Received } from "./support/events";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";
import { useCleanups } from "./support/cleanups";

const completed = (events: readonly Received[], jobs: readonly Job[]) =>
  jobs.every((job) => events.some((e) => e.job.id === job.id && e.job.status === "complete"));

describe.each(testDrivers())("jobs.events resumed across a restart on $kind", (driver) => {
  const cleanups = useCleanups();

  it("replays exactly the status changes the event log holds after lastEventId, nothing twice, ids going on from the first life", async () => {
    const database = await driver.create();
    cleanups.push(() => database.dispose());
    const first: InProcessServer = await startInProcess(database);
    let firstOpen = true;
    cleanups.push(() => (firstOpen ? first.anvil.close() : undefined));

    const before = await subscribeAttached(first.anvil.events, first.trpc);
    cleanups.push(() => before.stop());
    const quickOne = await first.trpc.jobs.submit.mutate({ prompt: uniquePrompt("first life"), ...quick });
    // 150 steps of 5 ms: still running when the server stops, so it runs again in the second life.
    const long = await first.trpc.jobs.submit.mutate({
      prompt: uniquePrompt("spans both lives"),
      ...quick,
      steps: 150,
    });
    await before.until(
      (events) =>
        completed(events, [quickOne]) && events.some((e) => e.job.id === long.id && e.job.status === "processing"),
      "the quick job completes and the long one runs",
    );
    before.stop();
    // What a client would send back: the id of the last event it received.
    const lastEventId = before.events.at(-1)!.id;

    // Missed while away: a job submitted to the first life, its stop, and what the second life does.
    const waiting = await first.trpc.jobs.submit.mutate({ prompt: uniquePrompt("waits across"), ...quick });
    const lastOfFirstLife = (await first.anvil.store.latestEventId())!;
    await first.anvil.close();
    firstOpen = false;
    const second = await startInProcess(database);
    cleanups.push(() => second.anvil.close());
    const later = await second.trpc.jobs.submit.mutate({ prompt: uniquePrompt("second life"), ...quick });
    for (const job of [long, waiting, later]) await waitForStatus(second.trpc, job.id, "complete");

    const after = await subscribeAttached(second.anvil.events, second.trpc, { lastEventId });
    cleanups.push(() => after.stop());
    await after.until((events) => completed(events, [long, waiting, later]), "every missed completion is replayed");
    expect(after.error()).toBeNull();

    const log = await eventLog(second.anvil.store);
    const missed = log.filter((event) => event.id > Number.parseInt(lastEventId, 10));
    // Exactly the log after the cursor: in order, each status change once, nothing left out.
    expect(statusTriples(after.events)).toEqual(logTriples(missed));
    // The job that was running when the first life ended waits again (queued, not a stale processing), runs again
    // from the start, and completes once.
    expect(missed.filter((e) => e.jobId === long.id).map((e) => e.status)).toEqual([
      "queued",
      "processing",
      "complete",
    ]);
    // Both subscriptions together received the whole log, no event twice.
    const ids = [...statusTriples(before.events), ...statusTriples(after.events)].map(([id]) => id);
    expect(ids).toEqual(log.map((e) => e.id));
    // The second life's events continue the first life's sequence.
    const secondLife = log.filter((e) => e.jobId === later.id || (e.jobId === long.id && e.status === "complete"));
    expect(secondLife.length).toBeGreaterThan(0);
    for (const event of secondLife) expect(event.id).toBeGreaterThan(lastOfFirstLife);
  }, 40_000);
});
