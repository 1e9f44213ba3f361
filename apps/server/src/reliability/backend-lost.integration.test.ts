import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { afterEach, describe, expect, it } from "vitest";
import type { AnvilServer } from "../anvil";
import { uniquePrompt } from "../testing/fixtures";
import { scrape, valueOf } from "../testing/prometheus";
import { testDrivers, type TestDatabase } from "../testing/test-databases";
import { waitFor, waitForJob } from "../testing/wait";
import { anvilOn, anvilOnBackends, runningJob } from "./support/dying-backend";

describe.each(testDrivers())("a backend that dies mid-generation, on $kind", { timeout: 60_000 }, (driver) => {
  let anvil: AnvilServer | undefined;
  let database: TestDatabase | undefined;
  let sims: ForgeSimulator[] = [];

  afterEach(async () => {
    await anvil?.close();
    await Promise.all(sims.map((sim) => sim.close()));
    await database?.dispose();
  });

  /** Closes the server and starts another on the same database and backends, as a restart does. */
  const restart = async (forgeUrls: string[]) => {
    await anvil?.close();
    const started = await anvilOn(database!, forgeUrls);
    anvil = started.anvil;
    return started.trpc;
  };

  it("does not fail the job: it runs again on the other backend as attempt 2, and that backend comes back", async () => {
    database = await driver.create();
    sims = await Promise.all([startForgeSimulator({ stepMs: 20 }), startForgeSimulator({ stepMs: 20 })]);
    const started = await anvilOnBackends(
      database,
      sims.map((sim) => sim.url),
    );
    anvil = started.anvil;
    const { trpc } = started;
    const first = await runningJob(trpc, "survives its GPU", 100);
    const dying = sims.find((sim) => sim.url === first.backend)!;
    const other = sims.find((sim) => sim !== dying)!;
    await dying.setOffline(true);
    // Taking the backend for gone takes a few seconds of failed probes (a blip is not a death).
    let done = first;
    await waitFor(
      async () => (done = await trpc.jobs.get.query({ jobId: first.id })).status === "complete",
      () => `the job completes elsewhere (last seen: ${done.status} ${done.progress}% ${done.error ?? ""})`,
      30_000,
    );
    expect(done).toMatchObject({ attempt: 2, backend: other.url, error: null });
    expect(other.stats().completed).toBe(1);
    // The GPU that died is busy no longer: the time since is not GPU time (it was, for good, in /metrics).
    const busy = async () => valueOf(await scrape(anvil!.url), "anvil_gpu_busy_seconds_total", { backend: dying.url });
    const since = await busy();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await busy()).toBe(since);
    await dying.setOffline(false);
    // Its probes have backed off meanwhile, by up to 10 s between two (backend-monitor.ts).
    await waitFor(
      () => anvil!.service.monitor.health().every((backend) => backend.healthy),
      "the backend is back",
      25_000,
    );
  });

  it("keeps a job that waits again after its backend died ahead of the turns when the server restarts meanwhile", async () => {
    database = await driver.create();
    sims = [await startForgeSimulator({ stepMs: 20 })];
    const [sim] = sims as [ForgeSimulator];
    const started = await anvilOnBackends(database, [sim.url]);
    anvil = started.anvil;
    const submitAs = (name: string, label: string, steps: number) =>
      started.anvil.service.submit(
        { prompt: uniquePrompt(label), ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps },
        { name, admin: false },
      );
    // ann's job runs (her turn), bob's waits; then the only GPU dies and ann's job waits again, ahead of bob's.
    const ann = await submitAs("ann", "ann's, runs twice", 100);
    await waitForJob(started.trpc, ann.id, (job) => job.status === "processing" && job.progress > 0, "ann's job runs");
    const bob = await submitAs("bob", "bob's, waits", 1);
    await sim.setOffline(true);
    await waitForJob(started.trpc, ann.id, (job) => job.status === "queued" && job.attempt === 2, "ann's waits again");
    const positions = async (trpc: typeof started.trpc) =>
      Promise.all([ann, bob].map(async (job) => (await trpc.jobs.get.query({ jobId: job.id })).queuePosition));
    expect(await positions(started.trpc)).toEqual([1, 2]);

    // A restart while the GPU is still away: bob was never served, but ann's job had its turn and runs first still.
    const trpc = await restart([sim.url]);
    expect(await positions(trpc)).toEqual([1, 2]);
    await sim.setOffline(false);
    const done = await Promise.all(
      [ann, bob].map((job) => waitForJob(trpc, job.id, (j) => j.status === "complete", "both complete", 30_000)),
    );
    expect(Date.parse(done[0]!.startedAt!)).toBeLessThan(Date.parse(done[1]!.startedAt!));
  });

  it("rebuilds jobs that wait again in the order the line had them: the latest back first, one moved since in its lane", async () => {
    database = await driver.create();
    sims = await Promise.all([startForgeSimulator({ stepMs: 20 }), startForgeSimulator({ stepMs: 20 })]);
    const urls = sims.map((sim) => sim.url);
    const started = await anvilOnBackends(database, urls);
    anvil = started.anvil;
    const submitAs = (name: string, steps: number) =>
      started.anvil.service.submit(
        { prompt: uniquePrompt(`${name}'s`), ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps },
        { name, admin: false },
      );
    const runs = (job: { id: string }) =>
      waitForJob(started.trpc, job.id, (j) => j.status === "processing" && j.progress > 0, "it runs");
    // ann's and carl's jobs run, one on each GPU; bob's waits. Then ann's GPU dies, then carl's: each job waits
    // again at the very front as it comes back, carl's (the latest back) first. carl moved his while it waited for
    // dan's short one: a move from before it ran says nothing of where it waits again.
    const ann = await runs(await submitAs("ann", 5_000));
    await runs(await submitAs("dan", 150));
    const waiting = await submitAs("carl", 5_000);
    await anvil.service.move(waiting.id, "front", false, { name: "carl", admin: false });
    const carl = await runs(waiting);
    const bob = await submitAs("bob", 1);
    for (const job of [ann, carl]) {
      await sims.find((sim) => sim.url === job.backend)!.setOffline(true);
      // Taking a backend for gone takes a few seconds of failed probes (a blip is not a death).
      await waitForJob(started.trpc, job.id, (j) => j.status === "queued" && j.attempt === 2, "it waits again", 30_000);
    }
    const positions = async (trpc: typeof started.trpc) =>
      Promise.all([ann, bob, carl].map(async (job) => (await trpc.jobs.get.query({ jobId: job.id })).queuePosition));
    expect(await positions(started.trpc)).toEqual([2, 3, 1]);
    let trpc = await restart(urls);
    expect(await positions(trpc)).toEqual([2, 3, 1]);

    // carl moves his job behind his others: it waits in his turn now, after bob's (bob was never served).
    await anvil.service.move(carl.id, "back", false, { name: "carl", admin: false });
    expect(await positions(trpc)).toEqual([1, 2, 3]);
    trpc = await restart(urls);
    expect(await positions(trpc)).toEqual([1, 2, 3]);
  });
});
