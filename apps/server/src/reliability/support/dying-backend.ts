import type { Job } from "@anvil/job-machine";
import { pino } from "pino";
import { startAnvil } from "../../anvil";
import type { AnvilServer } from "../../anvil";
import { httpClient } from "../../testing/clients";
import type { AnvilClient } from "../../testing/clients";
import { uniquePrompt } from "../../testing/fixtures";
import { backendsUp, standInWebApp, testServerConfig } from "../../testing/test-server";
import type { TestDatabase } from "../../testing/test-databases";
import { waitForJob } from "../../testing/wait";

/**
 * Anvil in this process on `database`, driving the Forge backends at `forgeUrls` (probed every 200 ms, so that one
 * that goes away is seen soon), whether or not they are up; with a client.
 */
export async function anvilOn(
  database: TestDatabase,
  forgeUrls: readonly string[],
): Promise<{ anvil: AnvilServer; trpc: AnvilClient }> {
  const anvil = await startAnvil({
    ...testServerConfig(database),
    forgeUrls: [...forgeUrls],
    logger: pino({ level: "silent" }),
    probeIntervalMs: 200,
    webDir: await standInWebApp(database.dataDir),
  });
  return { anvil, trpc: httpClient(anvil.url) };
}

/** {@link anvilOn}, once it has found its backends up. */
export async function anvilOnBackends(
  database: TestDatabase,
  forgeUrls: readonly string[],
): Promise<{ anvil: AnvilServer; trpc: AnvilClient }> {
  const started = await anvilOn(database, forgeUrls);
  await backendsUp(started.anvil);
  return started;
}

/** Submits a small job of `steps` steps and resolves with it once it runs on a backend and has made progress there. */
export async function runningJob(trpc: AnvilClient, prompt: string, steps: number): Promise<Job> {
  const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt(prompt), width: 64, height: 64, steps });
  return waitForJob(trpc, job.id, (j) => j.status === "processing" && j.progress > 0, "the job runs");
}
