import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS, HELD_START_MS } from "@anvil/job-machine";
import { JobStore } from "@anvil/persistence";
import type { JournalChange, RowChangeResult } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { useCleanups } from "./support/cleanups";
import { startJobService } from "./support/job-service";

/** A real store whose database refuses connections, for `awayMs` from the first start it is asked to write. */
class AwayAtStart extends JobStore {
  awayMs = 0;
  private awayUntil: number | null = null;

  override async applyJournalBatch(changes: readonly JournalChange[]): Promise<RowChangeResult[]> {
    const starts = changes.some((change) => change.kind === "transition" && change.to === "processing");
    if (starts && this.awayUntil === null) this.awayUntil = Date.now() + this.awayMs;
    if (this.awayUntil !== null && Date.now() < this.awayUntil) {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    }
    return super.applyJournalBatch(changes);
  }
}

describe.each(testDrivers())("a database away at a job's start, on $kind", (driver) => {
  const cleanups = useCleanups();

  it("counts the run from when its request went out: the wait is no GPU time for estimates or runMs", async () => {
    const simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    const { store, service } = await startJobService(driver, cleanups, {
      store: (database) => Object.assign(new AwayAtStart(database), { awayMs: HELD_START_MS + 1_000 }),
      backends: [makeForgeClient({ baseUrl: simulator.url })],
      probeIntervalMs: 100,
    });
    await waitFor(() => service.monitor.health().every((backend) => backend.healthy), "the backend is up");
    const submitted = await service.submit({
      prompt: uniquePrompt("started while the database was away"),
      ...DEFAULT_JOB_PARAMS,
      ...quick,
      conversationId: undefined,
    });
    await waitFor(async () => (await store.getJob(submitted.id))?.status === "complete", "the job completes", 30_000);
    const stored = (await store.getJob(submitted.id))!;
    const [run] = simulator.stats().log.filter((entry) => entry.prompt === submitted.prompt);
    // The database was away for more than HELD_START_MS from the decision on; the run began after it came back.
    const startedAt = Date.parse(stored.startedAt!);
    const finishedAt = Date.parse(stored.finishedAt!);
    expect(startedAt - Date.parse(submitted.createdAt)).toBeGreaterThan(HELD_START_MS);
    expect(run).toBeDefined();
    expect(finishedAt - startedAt).toBeLessThan(HELD_START_MS);
  }, 60_000);

  it("says that the writes it kept retrying are no longer tried once its term ends", async () => {
    const simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    const said: string[] = [];
    const { service } = await startJobService(driver, cleanups, {
      // Away from the first start on, for longer than the test.
      store: (database) => Object.assign(new AwayAtStart(database), { awayMs: 600_000 }),
      backends: [makeForgeClient({ baseUrl: simulator.url })],
      probeIntervalMs: 100,
      log: (message) => void said.push(message),
    });
    await waitFor(() => service.monitor.health().every((backend) => backend.healthy), "the backend is up");
    await service.submit({
      prompt: uniquePrompt("never started"),
      ...DEFAULT_JOB_PARAMS,
      ...quick,
      conversationId: undefined,
    });
    await waitFor(() => said.includes("database write failed; retrying"), "a write fails");
    // Another server took the lease over: this term's service stops and writes nothing more.
    await service.stop(0, { abandon: true });
    const over = said.indexOf(
      "database writes are no longer tried here: this server's term as leader ended, and the next leader goes on from what the database holds",
    );
    expect(over).toBeGreaterThan(said.indexOf("database write failed; retrying"));
    expect(said).not.toContain("database writes go through again");
  }, 60_000);
});
