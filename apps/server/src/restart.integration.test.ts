import { JobStore, openDatabase, toJob } from "@anvil/persistence";
import type { JobRecord } from "@anvil/persistence";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { quick, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { startTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { waitFor, waitForJob, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("close() on $kind", (driver) => {
  const opened: { database?: TestDatabase; servers: TestServer[] } = { servers: [] };
  afterEach(async () => {
    for (const server of opened.servers.splice(0)) await server.anvil.close();
    await opened.database?.dispose();
  });

  it("leaves a running job processing in the database, its attempt spared, and the next server on it runs the job again to completion", async () => {
    // PGlite on disk here, not in memory: the second server must find what the first one left.
    const database = await driver.create();
    opened.database = database;
    const first = await startTestServer(database);
    opened.servers.push(first);
    const prompt = uniquePrompt("survives a restart");
    const job = await first.trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 150 });
    await waitForJob(first.trpc, job.id, (j) => j.status === "processing", "the job runs");
    await waitFor(() => first.simulator.stats().active === 1, "the generation runs on the simulator");

    await first.anvil.close();
    opened.servers.splice(opened.servers.indexOf(first), 1);
    expect(first.simulator.stats()).toMatchObject({ interrupted: 1, completed: 0 });
    // What the database says between the two lives: the run counts, but a stop is no fault, so it is spared (it does
    // not count toward the job's three attempts).
    const between = await openDatabase({ url: database.databaseUrl, dataDir: database.dataDir });
    try {
      expect(await new JobStore(between).getJob(job.id)).toMatchObject({
        status: "processing",
        attempts: 1,
        spared: 1,
        imageUrl: null,
      });
    } finally {
      await between.close();
    }

    const second = await startTestServer(database);
    opened.servers.push(second);
    const done = await waitForStatus(second.trpc, job.id, "complete");
    expect(done).toMatchObject({ progress: 100, imageUrl: `/images/${job.id}.png`, error: null, attempt: 2 });
    expect(await second.anvil.store.getJob(job.id)).toMatchObject({ status: "complete", attempts: 2, spared: 1 });
    expect(second.simulator.stats().log.filter((entry) => entry.prompt === prompt)).toMatchObject([
      { outcome: "completed" },
    ]);
    const image = await fetch(`${second.url}/images/${job.id}.png`);
    expect(image.headers.get("content-type")).toBe("image/png");
    // Two server starts and a look at the database in between.
  }, 60_000);

  it("runs a job that was running ahead of every turn at the next start: it had its turn", async () => {
    const database = await driver.create();
    opened.database = database;
    const first = await startTestServer(database);
    opened.servers.push(first);
    const as = (name: string) => ({ name, admin: false });
    const submit = (owner: string, label: string, steps = 1) =>
      first.anvil.service.submit({ prompt: uniquePrompt(label), ...DEFAULT_JOB_PARAMS, ...quick, steps }, as(owner));
    // ann has had a turn; then carol's turn comes before ann's next jobs, and carol's job runs when the server stops.
    await waitForStatus(first.trpc, (await submit("ann", "ann's first")).id, "complete");
    await first.trpc.queue.pause.mutate();
    const waiting = [await submit("ann", "ann's second"), await submit("ann", "ann's third")];
    const carols = await submit("carol", "carol's", 150);
    await first.trpc.queue.resume.mutate();
    await waitForJob(first.trpc, carols.id, (j) => j.status === "processing", "carol's job runs");
    await first.anvil.close();
    opened.servers.splice(opened.servers.indexOf(first), 1);

    // The turns say ann's next (carol was served last): carol's job, cut short, goes first all the same.
    const second = await startTestServer(database);
    opened.servers.push(second);
    for (const job of [carols, ...waiting]) await waitForStatus(second.trpc, job.id, "complete");
    const started = second.simulator.stats().log.map((entry) => entry.prompt);
    expect(started).toEqual([carols, ...waiting].map((job) => job.prompt));
    expect(await second.anvil.store.getJob(carols.id)).toMatchObject({ attempts: 2, spared: 1 });
  }, 60_000);

  it("gives up a job cut short three times by faults, but runs one whose three runs a stop spared one of", async () => {
    const database = await driver.create();
    opened.database = database;
    // Two jobs the database holds as running on their third attempt, as a crash left them: one whose earlier runs
    // ended in crashes too, and one whose third run a shutdown had cut short before the crash.
    const before = await openDatabase({ url: database.databaseUrl, dataDir: database.dataDir });
    const [crashed, stopped] = await (async () => {
      try {
        const store = new JobStore(before);
        const running = async (label: string) => {
          const { job } = await store.submitJob({
            prompt: uniquePrompt(label),
            params: { ...DEFAULT_JOB_PARAMS, ...quick },
          });
          const snapshot = (record: JobRecord) => toJob(record, 0);
          await store.applyTransition({
            jobId: job.id,
            from: "queued",
            to: "processing",
            patch: { attempts: 3 },
            snapshot,
          });
          return job;
        };
        const crashedThrice = await running("crashed three times");
        const stoppedOnce = await running("crashed twice, stopped once");
        expect(await store.spareAttempt(stoppedOnce.id, 3, 0)).toBe(true);
        return [crashedThrice, stoppedOnce];
      } finally {
        await before.close();
      }
    })();

    const server = await startTestServer(database);
    opened.servers.push(server);
    const failed = await waitForStatus(server.trpc, crashed!.id, "error");
    expect(failed.error).toMatch(/^This job was interrupted 3 times/);
    const done = await waitForStatus(server.trpc, stopped!.id, "complete");
    expect(done.attempt).toBe(4);
    expect(await server.anvil.store.getJob(stopped!.id)).toMatchObject({ attempts: 4, spared: 1 });
  }, 60_000);
});
