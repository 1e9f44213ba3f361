import { DEFAULT_JOB_PARAMS, JobScheduler } from "@anvil/job-machine";
import type { JobParams, JobStatus } from "@anvil/job-machine";
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { HistoryGone } from "../errors";
import { Inspector } from "./inspector";

/** The smallest job: one step at 64×64, a fixed seed, the other defaults. */
const params: JobParams = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 1, seed: 1 };

/**
 * A real scheduler with an instant backend (prompts containing "fail" fail, those containing "progress" report 50%
 * first), inspected by `inspector`.
 */
function inspectedScheduler(inspector: Inspector) {
  const finished = new Map<string, (status: JobStatus) => void>();
  const scheduler = new JobScheduler<null>({
    backends: 1,
    healthy: true,
    jobTimeoutMs: 10_000,
    generate: (request, onProgress) =>
      request.prompt.includes("fail")
        ? Effect.fail(new Error("CUDA out of memory"))
        : Effect.sync(() => request.prompt.includes("progress") && onProgress(50)).pipe(
            Effect.as(Effect.succeed({ imageUrl: `/images/${request.jobId}.png`, usedSeed: 7 })),
          ),
    persist: async (entries) => entries.map(() => null),
    publish: (entry) => {
      if (entry.kind === "transition" && ["complete", "error", "cancelled"].includes(entry.to)) {
        finished.get(entry.jobId)?.(entry.to);
      }
    },
    inspect: inspector.observe,
  });
  /** `again`: it was running when its server went away, and joins the line as its next attempt (see Recovery). */
  const run = (jobId: string, prompt = jobId, again = false) => {
    const done = new Promise<JobStatus>((resolve) => finished.set(jobId, resolve));
    const job = { jobId, prompt: `${prompt} ${"x".repeat(5_000)}`, params };
    scheduler.submit(again ? { ...job, attempt: 2, again } : { ...job, attempt: 1 });
    return done;
  };
  return { scheduler, run };
}

