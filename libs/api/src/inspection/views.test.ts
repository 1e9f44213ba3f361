import { DEFAULT_JOB_PARAMS, JobScheduler } from "@anvil/job-machine";
import { Effect } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { JobService } from "../job-service";
import { schedulerDebugView } from "./views";

const params = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 1, seed: 1 };
const schedulers: JobScheduler<null>[] = [];
afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) await scheduler.stop();
});

/** A real scheduler whose generations never end, and what the views read of the service beside it. */
function service(backends: number) {
  const scheduler = new JobScheduler<null>({
    backends,
    healthy: true,
    jobTimeoutMs: 60_000,
    generate: () => Effect.never,
    persist: async (entries) => entries.map(() => null),
    publish: () => undefined,
  });
  schedulers.push(scheduler);
  const submit = (jobId: string, owner = "ann") =>
    scheduler.submit({ jobId, prompt: jobId, params, attempt: 1, line: { owner } });
  const view = { scheduler, monitor: { health: () => [] }, liveJob: () => undefined } as unknown as JobService;
  return { scheduler, submit, view };
}

describe("schedulerDebugView", () => {
  it("says an admin paused the queue, also while nobody waits", () => {
    const { scheduler, view } = service(1);
    expect(schedulerDebugView(view, 10).paused).toBe(false);
    scheduler.hold(true);
    expect(schedulerDebugView(view, 10)).toMatchObject({ paused: true, dispatching: true, blockedBy: null });
  });
});
