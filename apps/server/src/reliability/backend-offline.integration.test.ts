import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";
import { startTcpProxy } from "./support/tcp-proxy";
import { useCleanups } from "./support/cleanups";

/** The prompt the simulator logs for `setBusy` work: another client's generation. */
const FOREIGN = "(another client's generation)";
/** How often a healthy backend is probed: far shorter than the waits between probes of an absent one. */
const PROBE_INTERVAL_MS = 100;

// One driver is enough: the faults are the backend's, the database only records their outcome.
describe("a backend that cannot be reached", () => {
  const [pglite] = testDrivers();
  const cleanups = useCleanups();

  /** A simulator of the test's own, which outlives what the test does to it, like a real Forge. */
  const simulatorFor = async (): Promise<ForgeSimulator> => {
    const simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    return simulator;
  };
  const start = async (...forgeUrls: string[]): Promise<InProcessServer> => {
    const database = await pglite!.create();
    cleanups.push(() => database.dispose());
    const server = await startInProcess(database, {
      forgeUrls,
      probeIntervalMs: PROBE_INTERVAL_MS,
      awaitHealthy: false,
    });
    cleanups.push(() => server.anvil.close());
    return server;
  };
  const submitThree = async ({ trpc }: InProcessServer): Promise<Job[]> => {
    const jobs: Job[] = [];
    for (const label of ["first", "second", "third"]) {
      jobs.push(await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`while offline ${label}`), ...quick }));
    }
    return jobs;
  };
  const completedPrompts = (simulator: ForgeSimulator) =>
    simulator
      .stats()
      .log.filter((entry) => entry.outcome === "completed")
      .map((entry) => entry.prompt);

  it("keeps jobs queued while the backend is unreachable from the start, probes it with backoff, and runs them once it answers, after another client's generation there", async () => {
    const simulator = await simulatorFor();
    await simulator.setOffline(true);
    // A network hop in front of the backend, to see every probe arrive (each probe is one connection).
    const hop = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(simulator.url).port) });
    cleanups.push(() => hop.close());
    const forgeUrl = `http://127.0.0.1:${hop.port}`;
    const server = await start(forgeUrl);
    const { trpc, anvil } = server;

    await waitFor(() => hop.attempts.length >= 1, "the backend is probed");
    const jobs = await submitThree(server);
    expect(await trpc.health.query()).toMatchObject({ backends: [{ url: forgeUrl, healthy: false }] });
    expect(await trpc.queue.status.query()).toMatchObject({
      queued: 3,
      processing: 0,
      backends: [{ url: forgeUrl, healthy: false, busy: false, jobId: null }],
    });

    // Probes back off while the backend stays away: 100 ms after the first failure, then doubling (the monitor's
    // schedule, capped at 10 s). A busy machine only ever makes the waits longer, so each is checked from below.
    await waitFor(() => hop.attempts.length >= 5, "the backend is probed five times");
    const gaps = hop.attempts.slice(1, 5).map((at, i) => at - hop.attempts[i]!);
    gaps.forEach((gap, i) => expect(gap, `gaps ${gaps.join(", ")} ms`).toBeGreaterThanOrEqual(0.9 * 100 * 2 ** i));
    const stillQueued = await Promise.all(jobs.map((job) => trpc.jobs.get.query({ jobId: job.id })));
    expect(stillQueued.map((job) => [job.status, job.queuePosition])).toEqual([
      ["queued", 1],
      ["queued", 2],
      ["queued", 3],
    ]);

    // It comes back busy with a generation sent through the API. This Anvil never sent it work, so that is another
    // client's (another Anvil or a script on the same FORGE_URL): waited out, not interrupted.
    simulator.setBusy(true, { from: "api" });
    await simulator.setOffline(false);
    await waitFor(
      () => /another client/.test(anvil.service.monitor.health()[0]?.lastError ?? ""),
      "the probe says whose work it waits for",
    );
    expect((await trpc.jobs.get.query({ jobId: jobs[0]!.id })).status).toBe("queued");
    simulator.setBusy(false);
    for (const job of jobs) await waitForStatus(trpc, job.id, "complete");

    const [foreign, ...ours] = simulator.stats().log;
    expect(foreign).toMatchObject({ prompt: FOREIGN, outcome: "completed" });
    expect(ours[0]!.startedAt).toBeGreaterThanOrEqual(foreign!.endedAt!);
    expect(completedPrompts(simulator)).toEqual([FOREIGN, ...jobs.map((job) => job.prompt)]);
    expect(simulator.stats()).toMatchObject({ interrupted: 0, overlaps: 0, maxConcurrent: 1, maxQueued: 1 });
    expect(await trpc.health.query()).toMatchObject({ backends: [{ url: forgeUrl, healthy: true }] });
    expect(anvil.service.monitor.health()[0]?.lastError).toBeNull();
  }, 30_000);

  it("interrupts the generation it left on a backend that went away mid-run once it is back, though the job ran again elsewhere", async () => {
    const [gone, other] = [await simulatorFor(), await simulatorFor()];
    await other.setOffline(true);
    const server = await start(gone.url, other.url);
    const { trpc, anvil } = server;
    await waitFor(() => anvil.service.monitor.health()[0]?.healthy === true, "the first backend is up");
    // The first run goes on until it is interrupted (its client gone, Forge does not stop it); the next is quick.
    gone.injectFault("hang");
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("left on a backend that went away"), ...quick });
    await waitForStatus(trpc, job.id, "processing");
    await gone.setOffline(true);
    await other.setOffline(false);
    // It runs again on the other backend: the job's row names that one now, not the one its first run is left on.
    expect(await waitForStatus(trpc, job.id, "complete")).toMatchObject({ attempt: 2, backend: other.url });
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after the backend is back"), ...quick });
    await gone.setOffline(false);
    await waitFor(() => gone.stats().log[0]?.outcome === "interrupted", "the run left there is interrupted");
    await waitForStatus(trpc, next.id, "complete");
    expect(gone.stats().log[0]).toMatchObject({ prompt: job.prompt, outcome: "interrupted" });
    expect(other.stats().log[0]).toMatchObject({ prompt: job.prompt, outcome: "completed" });
    for (const simulator of [gone, other]) expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1 });
  }, 30_000);

  it("waits out a generation a person started in Forge's own UI instead of interrupting it, then runs the line", async () => {
    const simulator = await simulatorFor();
    // A person's generation runs when the server starts, until they are done (setBusy(false) below).
    simulator.setBusy(true);
    const server = await start(simulator.url);
    const { trpc, anvil, logs } = server;
    const jobs = await submitThree(server);
    await waitFor(
      () => /Forge's own UI/.test(anvil.service.monitor.health()[0]?.lastError ?? ""),
      "the probe says whose work it waits for",
    );
    expect(await trpc.health.query()).toMatchObject({ backends: [{ url: simulator.url, healthy: false }] });
    expect((await trpc.jobs.get.query({ jobId: jobs[0]!.id })).status).toBe("queued");
    simulator.setBusy(false);
    for (const job of jobs) await waitForStatus(trpc, job.id, "complete");

    const [person, ...ours] = simulator.stats().log;
    expect(person).toMatchObject({ prompt: FOREIGN, outcome: "completed" });
    expect(ours[0]!.startedAt).toBeGreaterThanOrEqual(person!.endedAt!);
    expect(completedPrompts(simulator)).toEqual([FOREIGN, ...jobs.map((job) => job.prompt)]);
    expect(simulator.stats()).toMatchObject({ interrupted: 0, overlaps: 0, maxConcurrent: 1 });
    const said = logs.filter((line) => line["msg"] === "backend probe failed" && /own UI/.test(String(line["error"])));
    expect(said).toHaveLength(1);
  }, 30_000);

  it("does not fail the jobs submitted while a backend that was up is gone, and resumes them by itself when it is back", async () => {
    const simulator = await simulatorFor();
    const server = await start(simulator.url);
    const { trpc, anvil } = server;
    await waitFor(() => anvil.service.monitor.health()[0]?.healthy === true, "the backend is up");
    const before = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("before the outage"), ...quick });
    await waitForStatus(trpc, before.id, "complete");

    await simulator.setOffline(true);
    const jobs = await submitThree(server);
    await waitFor(async () => !(await trpc.health.query()).backends[0]!.healthy, "health shows the backend down");
    // The first job may have been sent off before the backend was found gone: it waits for it instead of failing.
    const during = await Promise.all(jobs.map((job) => trpc.jobs.get.query({ jobId: job.id })));
    expect(["queued", "processing"]).toContain(during[0]!.status);
    expect(during.slice(1).map((job) => job.status)).toEqual(["queued", "queued"]);
    expect((await trpc.queue.status.query()).backends).toMatchObject([{ healthy: false }]);

    await simulator.setOffline(false);
    const done = [];
    for (const job of jobs) done.push(await waitForStatus(trpc, job.id, "complete"));
    expect(done.map((job) => job.error)).toEqual([null, null, null]);
    expect(completedPrompts(simulator)).toEqual([before.prompt, ...jobs.map((job) => job.prompt)]);
    expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1, maxQueued: 1 });
    expect(await trpc.health.query()).toMatchObject({ backends: [{ healthy: true }] });
  }, 30_000);
});
