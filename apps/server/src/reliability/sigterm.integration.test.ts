import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
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
  const start = async (forgeUrl = simulator.url): Promise<{ server: ServerProcess; trpc: AnvilClient }> => {
    const server = await spawnServer({ FORGE_URL: forgeUrl, DATA_DIR: database.dataDir, JOB_TIMEOUT_MS: "120000" });
    servers.push(server);
    return { server, trpc: httpClient(server.url) };
  };
  const stopped = (server: ServerProcess) => servers.splice(servers.indexOf(server), 1);
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
   * so that nothing can change it: the interrupted job still processing with only its queued and processing
   * events, the next one queued. Then the backend comes back and both jobs complete, the interrupted one run
   * again from the start, never two generations at once.
   */
  const restartAndFinish = async (long: Job, next: Job, forgeUrl?: string) => {
    await simulator.setOffline(true);
    const { trpc } = await start(forgeUrl);
    const { items } = await trpc.jobs.list.query({});
    expect(items.map((job) => [job.id, job.status])).toEqual([
      [long.id, "processing"],
      [next.id, "queued"],
    ]);
    const replay = subscribe(trpc, { lastEventId: "0" });
    cleanups.push(() => replay.stop());
    const persisted = (jobId: string) =>
      statusEvents(replay.events)
        .filter((event) => event.jobId === jobId)
        .map((event) => event.status);
    await replay.until(() => persisted(long.id).includes("processing"), "the persisted events are replayed");
    expect(persisted(long.id)).toEqual(["queued", "processing"]);
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

  it("exits 0, interrupting the generation and leaving its job to run again at the next start", async () => {
    await setUp();
    const { server, trpc } = await start();
    const [long, next] = await submitAndRun(trpc);

    const sentAt = Date.now();
    expect(await server.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    console.info(`SIGTERM ended the process after ${Date.now() - sentAt} ms`);
    stopped(server);
    expect(logged(server, /^stopping: no new work/)).toBe(true);
    // Forge would otherwise finish the orphaned generation on its own; the server stopped it on the way out.
    expect(runsOf(simulator, long.prompt)).toEqual(["interrupted"]);
    expect(simulator.stats().active).toBe(0);
    await restartAndFinish(long, next);
  }, 90_000);

  it("exits at once on a second SIGTERM while the shutdown is stuck on an unresponsive backend, losing nothing", async () => {
    await setUp();
    // Between the server and the simulator: once it goes silent, the backend's interrupt never gets an answer
    // (the client waits up to its 10 s request timeout, then polls until idle), so the shutdown is stuck.
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(simulator.url).port) });
    cleanups.push(() => proxy.close());
    const { server, trpc } = await start(`http://127.0.0.1:${proxy.port}`);
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
