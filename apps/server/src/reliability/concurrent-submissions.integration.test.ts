import { makeForgeClient } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useCleanups } from "./support/cleanups";
import { startJobService } from "./support/job-service";

const input = (label: string) => ({ prompt: uniquePrompt(label), ...DEFAULT_JOB_PARAMS, ...quick });

/**
 * Many callers submitting at once: their submissions are stored in batches, and each batch joins the line in one
 * step. These tests hold Anvil to what the order of commits promises: the line follows the database's seq, status
 * events go out in the order of their ids (a resume cursor never skips one), and a job joins and is announced once.
 */
describe.each(testDrivers())("submissions from many callers at once, on $kind", (driver) => {
  const cleanups = useCleanups();

  // No backend answers: every job stays queued, in the line.
  const start = () =>
    startJobService(driver, cleanups, {
      backends: [makeForgeClient({ baseUrl: "http://127.0.0.1:9", connectRetries: 0 })],
      maxQueuedPerUser: 0,
    });

  it("answers each batch in commit order: the line follows seq, events go out in id order, each job once", async () => {
    const { store, service, published } = await start();
    // A key already held: the database sends a batch holding its repeat to the general path, which answers it with
    // the job that holds the key. The first caller repeats it in every round after the first.
    const keyed = { ...input("keyed"), idempotencyKey: uniquePrompt("key") };
    const held = await service.submit(keyed);
    // A new key that two callers submit at once, in one batch: one job, which joins the line and is announced once.
    const twin = { ...input("twin"), idempotencyKey: uniquePrompt("twin") };
    const answers = await Promise.all(
      Array.from({ length: 24 }, async (_, caller) => {
        const jobs: Job[] = [];
        for (let i = 0; i < 4; i++) {
          const next =
            caller === 0 && i > 0 ? keyed : (caller === 1 || caller === 2) && i === 0 ? twin : input(`${caller} #${i}`);
          jobs.push(await service.submit(next));
        }
        return jobs;
      }),
    );
    const all = answers.flat();
    const jobs = new Map(all.map((job) => [job.id, job]));
    expect(all.filter((job) => job.id === held.id)).toHaveLength(3);
    expect(new Set(all.filter((job) => job.prompt === twin.prompt).map((job) => job.id)).size).toBe(1);
    expect(jobs.size).toBe(all.length - 3);

    // Every status event went out once per job, in the order of its id.
    const statusEvents = published.flatMap((m) => (m.kind === "status" ? [m] : []));
    expect(statusEvents.map((m) => m.job.id).sort()).toEqual([...jobs.keys()].sort());
    const ids = statusEvents.map((m) => m.eventId);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // The line, the database's seq and the event ids agree: one owner, one priority, so first stored, first in line.
    const stored = (await store.listJobs({ limit: 200 })).items;
    expect(stored).toHaveLength(jobs.size);
    const bySeq = [...stored].sort((a, b) => a.seq - b.seq);
    expect(bySeq.map((job) => job.lastEventId)).toEqual(stored.map((job) => job.lastEventId).sort((a, b) => a - b));
    expect(bySeq.map((job) => service.scheduler.position(job.id))).toEqual(bySeq.map((_, i) => i + 1));
  }, 60_000);
});
