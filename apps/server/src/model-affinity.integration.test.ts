import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { DispatchRecord } from "@anvil/api";
import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startAnvil } from "./anvil";
import type { AnvilServer } from "./anvil";
import { httpClient } from "./testing/clients";
import type { AnvilClient } from "./testing/clients";
import { quick, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase, TestDriver } from "./testing/test-databases";
import { backendsUp, standInWebApp, testServerConfig } from "./testing/test-server";
import { waitFor, waitForJob, waitForStatus } from "./testing/wait";

/** The bound on passes (DEFAULT_AFFINITY). */
const BOUND = 3;

/**
 * ann: sdxl flux sdxl flux sdxl flux, then bob: sdxl flux sdxl flux, on two GPUs that both start with flux loaded.
 * Whichever GPU frees first each time, the scheduler's rules give at most 2 model loads with affinity and at least 3
 * without (every order was explored with the scheduler's own code), so the comparison cannot depend on timing.
 */
const WORKLOAD: [owner: string, checkpoint: string][] = [
  ...["sdxl-base-1.0", "flux1-dev", "sdxl-base-1.0", "flux1-dev", "sdxl-base-1.0", "flux1-dev"].map(
    (checkpoint): [string, string] => ["ann", checkpoint],
  ),
  ...["sdxl-base-1.0", "flux1-dev", "sdxl-base-1.0", "flux1-dev"].map((checkpoint): [string, string] => [
    "bob",
    checkpoint,
  ]),
];

interface TwoGpus {
  anvil: AnvilServer;
  trpc: AnvilClient;
  sims: ForgeSimulator[];
  database: TestDatabase;
}

const opened: TwoGpus[] = [];

/** Anvil on two simulators with a switch cost, inspection on (dispatch reasons), queue paused. */
async function startTwoGpus(driver: TestDriver, modelAffinity: boolean): Promise<TwoGpus> {
  const database = await driver.create();
  const sims = await Promise.all([0, 1].map(() => startForgeSimulator({ stepMs: 5, modelLoadMs: 40 })));
  const anvil = await startAnvil({
    ...testServerConfig(database),
    forgeUrls: sims.map((sim) => sim.url),
    modelAffinity,
    inspect: "on",
    logger: pino({ level: "silent" }),
    probeIntervalMs: 200,
    webDir: await standInWebApp(database.dataDir),
  });
  const gpus = { anvil, trpc: httpClient(anvil.url), sims, database };
  opened.push(gpus);
  await backendsUp(anvil);
  await gpus.trpc.queue.pause.mutate();
  return gpus;
}

/** Submits the workload as its owners (not admins), in order. */
async function submitWorkload({ anvil }: TwoGpus): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const [owner, checkpoint] of WORKLOAD) {
    const input = {
      prompt: uniquePrompt(`${owner} ${checkpoint}`),
      ...DEFAULT_JOB_PARAMS,
      ...quick,
      checkpoint,
    };
    jobs.push(await anvil.service.submit(input, { name: owner, admin: false }));
  }
  return jobs;
}

/** The waiting jobs in the order of the positions jobs.get reports, which must be exactly 1..n. */
async function projectedOrder(trpc: AnvilClient, jobs: Job[]): Promise<Job[]> {
  const read = await Promise.all(jobs.map((job) => trpc.jobs.get.query({ jobId: job.id })));
  const waiting = read.filter((job) => job.status === "queued").sort((a, b) => a.queuePosition - b.queuePosition);
  expect(waiting.map((job) => job.queuePosition)).toEqual(waiting.map((_, i) => i + 1));
  return waiting;
}

/** The dispatch decisions of these jobs, oldest first, as /inspect's debug.scheduler reports them. */
async function decisionsOf(trpc: AnvilClient, jobs: Job[]): Promise<DispatchRecord[]> {
  const ids = new Set(jobs.map((job) => job.id));
  const { dispatches } = await trpc.debug.scheduler.query();
  return dispatches.filter((decision) => ids.has(decision.jobId)).reverse();
}

const switches = (sims: ForgeSimulator[]): number => sims.reduce((sum, sim) => sum + sim.stats().modelLoads, 0);

/**
 * Each job's passes, recounted from the decisions alone: a job is passed over when a later job of its owner starts
 * before it (one priority, no moves: an owner's jobs rank in submission order). Checks each decision's own count.
 */
function passesOf(jobs: Job[], decisions: DispatchRecord[]): Map<string, number> {
  const seq = new Map(jobs.map((job, i) => [job.id, i]));
  const owner = new Map(jobs.map((job) => [job.id, job.owner]));
  const started = new Set<string>();
  const passes = new Map<string, number>();
  for (const decision of decisions) {
    const at = seq.get(decision.jobId) ?? -1;
    const passed = jobs.filter(
      (job) => owner.get(job.id) === decision.owner && (seq.get(job.id) ?? 0) < at && !started.has(job.id),
    );
    expect(decision.passedOver).toBe(passed.length);
    for (const job of passed) passes.set(job.id, (passes.get(job.id) ?? 0) + 1);
    started.add(decision.jobId);
  }
  return passes;
}

const ownersOf = (ids: string[], jobs: Job[]): string[] =>
  ids.map((id) => jobs.find((job) => job.id === id)?.owner ?? "?");

