import { startForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { JobStore, openDatabase, toJob } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { waitForStatus } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import { useCleanups } from "./support/cleanups";

describe.each(testDrivers())("a job run again after a crash, on $kind", (driver) => {
  const cleanups = useCleanups();

  it("waits as `queued` with no progress or start time, on its next attempt", async () => {
    const test = await driver.create();
    cleanups.push(() => test.dispose());
    // What a server killed mid-generation leaves behind: the job `processing`, with progress and a start time.
    const database = await openDatabase(test.databaseUrl ? { url: test.databaseUrl } : { dataDir: test.dataDir });
    const store = new JobStore(database);
    const { job } = await store.submitJob({ prompt: uniquePrompt("crashed"), params: { ...DEFAULT_JOB_PARAMS } });
    await store.applyTransition({
      jobId: job.id,
      from: "queued",
      to: "processing",
      patch: { progress: 0, attempts: 1, startedAt: new Date(), backend: "http://gpu-1:7860" },
      snapshot: (record) => toJob(record, 0),
    });
    await store.updateProgress(job.id, 40);
    await database.close();

    // No backend answers, so the job waits for one.
    const server = await startInProcess(
      { dataDir: test.dataDir, databaseUrl: test.databaseUrl },
      { forgeUrls: ["http://127.0.0.1:9"], awaitHealthy: false },
    );
    cleanups.push(() => server.anvil.close());
    expect(await server.trpc.jobs.get.query({ jobId: job.id })).toMatchObject({
      status: "queued",
      queuePosition: 1,
      progress: 0,
      startedAt: null,
      attempt: 2,
      backend: "http://gpu-1:7860",
    });
    const [event] = (await server.anvil.store.eventsAfter(job.lastEventId, { jobId: job.id }, 10)).filter(
      (e) => e.status === "queued",
    );
    expect(event?.job).toMatchObject({ status: "queued", progress: 0, startedAt: null, attempt: 2 });
  }, 60_000);
});

describe("a generation a crashed server left on its backend", () => {
  const cleanups = useCleanups();

  it("is interrupted before the job runs again, waiting out the checkpoint's load an interrupt cannot cut short", async () => {
    const [pglite] = testDrivers();
    const test = await pglite!.create();
    cleanups.push(() => test.dispose());
    const simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    // The database holds the job as running on that backend, which is still at it: loading, then sampling.
    const database = await openDatabase({ dataDir: test.dataDir });
    const store = new JobStore(database);
    const { job } = await store.submitJob({
      prompt: uniquePrompt("crashed while loading"),
      params: { ...DEFAULT_JOB_PARAMS, ...quick },
    });
    await store.applyTransition({
      jobId: job.id,
      from: "queued",
      to: "processing",
      patch: { progress: 0, attempts: 1, startedAt: new Date(), backend: simulator.url },
      snapshot: (record) => toJob(record, 0),
    });
    await database.close();
    simulator.setBusy(true, { loadMs: 1_500, from: "api" });

    const server = await startInProcess({ dataDir: test.dataDir }, { forgeUrls: [simulator.url], awaitHealthy: false });
    cleanups.push(() => server.anvil.close());
    await waitForStatus(server.trpc, job.id, "complete");
    const stats = simulator.stats();
    // Nothing was sent while the load ran: no request waited in Forge's own queue behind it.
    expect(stats.waited).toBe(0);
    expect(stats.log[0]?.outcome).toBe("interrupted");
    expect(stats.log[1]?.startedAt).toBeGreaterThanOrEqual(stats.log[0]?.endedAt ?? Infinity);
    expect(server.logs.some((line) => /this Anvil left there/.test(String(line["msg"])))).toBe(true);
  }, 60_000);
});

describe.each(testDrivers())("attempt and backend of a job, on $kind", (driver) => {
  const server = useTestServer(driver);

  it("are 1 and null before it runs, and name the backend it ran on once it has", async () => {
    const { trpc, simulator } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("fresh"), ...quick });
    expect(job).toMatchObject({ attempt: 1, backend: null });
    expect(await waitForStatus(trpc, job.id, "complete")).toMatchObject({ attempt: 1, backend: simulator.url });
  });
});
