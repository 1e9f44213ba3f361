import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import type { AnvilClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { useCleanups } from "./support/cleanups";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";

const postgres = testDrivers().find((driver) => driver.kind === "postgres");
/** Steady work: a little over half a second a job on the simulator. */
const steady = { width: 512, height: 512, steps: 25 } as const;

/** How long a queued job is expected to run, by its estimates. */
const runLength = (job: Job): number => Date.parse(job.estimatedFinishAt!) - Date.parse(job.estimatedStartAt!);

describe.skipIf(!postgres)("estimates in a cluster on PostgreSQL", () => {
  const cleanups = useCleanups();

  it("shows the same estimates through every server, and a new leader estimates at once from the database", async () => {
    const test = await postgres!.create();
    cleanups.push(() => test.dispose());
    const simulator = await startForgeSimulator({ stepMs: 20 });
    cleanups.push(() => simulator.close());
    const dataDirB = await mkdtemp(join(tmpdir(), "anvil-cluster-estimates-"));
    cleanups.push(() => rm(dataDirB, { recursive: true, force: true }));
    const settings = { forgeUrls: [simulator.url], leaseMs: 2_000, awaitHealthy: false };
    const a = await startInProcess({ dataDir: test.dataDir, databaseUrl: test.databaseUrl }, settings);
    let aRuns = true;
    cleanups.push(() => (aRuns ? a.anvil.close() : undefined));
    await waitFor(() => a.anvil.leads(), "server A leads");
    const b = await startInProcess({ dataDir: dataDirB, databaseUrl: test.databaseUrl }, settings);
    cleanups.push(() => b.anvil.close());

    const submit = (server: InProcessServer, label: string) =>
      server.trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), ...steady });
    const warmUp: Job[] = [];
    for (let i = 0; i < 3; i++) warmUp.push(await submit(b, `warm-up ${i}`));
    for (const job of warmUp) await waitForStatus(a.trpc, job.id, "complete");

    // A line behind one running job, submitted through the follower; both servers are asked about it at once.
    const line: Job[] = [];
    for (let i = 0; i < 4; i++) line.push(await submit(b, `line ${i}`));
    const last = line.at(-1)!;
    const read = (client: AnvilClient) => client.jobs.get.query({ jobId: last.id });
    const [throughA, throughB] = await Promise.all([read(a.trpc), read(b.trpc)]);
    expect(throughA.status).toBe("queued");
    expect(throughA.estimatedStartAt).not.toBeNull();
    // One leader makes them: the same up to what moved between the two reads (a projection lives a second at most).
    for (const field of ["estimatedStartAt", "estimatedFinishAt"] as const) {
      expect(Math.abs(Date.parse(throughA[field]!) - Date.parse(throughB[field]!))).toBeLessThan(1_000);
    }
    for (const job of line) await waitForStatus(a.trpc, job.id, "complete");

    // A hands over; B leads with a model of its own, learned from the runs the database holds.
    aRuns = false;
    await a.anvil.close();
    await waitFor(() => b.anvil.leads(), "server B leads", 30_000);
    await waitFor(() => b.anvil.service.monitor.health().every((backend) => backend.healthy), "B's backend is up");
    const next: Job[] = [];
    for (let i = 0; i < 2; i++) next.push(await submit(b, `after the hand-over ${i}`));
    const foretold = await b.trpc.jobs.get.query({ jobId: next[1]!.id });
    expect(foretold.status).toBe("queued");
    expect(foretold.estimatedStartAt).not.toBeNull();
    // What one job of this size takes, learned from the runs the database holds: within what they took (on a busy
    // machine the line's runs may take far longer than the warm-up's that A had learned from, so not A's figure).
    const ran = await Promise.all(
      [...warmUp, ...line].map(async (job) => {
        const done = await b.trpc.jobs.get.query({ jobId: job.id });
        return Date.parse(done.finishedAt!) - Date.parse(done.startedAt!);
      }),
    );
    expect(runLength(foretold)).toBeGreaterThanOrEqual(0.75 * Math.min(...ran));
    expect(runLength(foretold)).toBeLessThanOrEqual(1.25 * Math.max(...ran));
    for (const job of next) await waitForStatus(b.trpc, job.id, "complete");
  }, 90_000);
});