describe.each(testDrivers())("model affinity with two GPUs on $kind", { timeout: 120_000 }, (driver) => {
  afterEach(async () => {
    for (const { anvil, sims, database } of opened.splice(0)) {
      await anvil.close();
      await Promise.all(sims.map((sim) => sim.close()));
      await database.dispose();
    }
  });

  /** Runs the workload to its end; what started in which order, and the model loads it cost. */
  async function run(modelAffinity: boolean) {
    const gpus = await startTwoGpus(driver, modelAffinity);
    const jobs = await submitWorkload(gpus);
    const projected = await projectedOrder(gpus.trpc, jobs);
    expect(projected).toHaveLength(jobs.length);
    await gpus.trpc.queue.resume.mutate();
    for (const job of jobs) await waitForStatus(gpus.trpc, job.id, "complete");
    const decisions = await decisionsOf(gpus.trpc, jobs);
    return { jobs, projected, decisions, switches: switches(gpus.sims) };
  }

  it("loads models fewer times than the same line without affinity, passing no job over more than the bound", async () => {
    const on = await run(true);
    const off = await run(false);
    expect(on.switches).toBeLessThanOrEqual(2);
    expect(off.switches).toBeGreaterThanOrEqual(3);
    expect(on.decisions.filter((d) => d.switched)).toHaveLength(on.switches);

    // Without affinity the jobs start exactly in the order of the positions jobs.get reported.
    expect(off.decisions.map((d) => d.jobId)).toEqual(off.projected.map((job) => job.id));
    expect(off.decisions.every((d) => d.passedOver === 0)).toBe(true);

    // With it the turns are the same, owner by owner; within one owner's jobs affinity picks, and says so.
    expect(
      ownersOf(
        on.decisions.map((d) => d.jobId),
        on.jobs,
      ),
    ).toEqual(on.projected.map((job) => job.owner));
    const kept = on.decisions.filter((d) => d.kind === "affinity");
    expect(kept.length).toBeGreaterThan(0);
    for (const decision of kept) {
      expect(decision.reason).toMatch(
        new RegExp(
          `^${decision.owner}'s turn: kept (flux1-dev|sdxl-base-1\\.0) on GPU ${decision.backend}, passed over \\d+ jobs?$`,
        ),
      );
    }
    const passes = passesOf(on.jobs, on.decisions);
    expect(Math.max(0, ...passes.values())).toBeLessThanOrEqual(BOUND);
  }, 120_000);

  it("knows the model a backend has loaded whatever name Forge's options give it", async () => {
    // Both simulators start as Forge does: `sd_model_checkpoint` names flux1-dev by its file name, with no hash,
    // while a job's checkpoint is resolved to the title Forge lists, "flux1-dev.safetensors [hash]".
    const gpus = await startTwoGpus(driver, true);
    const options = await fetch(`${gpus.sims[0]!.url}/sdapi/v1/options`).then((r) => r.json());
    expect(options).toMatchObject({ sd_model_checkpoint: "flux1-dev.safetensors" });
    const job = await gpus.anvil.service.submit(
      { prompt: uniquePrompt("loaded"), ...DEFAULT_JOB_PARAMS, ...quick, checkpoint: "flux1-dev" },
      { name: "ann", admin: false },
    );
    expect(job.params.checkpoint).toMatch(/^flux1-dev\.safetensors \[[0-9a-f]+\]$/);
    await gpus.trpc.queue.resume.mutate();
    await waitForStatus(gpus.trpc, job.id, "complete");
    const [decision] = await decisionsOf(gpus.trpc, [job]);
    expect(decision).toMatchObject({ switched: false });
    expect(decision?.reason).toMatch(/flux1-dev already loaded on GPU \d$/);
    expect(switches(gpus.sims)).toBe(0);
  });

  it("keeps every position exact after affinity picks: read mid-run, they are 1..n and the turns follow them", async () => {
    const gpus = await startTwoGpus(driver, true);
    const jobs = await submitWorkload(gpus);
    await gpus.trpc.queue.resume.mutate();
    await waitFor(
      async () => (await decisionsOf(gpus.trpc, jobs)).some((d) => d.kind === "affinity"),
      "a GPU kept its model",
    );
    await gpus.trpc.queue.pause.mutate();
    const started = await decisionsOf(gpus.trpc, jobs);
    const before = started.length;
    // A job reads as queued until its start is written: wait for that before reading positions.
    for (const { jobId } of started) await waitForJob(gpus.trpc, jobId, (job) => job.status !== "queued");
    const projected = await projectedOrder(gpus.trpc, jobs);
    expect(projected.length).toBe(jobs.length - before);
    const { queue } = await gpus.trpc.debug.scheduler.query();
    expect(queue.map((entry) => entry.jobId)).toEqual(projected.map((job) => job.id));

    await gpus.trpc.queue.resume.mutate();
    for (const job of jobs) await waitForStatus(gpus.trpc, job.id, "complete");
    const decisions = await decisionsOf(gpus.trpc, jobs);
    const after = decisions.slice(before).map((d) => d.jobId);
    expect(ownersOf(after, jobs)).toEqual(projected.map((job) => job.owner));
    expect(new Set(after)).toEqual(new Set(projected.map((job) => job.id)));
    expect(Math.max(0, ...passesOf(jobs, decisions).values())).toBeLessThanOrEqual(BOUND);
    // The passes the scheduler counted until the pause are the ones /inspect showed for each waiting job.
    const passesBefore = passesOf(jobs, started);
    for (const entry of queue) expect(entry.passedOver).toBe(passesBefore.get(entry.jobId) ?? 0);
  }, 120_000);
});
