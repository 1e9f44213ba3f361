import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { afterEach, describe, expect, it } from "vitest";
import type { AnvilServer } from "../anvil";
import { scrape, valueOf } from "../testing/prometheus";
import { testDrivers, type TestDatabase } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { anvilOnBackends, runningJob } from "./support/dying-backend";

describe.each(testDrivers())("a backend that dies mid-generation, on $kind", { timeout: 60_000 }, (driver) => {
  let anvil: AnvilServer | undefined;
  let database: TestDatabase | undefined;
  let sims: ForgeSimulator[] = [];

  afterEach(async () => {
    await anvil?.close();
    await Promise.all(sims.map((sim) => sim.close()));
    await database?.dispose();
  });

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
});
