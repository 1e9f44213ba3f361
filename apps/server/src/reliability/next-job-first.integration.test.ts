import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeClient } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { JobStore } from "@anvil/persistence";
import type { ImageStore, JournalChange } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { useCleanups } from "./support/cleanups";
import { startJobService } from "./support/job-service";

/**
 * The GPU's next job goes first (libs/api/src/handovers.ts): once a backend is handed to its next job, the finished
 * job's image waits until that job's request has gone out, so that it does not compete with the next job's
 * `processing` commit for the database and the thread.
 */
describe.each(testDrivers())("the next job's start before the last job's image, on $kind", (driver) => {
  const cleanups = useCleanups();

  it("writes a finished job's image once the backend's next request has gone out", async () => {
    const sim = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => sim.close());
    const order: string[] = [];
    const prompts = new Map<string, string>();
    const forge = makeForgeClient({ baseUrl: sim.url });
    // The backend as the service sees it, telling when each generation's request went out.
    const backend: ForgeClient = {
      ...forge,
      generate: (req, opts) =>
        forge.generate(req, { ...opts, onSent: () => (order.push(`sent ${req.prompt}`), opts?.onSent?.()) }),
    };
    // Images in memory, telling when each job's is written.
    const kept = new Map<string, Uint8Array>();
    const images: ImageStore = {
      write: async (jobId, png) => {
        order.push(`image ${prompts.get(jobId)}`);
        kept.set(jobId, png);
      },
      read: async (jobId) => {
        const png = kept.get(jobId);
        return png
          ? {
              size: png.length,
              chunks: (async function* () {
                yield png;
              })(),
              slice: async function* (start: number, end: number) {
                yield png.subarray(start, end + 1);
              },
            }
          : null;
      },
      remove: async (jobId) => void kept.delete(jobId),
    };
    const [first, second] = [uniquePrompt("first"), uniquePrompt("second")];
    const ids: string[] = [];
    const { service } = await startJobService(driver, cleanups, {
      backends: [backend],
      images,
      // The order is what this test looks at, not how long the next start takes on a loaded machine: without this,
      // the image goes after 50 ms whether the next request went out or not.
      handoverWaitMs: 10_000,
      // The second job's `processing` commit takes a while, as a busy database's would: the first job's image,
      // ready meanwhile, waits for it and for the request after it.
      store: (database) =>
        new (class extends JobStore {
          override async applyJournalBatch(changes: readonly JournalChange[]) {
            const starts = changes.some((c) => c.kind === "transition" && c.to === "processing" && c.jobId === ids[1]);
            if (starts) await new Promise((resolve) => setTimeout(resolve, 10));
            return super.applyJournalBatch(changes);
          }
        })(database),
    });
    // Both in the line before the first starts: on a loaded machine the first could otherwise end before the second
    // is submitted, and its image, with no next start to wait for, would rightly be written at once.
    await service.setPaused(true);
    for (const prompt of [first, second]) {
      const job = await service.submit({ prompt, ...DEFAULT_JOB_PARAMS, ...quick });
      prompts.set(job.id, prompt);
      ids.push(job.id);
    }
    await service.setPaused(false);
    await waitFor(async () => (await service.get(ids[1]!)).status === "complete", "both jobs complete");
    expect((await service.get(ids[0]!)).status).toBe("complete");
    expect(order).toEqual([`sent ${first}`, `sent ${second}`, `image ${first}`, `image ${second}`]);
  });
});