describe("Inspector", () => {
  it("keeps a job's timeline from its enqueue to its final snapshot, with the context changes", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    expect(await run("j1")).toBe("complete");
    await scheduler.stop();
    const timeline = inspector.timeline("j1");
    expect(timeline[0]).toMatchObject({ actorId: "scheduler", type: "@xstate.event", eventType: "scheduler.enqueue" });
    const states = timeline.filter((r) => r.actorId === "j1" && r.type === "@xstate.snapshot").map((r) => r.state);
    // The second `processing` is the backend done with it, its image being kept.
    expect(states).toEqual(["queued", "processing", "processing", "complete"]);
    const generated = timeline.find(
      (r) => r.actorId === "j1" && r.type === "@xstate.snapshot" && r.eventType === "job.generated",
    );
    expect(generated?.contextDiff).toEqual({ generated: [false, true] });
    const done = timeline.findLast((r) => r.actorId === "j1");
    expect(done?.contextDiff).toMatchObject({ status: ["processing", "complete"], progress: [0, 100] });
    // The scheduler's snapshots, in the job's timeline too: its backend freed once the job said it was done with it,
    // its actor gone at its end.
    const schedulerAfter = (eventType: string) =>
      timeline.find((r) => r.actorId === "scheduler" && r.eventType === eventType && r.type === "@xstate.snapshot");
    expect(schedulerAfter("job.generated")?.contextDiff).toEqual({ running: [1, 0] });
    expect(schedulerAfter("xstate.done.actor.j1")?.contextDiff).toEqual({ jobs: [1, 0] });
  });

  it("puts a batch that joins the line in the timeline of every job in it, as that job's own enqueue", async () => {
    const inspector = new Inspector();
    const { scheduler } = inspectedScheduler(inspector);
    scheduler.hold(true);
    scheduler.submitMany(["b1", "b2", "b3"].map((jobId) => ({ jobId, prompt: jobId, params, attempt: 1 })));
    await scheduler.stop();
    for (const jobId of ["b1", "b2", "b3"]) {
      const [event, snapshot] = inspector.timeline(jobId).filter((r) => r.eventType === "scheduler.enqueueMany");
      expect(event).toMatchObject({ actorId: "scheduler", type: "@xstate.event" });
      expect(JSON.parse(event?.payloadSummary ?? "{}")).toMatchObject({ job: { jobId }, batch: 3 });
      expect(snapshot).toMatchObject({ actorId: "scheduler", type: "@xstate.snapshot" });
    }
  });

  it("cuts long fields from event summaries and keeps errors readable", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    expect(await run("j2", "fail")).toBe("error");
    await scheduler.stop();
    const timeline = inspector.timeline("j2");
    const enqueue = timeline.find((r) => r.eventType === "scheduler.enqueue");
    expect(enqueue?.payloadSummary?.length).toBeLessThanOrEqual(1_001);
    const failure = timeline.find((r) => r.eventType?.startsWith("xstate.error.actor."));
    expect(JSON.parse(failure?.payloadSummary ?? "{}")).toMatchObject({
      error: { name: "Error", message: "CUDA out of memory" },
    });
  });

  it("keeps what a job tells the scheduler, but not the scheduler's copy of its progress", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    await run("j3", "progress");
    await scheduler.stop();
    const timeline = inspector.timeline("j3");
    const toScheduler = timeline.filter((r) => r.actorId === "scheduler" && r.type === "@xstate.event");
    expect(toScheduler.filter((r) => r.sourceId === "j3").map((r) => r.eventType)).toEqual([
      "job.started",
      "job.generated",
      "xstate.done.actor.j3",
    ]);
    expect(timeline.some((r) => r.actorId === "scheduler" && r.eventType === "job.progress")).toBe(false);
    const progress = timeline.find(
      (r) => r.actorId === "j3" && r.type === "@xstate.snapshot" && r.contextDiff?.progress,
    );
    expect(progress?.contextDiff).toEqual({ progress: [0, 50] });
  });

  it("evicts the oldest events once full, and with them the evicted part of each job's timeline", async () => {
    const inspector = new Inspector({ capacity: 30 });
    const { scheduler, run } = inspectedScheduler(inspector);
    for (const id of ["a", "b", "c", "d"]) await run(id);
    await scheduler.stop();
    const { size, oldestSeq, latestSeq } = inspector.stats();
    expect(size).toBe(30);
    expect(latestSeq - oldestSeq + 1).toBe(30);
    expect(inspector.timeline("a")).toEqual([]);
    const kept = new Set(inspector.after(oldestSeq - 1).map((r) => r.seq));
    for (const id of ["b", "c", "d"]) {
      for (const record of inspector.timeline(id)) expect(kept.has(record.seq)).toBe(true);
    }
    expect(inspector.seenJobs().map((job) => job.jobId)[0]).toBe("d");
    expect(() => inspector.after(oldestSeq - 2)).toThrow(HistoryGone);
    expect(() => inspector.after(latestSeq + 1)).toThrow(HistoryGone);
  });

  it("calls a timeline truncated once its first events have left the ring, and only then", async () => {
    const inspector = new Inspector({ capacity: 30 });
    const { scheduler, run } = inspectedScheduler(inspector);
    for (const id of ["a", "b", "c", "d"]) await run(id);
    await scheduler.stop();
    const startsAtEnqueue = (id: string) => inspector.timeline(id)[0]?.eventType === "scheduler.enqueue";
    const cut = ["a", "b", "c", "d"].filter((id) => !startsAtEnqueue(id) && inspector.timeline(id).length > 0);
    expect(cut).toHaveLength(1);
    for (const id of ["a", "b", "c", "d"]) expect(inspector.truncated(id)).toBe(!startsAtEnqueue(id));
    expect(inspector.truncated("never-seen")).toBe(true);
  });

  it("calls a timeline truncated when the job had run before this process took it into the line", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    await run("fresh");
    // Taken from the database at a start after a crash, or by a new leader: its first attempt ran elsewhere.
    await run("resumed", "resumed", true);
    await scheduler.stop();
    expect(inspector.timeline("resumed")[0]?.eventType).toBe("scheduler.enqueue");
    expect(inspector.truncated("resumed")).toBe(true);
    expect(inspector.truncated("fresh")).toBe(false);
  });

  it("names what a job invokes after the job, from the record of its creation on", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    expect(await run("j5", "fail")).toBe("error");
    await scheduler.stop();
    const timeline = inspector.timeline("j5");
    const generation = "j5/0.imageJob.processing";
    expect(timeline.filter((r) => r.type === "@xstate.actor").map((r) => r.actorId)).toEqual(["j5", generation]);
    // Each actor's creation comes before anything it receives or sends.
    for (const actorId of ["j5", generation]) {
      const first = timeline.find((r) => r.actorId === actorId || r.sourceId === actorId);
      expect(first).toMatchObject({ type: "@xstate.actor", actorId });
    }
    const failure = timeline.find((r) => r.eventType?.startsWith("xstate.error.actor."));
    expect(failure).toMatchObject({ actorId: "j5", sourceId: generation });
  });

  it("reads only event ids of its own process", () => {
    const inspector = new Inspector();
    expect(inspector.seqOf(inspector.eventId(42))).toBe(42);
    expect(inspector.seqOf("42")).toBe(42);
    expect(inspector.seqOf(`${inspector.instance === "000000" ? "111111" : "000000"}:42`)).toBeNull();
    expect(inspector.seqOf("not an id")).toBeNull();
  });

  it("wakes a waiting reader at the next event", async () => {
    const inspector = new Inspector();
    const { scheduler, run } = inspectedScheduler(inspector);
    const woken = inspector.changed();
    void run("j4");
    await woken;
    expect(inspector.latestSeq).toBeGreaterThan(0);
    await scheduler.stop();
  });
});
