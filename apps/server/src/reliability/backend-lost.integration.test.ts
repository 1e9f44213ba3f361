import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startAnvil, type AnvilServer } from "../anvil";
import { httpClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { scrape, valueOf } from "../testing/prometheus";
import { backendsUp, standInWebApp, testServerConfig } from "../testing/test-server";
import { testDrivers, type TestDatabase } from "../testing/test-databases";
import { waitFor, waitForJob } from "../testing/wait";

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
    anvil = await startAnvil({
      ...testServerConfig(database),
      forgeUrls: sims.map((sim) => sim.url),
      logger: pino({ level: "silent" }),
      probeIntervalMs: 200,
      webDir: await standInWebApp(database.dataDir),
    });
    await backendsUp(anvil);
    const trpc = httpClient(anvil.url);
    const job = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("survives its GPU"),
      width: 64,
      height: 64,
      steps: 100,
    });
    const first = await waitForJob(trpc, job.id, (j) => j.status === "processing" && j.progress > 0, "the job runs");
    const dying = sims.find((sim) => sim.url === first.backend)!;
    const other = sims.find((sim) => sim !== dying)!;
    await dying.setOffline(true);
    // Taking the backend for gone takes a few seconds of failed probes (a blip is not a death).
    let done = first;
    await waitFor(
      async () => (done = await trpc.jobs.get.query({ jobId: job.id })).status === "complete",
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
