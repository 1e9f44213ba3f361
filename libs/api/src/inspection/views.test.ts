import { DEFAULT_JOB_PARAMS, JobScheduler } from "@anvil/job-machine";
import { Effect } from "effect";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { JobService } from "../job-service";
import { Inspector } from "./inspector";
import { actorsDebugView, schedulerDebugView } from "./views";

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

describe("actorsDebugView", () => {
  it("lists the jobs on a GPU first: one run again after a failover joined the line after those waiting", async () => {
    const { scheduler, submit, view } = service(1);
    scheduler.hold(true);
    submit("a1");
    submit("a2");
    // What Recovery does at a new leader's start with a job that was running: it waits ahead of every turn.
    scheduler.submit({ jobId: "r", prompt: "r", params, attempt: 2, line: { owner: "ann" }, again: true });
    scheduler.hold(false);
    await vi.waitFor(() => expect(scheduler.job("r")?.backend).not.toBeNull());
    const actors = actorsDebugView(view, new Inspector(), 200);
    expect(actors.alive.map((job) => [job.jobId, job.state])).toEqual([
      ["r", "processing"],
      ["a1", "queued"],
      ["a2", "queued"],
    ]);
  });

  it("lists every job that runs on a GPU and counts every state, past the limit too", async () => {
    const { scheduler, submit, view } = service(2);
    scheduler.hold(true);
    for (const jobId of ["a1", "a2", "a3", "a4", "a5"]) submit(jobId, "ann");
    submit("b1", "bob");
    scheduler.hold(false);
    // Fair turns: ann's first job, then bob's, who was never served, though it came sixth.
    await vi.waitFor(() => expect(scheduler.job("b1")?.backend).not.toBeNull());
    const actors = actorsDebugView(view, new Inspector(), 3);
    expect(actors.alive.map((job) => [job.jobId, job.state])).toEqual([
      ["a1", "processing"],
      ["b1", "processing"],
      ["a2", "queued"],
    ]);
    expect(actors.aliveCount).toBe(6);
    expect(actors.states).toEqual({ processing: 2, queued: 4 });
  });
});
