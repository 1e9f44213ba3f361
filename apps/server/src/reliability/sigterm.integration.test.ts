import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { JobStore, openDatabase } from "@anvil/persistence";
import type { JobRecord } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import type { AnvilClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { pause, waitFor, waitForJob } from "../testing/wait";
import { spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";
import { statusEvents, subscribe } from "./support/events";
import { startTcpProxy } from "./support/tcp-proxy";

const runsOf = (simulator: ForgeSimulator, prompt: string) =>
  simulator
    .stats()
    .log.filter((entry) => entry.prompt === prompt)
    .map((entry) => entry.outcome);

// The embedded database, as `npm run serve` runs by default: the restart happens on the same DATA_DIR.
describe("SIGTERM of the built server", () => {
  const driver = testDrivers().find((candidate) => candidate.kind === "pglite")!;
  const { servers, cleanups } = useBuiltServers(60_000);
  let simulator: ForgeSimulator;
  let database: TestDatabase;

  /** The simulator lives in the test process, so that it outlives the server like a real Forge does. */
  const setUp = async () => {
    simulator = await startForgeSimulator({ stepMs: 10 });
    cleanups.push(() => simulator.close());
    database = await driver.create();
    cleanups.push(() => database.dispose());
  };
  const start = async (
    forgeUrl = simulator.url,
    graceMs = 60_000,
  ): Promise<{ server: ServerProcess; trpc: AnvilClient }> => {
    const server = await spawnServer({
      FORGE_URL: forgeUrl,
      DATA_DIR: database.dataDir,
      JOB_TIMEOUT_MS: "120000",
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    servers.push(server);
    return { server, trpc: httpClient(server.url) };
  };
  const stopped = (server: ServerProcess) => servers.splice(servers.indexOf(server), 1);
  const terminate = async (server: ServerProcess) => {
    expect(await server.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    stopped(server);
  };
  /** The jobs as the database holds them between two lives of the server (with `attempts`, which the API does not show). */
  const stored = async (...jobs: Job[]): Promise<(JobRecord | null)[]> => {
    const between = await openDatabase({ dataDir: database.dataDir });
    try {
      const store = new JobStore(between);
      return await Promise.all(jobs.map((job) => store.getJob(job.id)));
    } finally {
      await between.close();
    }
  };
  const logged = (server: ServerProcess, message: RegExp) =>
    server.logs.some((entry) => typeof entry.msg === "string" && message.test(entry.msg));

  /** Submits a long job (150 steps, 1.5 s on the simulator) and a quick one, and waits until the long one generates. */
  const submitAndRun = async (trpc: AnvilClient): Promise<[Job, Job]> => {
    const long = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("sigterm long"),
      width: 64,
      height: 64,
      steps: 150,
    });
    const next = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("sigterm next"),
      width: 64,
      height: 64,
      steps: 5,
    });
    await waitForJob(trpc, long.id, (job) => job.status === "processing", "the long job runs");
    await waitFor(() => runsOf(simulator, long.prompt).at(-1) === "running", "the simulator generates it");
    return [long, next];
  };

  /**
   * Starts a new server on the same DATA_DIR and checks what the database kept, while the backend is unreachable
   * so that nothing can change it: the interrupted job waits again, queued for its second attempt (a forced exit
   * counts like a crash), the next one queued. Then the backend comes back and both jobs complete, the
   * interrupted one run again from the start, never two generations at once.
   */
  const restartAndFinish = async (long: Job, next: Job, forgeUrl?: string) => {
    await simulator.setOffline(true);
    const { trpc } = await start(forgeUrl);
    const { items } = await trpc.jobs.list.query({});
    expect(items.map((job) => [job.id, job.status, job.attempt])).toEqual([
      [long.id, "queued", 2],
      [next.id, "queued", 1],
    ]);
    const replay = subscribe(trpc, { lastEventId: "0" });
    cleanups.push(() => replay.stop());
    const persisted = (jobId: string) =>
      statusEvents(replay.events)
        .filter((event) => event.jobId === jobId)
        .map((event) => event.status);
    await replay.until(() => persisted(long.id).length === 3, "the persisted events are replayed");
    expect(persisted(long.id)).toEqual(["queued", "processing", "queued"]);
    expect(persisted(next.id)).toEqual(["queued"]);

    await simulator.setOffline(false);
    for (const job of [long, next]) {
      await waitFor(
        async () => (await trpc.jobs.get.query({ jobId: job.id })).status === "complete",
        `${job.prompt} completes after the restart`,
        30_000,
      );
    }
    expect(runsOf(simulator, long.prompt)).toEqual(["interrupted", "completed"]);
    expect(runsOf(simulator, next.prompt)).toEqual(["completed"]);
    expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1 });
  };

  it("lets the running generation finish and starts nothing new, accepting submissions as queued; exits 0", async () => {
    await setUp();
    const { server, trpc } = await start();
    const [long, next] = await submitAndRun(trpc);
    // Held on the GPU until the test lets it go: each step takes a second from now on.
    simulator.setStepMs(1_000);
    // A page watching the job: it hears of the end that came during the grace before the server goes.
    const watching = subscribe(trpc, { jobId: long.id });
    cleanups.push(() => watching.stop());
    await watching.until((events) => events.length > 0, "the watcher has the job");

    server.child.kill("SIGTERM");
    await waitFor(() => logged(server, /^stopping: no new work/), "the server starts to stop");
    // During the grace the server still answers: a submission is stored to run at the next start.
    const during = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("sigterm during"), width: 64, height: 64 });
    expect(during.status).toBe("queued");
    expect((await trpc.jobs.get.query({ jobId: long.id })).status).toBe("processing");
    simulator.setStepMs(1);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    stopped(server);
    expect(watching.events.map((event) => event.job.status)).toContain("complete");
    watching.stop();

    expect(runsOf(simulator, long.prompt)).toEqual(["completed"]);
    expect(runsOf(simulator, next.prompt)).toEqual([]);
    expect(runsOf(simulator, during.prompt)).toEqual([]);
    expect(await stored(long, next, during)).toMatchObject([
      { status: "complete", attempts: 1, imageUrl: `/images/${long.id}.png` },
      { status: "queued", attempts: 0 },
      { status: "queued", attempts: 0 },
    ]);

    // Nothing was lost: the next start runs what was waiting, in order.
    simulator.setStepMs(10);
    const again = await start();
    for (const job of [next, during]) await waitForJob(again.trpc, job.id, (j) => j.status === "complete");
    const completed = simulator
      .stats()
      .log.filter((entry) => entry.outcome === "completed")
      .map((entry) => entry.prompt);
    expect(completed).toEqual([long.prompt, next.prompt, during.prompt]);
    await terminate(again.server);
  }, 90_000);

  it("interrupts a generation still running after the grace, spared from the three attempts; the next start runs it as attempt 2", async () => {
    await setUp();
    const { server, trpc } = await start(simulator.url, 200);
    const [long] = await submitAndRun(trpc);
    // Far longer than the grace, however slow the machine is.
    simulator.setStepMs(1_000);

    await terminate(server);
    expect(logged(server, /^stopping: no new work/)).toBe(true);
    // Forge would otherwise finish the orphaned generation on its own; the server stopped it on the way out.
    expect(runsOf(simulator, long.prompt)).toEqual(["interrupted"]);
    expect(simulator.stats().active).toBe(0);
    // The run counts, but as spared: a shutdown is no fault, and never uses up one of the job's three attempts.
    expect(await stored(long)).toMatchObject([{ status: "processing", attempts: 1, spared: 1 }]);

    simulator.setStepMs(10);
    const again = await start();
    const done = await waitForJob(
      again.trpc,
      long.id,
      (job) => job.status === "complete",
      "the interrupted job completes",
    );
    expect(done.attempt).toBe(2);
    await terminate(again.server);
    expect(runsOf(simulator, long.prompt)).toEqual(["interrupted", "completed"]);
    expect(await stored(long)).toMatchObject([{ status: "complete", attempts: 2, spared: 1 }]);
  }, 90_000);

  it("exits at once on a second SIGTERM while the shutdown is stuck on an unresponsive backend, losing nothing", async () => {
    await setUp();
    // Between the server and the simulator: once it goes silent, the backend's interrupt never gets an answer
    // (the client waits up to its 10 s request timeout, then polls until idle), so the shutdown is stuck.
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(simulator.url).port) });
    cleanups.push(() => proxy.close());
    // A short grace: the generation cannot finish behind the silent proxy, and its interrupt gets no answer.
    const { server, trpc } = await start(`http://127.0.0.1:${proxy.port}`, 100);
    const [long, next] = await submitAndRun(trpc);

    proxy.blackhole();
    // Slowed down, so that the generation outlives this server and still runs when the next one looks.
    simulator.setStepMs(1_000);
    server.child.kill("SIGTERM");
    await waitFor(() => logged(server, /^stopping: no new work/), "the server starts to stop");
    // The interrupt waits on a backend that never answers (10 s, then up to 30 s until it reports idle).
    await pause(1_000);
    expect(server.child.exitCode).toBeNull();

    const sentAt = Date.now();
    const exit = await server.kill("SIGTERM");
    console.info(`the second SIGTERM ended the process after ${Date.now() - sentAt} ms`);
    stopped(server);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(logged(server, /^second signal: exiting now/)).toBe(true);
    // The interrupt never reached the simulator: the orphaned generation still runs there, as it would on Forge.
    expect(runsOf(simulator, long.prompt)).toEqual(["running"]);

    // The next server finds the backend busy with a generation that is not its own, interrupts it, and runs both.
    proxy.restore();
    const interrupted = waitFor(
      () => runsOf(simulator, long.prompt)[0] === "interrupted",
      "the orphan is interrupted",
      60_000,
    );
    const finished = restartAndFinish(long, next, `http://127.0.0.1:${proxy.port}`);
    await interrupted;
    simulator.setStepMs(10);
    await finished;
  }, 90_000);
});
