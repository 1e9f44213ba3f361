import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCK_FILE } from "../data-dir-lock";
import { httpClient } from "../testing/clients";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitForJob } from "../testing/wait";
import { spawnServer, useBuiltServers } from "./support/built-server";

// The embedded database, as `npm run serve` runs by default, with its built-in simulator.
describe("two built servers on one DATA_DIR", () => {
  const driver = testDrivers().find((candidate) => candidate.kind === "pglite")!;
  const { servers, cleanups } = useBuiltServers(60_000);

  it("the second stops at once naming the folder and the first's pid; the first goes on; a kill -9 never blocks the next", async () => {
    const database = await driver.create();
    cleanups.push(() => database.dispose());
    const env = { DATA_DIR: database.dataDir, ANVIL_SIMULATOR_STEP_MS: "5" };
    const first = await spawnServer(env);
    servers.push(first);

    const refusal = await spawnServer(env).then(
      () => new Error("the second server started"),
      (error: unknown) => error as Error,
    );
    expect(refusal.message).toMatch(/^the server exited \(code 1, signal null\) before it listened/);
    expect(refusal.message).toContain(`DATA_DIR ${resolve(database.dataDir)} is in use by another Anvil server`);
    expect(refusal.message).toContain(`(pid ${first.pid},`);

    const trpc = httpClient(first.url);
    expect(await trpc.health.query()).toMatchObject({ ok: true, database: "pglite" });
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after the refusal"), ...quick });
    await waitForJob(trpc, job.id, (j) => j.status === "complete", "the first server still runs jobs");

    expect(await first.kill("SIGKILL")).toMatchObject({ signal: "SIGKILL" });
    servers.splice(servers.indexOf(first), 1);
    expect(existsSync(join(database.dataDir, LOCK_FILE))).toBe(true);

    const next = await spawnServer(env);
    servers.push(next);
    const after = httpClient(next.url);
    expect(await after.jobs.get.query({ jobId: job.id })).toMatchObject({ status: "complete" });

    expect(await next.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    servers.splice(servers.indexOf(next), 1);
    expect(existsSync(join(database.dataDir, LOCK_FILE))).toBe(false);
  }, 90_000);
});
