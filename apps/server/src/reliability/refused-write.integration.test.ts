import { UNSTORABLE_RESULT_MESSAGE } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { occupyGpu, quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { waitForStatus } from "../testing/wait";

describe.each(testDrivers())("a write the database refuses, on $kind", (driver) => {
  const server = useTestServer(driver);

  it("fails only its own job: the jobs after it still complete and health stays ok", async () => {
    const { trpc, anvil } = server();
    const blocker = await occupyGpu(server());
    const doomed = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("doomed"), ...quick });
    const after = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after"), ...quick });

    // Text the database cannot store (a NUL byte), written through the journal itself: forge-client cleans what
    // a backend sends before it gets this far, so this is what any other unstorable write would do.
    const failure: Job["error"] = "the backend said \u0000 and stopped";
    await anvil.service.scheduler.journal.record({
      kind: "transition",
      jobId: doomed.id,
      from: "queued",
      to: "error",
      job: {
        jobId: doomed.id,
        attempt: 1,
        status: "error",
        backend: null,
        progress: 0,
        result: null,
        error: failure,
        cancelledBy: null,
        startedAt: null,
        finishedAt: Date.now(),
      },
    });

    const failed = await waitForStatus(trpc, doomed.id, "error");
    expect(failed.error).toBe(UNSTORABLE_RESULT_MESSAGE);
    expect(anvil.service.scheduler.journal.failing).toBe(false);
    expect(await trpc.health.query()).toMatchObject({ ok: true });

    await trpc.jobs.cancel.mutate({ jobId: blocker.id });
    await waitForStatus(trpc, after.id, "complete");
    const later = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("later"), ...quick });
    await waitForStatus(trpc, later.id, "complete");
    expect((await trpc.jobs.get.query({ jobId: doomed.id })).status).toBe("error");
  });
});
