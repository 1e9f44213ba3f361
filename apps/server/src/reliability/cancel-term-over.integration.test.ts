import { EventHub, JobService } from "@anvil/api";
import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { JobStore, LeaderLease, openDatabase } from "@anvil/persistence";
import type { JournalChange, RowChangeResult } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useCleanups } from "./support/cleanups";

/** A term's store that says when a cancellation is sent to the database. */
class WatchedStore extends JobStore {
  cancelling: () => void = () => undefined;

  override applyJournalBatch(changes: readonly JournalChange[]): Promise<RowChangeResult[]> {
    if (changes.some((change) => change.kind === "transition" && change.to === "cancelled")) this.cancelling();
    return super.applyJournalBatch(changes);
  }
}

describe.each(testDrivers())("jobs.cancel on a leader whose term ends meanwhile, on $kind", (driver) => {
  const cleanups = useCleanups(30_000);

  it("is not answered as done: the job it returned was not cancelled, and the next leader runs it", async () => {
    const test = await driver.create();
    cleanups.push(() => test.dispose());
    const database = await openDatabase(test.databaseUrl ? { url: test.databaseUrl } : { dataDir: test.dataDir });
    cleanups.push(() => database.close());
    const simulator = await startForgeSimulator({ stepMs: 20 });
    cleanups.push(() => simulator.close());
    const lease = new LeaderLease(database.db, "a", "http://a", 60_000);
    const epoch = (await lease.acquire())!;
    const store = new WatchedStore(database, false, lease.fenceOf(epoch));
    const service = await JobService.start({
      store,
      events: new EventHub(),
      backends: [makeForgeClient({ baseUrl: simulator.url })],
      jobTimeoutMs: 20_000,
      imagesDir: `${test.dataDir}/images`,
    });
    cleanups.push(() => service.stop(0, { abandon: true }));
    await service.setPaused(true);
    const job = await service.submit({ prompt: uniquePrompt("waiting"), ...DEFAULT_JOB_PARAMS, ...quick });

    // Its lease runs out and another server takes over, as the cancellation is on its way to the database.
    await database.db.execute(sql`update cluster_leader set expires_at = clock_timestamp() - interval '1 millisecond'`);
    expect(await new LeaderLease(database.db, "b", "http://b", 60_000).acquire()).toBe(epoch + 1);
    const sent = new Promise<void>((resolve) => (store.cancelling = resolve));
    const cancelled = service.cancel(job.id).then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error }),
    );
    await sent;
    // The server learns that its term is over and steps down (anvil.ts: stepDown).
    await service.stop(0, { abandon: true });
    const outcome = await cancelled;
    expect((await store.getJob(job.id))?.status).toBe("queued");
    // Either refused (try again: the next leader cancels it), or a job that really is cancelled.
    if ("answer" in outcome) expect(outcome.answer.status).toBe("cancelled");
    else expect(outcome.error).toMatchObject({ message: expect.stringMatching(/try again/) });
  });
});
