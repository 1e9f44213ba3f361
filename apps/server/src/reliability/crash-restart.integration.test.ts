import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import type { AnvilClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForJob } from "../testing/wait";
import { spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";
import { allFinal, statusEvents, subscribe } from "./support/events";

const runsOf = (simulator: ForgeSimulator, prompt: string) =>
  simulator.stats().log.filter((entry) => entry.prompt === prompt);

describe.each(testDrivers())("kill -9 of the built server on $kind", (driver) => {
  const { servers, cleanups } = useBuiltServers(90_000);
  let simulator: ForgeSimulator;
  let database: TestDatabase;

  /** The simulator lives in the test process, so that it outlives the server like a real Forge does. */
  const setUp = async (stepMs: number) => {
    simulator = await startForgeSimulator({ stepMs });
    cleanups.push(() => simulator.close());
    database = await driver.create();
    cleanups.push(() => database.dispose());
  };
  const start = async (): Promise<{ server: ServerProcess; trpc: AnvilClient }> => {
    const server = await spawnServer({
      FORGE_URL: simulator.url,
      DATA_DIR: database.dataDir,
      // On PostgreSQL the restarted server leads once the killed one's lease has run out: keep that short here.
      ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl, LEASE_MS: "1000" } : {}),
      JOB_TIMEOUT_MS: "120000",
    });
    servers.push(server);
    return { server, trpc: httpClient(server.url) };
  };
  const crash = async (server: ServerProcess) => {
    expect(await server.kill("SIGKILL")).toMatchObject({ signal: "SIGKILL" });
    servers.splice(servers.indexOf(server), 1);
  };

  it("loses nothing: queued jobs run in order, the running one runs again from the start after its orphan is interrupted, ids go on", async () => {
    await setUp(10);
    let { server, trpc } = await start();
    const before = subscribe(trpc);
    cleanups.push(() => before.stop());
    const prompts = [0, 1, 2, 3, 4].map((i) => uniquePrompt(`crash ${i}`));
    const submitted: Job[] = [];
    // The second job is long enough to be caught running; the others are quick.
    for (const [i, prompt] of prompts.entries()) {
      submitted.push(await trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: i === 1 ? 100 : 10 }));
    }
    const ids = submitted.map((job) => job.id);
    const victim = submitted[1]!;
    await waitForJob(trpc, victim.id, (job) => job.status === "processing", "the second job runs");
    // The first is done, its image kept (the GPU goes on to the next job while an image is being kept).
    await waitForJob(trpc, submitted[0]!.id, (job) => job.status === "complete", "the first job is complete");
    await waitFor(() => runsOf(simulator, victim.prompt).at(-1)?.outcome === "running", "the simulator runs it");
    // Slow the GPU down so that the generation the dead server leaves behind is still running when the next one starts.
    simulator.setStepMs(1_000);
    await before.until(
      (events) => statusEvents(events).some((e) => e.jobId === victim.id && e.status === "processing"),
      "the processing event arrived",
    );
    before.stop();
    const lastIdBefore = Math.max(...statusEvents(before.events).map((e) => e.id));

    await crash(server);
    // Forge goes on generating after its client died.
    expect(simulator.stats().active).toBe(1);
    expect(runsOf(simulator, victim.prompt)).toMatchObject([{ outcome: "running" }]);

    ({ server, trpc } = await start());
    await waitFor(
      () => runsOf(simulator, victim.prompt)[0]?.outcome === "interrupted",
      "the orphaned generation is interrupted",
      20_000,
    );
    simulator.setStepMs(10);
    const after = subscribe(trpc, { lastEventId: String(lastIdBefore) });
    cleanups.push(() => after.stop());
    await after.until((events) => allFinal([...before.events, ...events], ids), "every job is final", 30_000);
    const done = await Promise.all(ids.map((jobId) => trpc.jobs.get.query({ jobId })));

    expect(done.map((job) => job.status)).toEqual(ids.map(() => "complete"));
    // In submission order, on the GPU and as the jobs record it.
    const completed = simulator
      .stats()
      .log.filter((entry) => entry.outcome === "completed")
      .map((entry) => entry.prompt);
    expect(completed).toEqual(prompts);
    const startedAt = done.map((job) => Date.parse(job.startedAt!));
    expect(startedAt).toEqual([...startedAt].sort((a, b) => a - b));
    // Anvil never had two requests in Forge, across both lives.
    expect(simulator.stats()).toMatchObject({ maxConcurrent: 1, overlaps: 0, maxQueued: 1 });
    // The killed job ran again from the start, once the orphan had stopped.
    // The restarted server says so in its log, as for every status change: waiting again, as its next attempt.
    expect(
      server.logs.filter((line) => line.msg === "job processing → queued" && line["jobId"] === victim.id),
    ).toMatchObject([{ from: "processing", to: "queued", attempt: 2, backend: simulator.url }]);
    const [orphan, rerun] = runsOf(simulator, victim.prompt);
    expect(orphan?.outcome).toBe("interrupted");
    expect(rerun?.outcome).toBe("completed");
    expect(rerun!.startedAt).toBeGreaterThanOrEqual(orphan!.endedAt!);
    // Nothing completed twice.
    for (const prompt of prompts)
      expect(runsOf(simulator, prompt).filter((e) => e.outcome === "completed")).toHaveLength(1);
    const allEvents = statusEvents([...before.events, ...after.events]);
    for (const id of ids) expect(allEvents.filter((e) => e.jobId === id && e.status === "complete")).toHaveLength(1);
    const afterEvents = statusEvents(after.events);
    // Events after the restart continue the same id sequence.
    expect(afterEvents.length).toBeGreaterThan(0);
    expect(Math.min(...afterEvents.map((e) => e.id))).toBeGreaterThan(lastIdBefore);
    expect(afterEvents.map((e) => e.id)).toEqual([...afterEvents.map((e) => e.id)].sort((a, b) => a - b));
    expect(new Set(afterEvents.map((e) => e.id)).size).toBe(afterEvents.length);
  }, 90_000);

  it("ends a job in error, saying it was interrupted, when its third attempt is killed too; the next job still runs", async () => {
    await setUp(20);
    let { server, trpc } = await start();
    const prompt = uniquePrompt("killed three times");
    const doomed = await trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 150 });
    const next = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("after the doomed one"),
      width: 64,
      height: 64,
      steps: 2,
    });
    let startedAt: string | null = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      // The attempt is under way on the GPU and recorded (a new startedAt) before the kill.
      await waitFor(
        () => runsOf(simulator, prompt).length === attempt && runsOf(simulator, prompt).at(-1)?.outcome === "running",
        `attempt ${attempt} runs on the simulator`,
      );
      const running = await waitForJob(
        trpc,
        doomed.id,
        (job) => job.status === "processing" && job.startedAt !== startedAt,
        `attempt ${attempt} is recorded`,
      );
      startedAt = running.startedAt;
      simulator.setStepMs(1_000);
      await crash(server);
      ({ server, trpc } = await start());
      await waitFor(
        () => runsOf(simulator, prompt)[attempt - 1]?.outcome === "interrupted",
        `orphan ${attempt} is interrupted`,
      );
      simulator.setStepMs(20);
    }

    const failed = await waitForJob(trpc, doomed.id, (job) => job.status === "error", "the job is given up");
    expect(failed.error).toMatch(/interrupted 3 times/i);
    expect(failed.imageUrl).toBeNull();
    await waitForJob(trpc, next.id, (job) => job.status === "complete", "the next job completes");
    const runs = runsOf(simulator, prompt);
    expect(runs.map((run) => run.outcome)).toEqual(["interrupted", "interrupted", "interrupted"]);
    expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1, maxQueued: 1 });
  }, 90_000);
});
