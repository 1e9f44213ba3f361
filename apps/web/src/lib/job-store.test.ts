import { createRoot } from "solid-js";
import { describe, expect, it } from "vitest";
import { createJobStore, isAtLeastAsNew } from "./job-store";
import { makeJob } from "./test-support";

const processing = (progress: number, startedAt = "2025-01-01T10:00:05.000Z") =>
  makeJob({ status: "processing", queuePosition: 0, progress, startedAt });

describe("isAtLeastAsNew", () => {
  it("orders jobs by status: queued, then processing, then a final state", () => {
    expect(isAtLeastAsNew(processing(0), makeJob())).toBe(true);
    expect(isAtLeastAsNew(makeJob(), processing(0))).toBe(false);
    expect(isAtLeastAsNew(makeJob({ status: "complete" }), processing(90))).toBe(true);
  });

  it("takes a smaller queue position as newer", () => {
    expect(isAtLeastAsNew(makeJob({ queuePosition: 2 }), makeJob({ queuePosition: 3 }))).toBe(true);
    expect(isAtLeastAsNew(makeJob({ queuePosition: 3 }), makeJob({ queuePosition: 2 }))).toBe(false);
  });

  it("takes more progress as newer, and a later start (a re-run after a restart) over any progress", () => {
    expect(isAtLeastAsNew(processing(50), processing(40))).toBe(true);
    expect(isAtLeastAsNew(processing(40), processing(50))).toBe(false);
    expect(isAtLeastAsNew(processing(0, "2025-01-01T10:05:00.000Z"), processing(80))).toBe(true);
  });

  it("takes a later attempt as newer whatever its status, and an earlier one as older", () => {
    const requeued = makeJob({ queuePosition: 2, attempt: 2 });
    expect(isAtLeastAsNew(requeued, processing(55))).toBe(true);
    expect(isAtLeastAsNew(processing(55), requeued)).toBe(false);
  });

  it("never replaces a final state", () => {
    expect(isAtLeastAsNew(makeJob({ status: "error" }), makeJob({ status: "cancelled" }))).toBe(false);
  });
});

describe("createJobStore", () => {
  it("keeps a query's snapshot out when the stream already brought a newer one", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      const job = makeJob();
      store.applyEvent({ ...job, status: "complete", queuePosition: 0, progress: 100 });
      store.applySnapshot(job);
      expect(store.jobs[job.id]?.status).toBe("complete");
      dispose();
    });
  });

  it("applies stream events in order, but not a replayed status older than the one shown", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      store.applySnapshot(processing(60));
      store.applyEvent(makeJob({ queuePosition: 1 }));
      expect(store.jobs[makeJob().id]?.status).toBe("processing");
      store.applyEvent(processing(0, "2025-01-01T10:05:00.000Z"));
      expect(store.jobs[makeJob().id]?.progress).toBe(0);
      dispose();
    });
  });

  it("puts a job back in the line when the stream brings it queued again with a higher attempt", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      store.applyEvent(processing(55));
      store.applyEvent(makeJob({ queuePosition: 2, attempt: 2 }));
      expect(store.jobs[makeJob().id]).toMatchObject({ status: "queued", attempt: 2, queuePosition: 2, progress: 0 });
      // A replay of the first attempt's run (a resumed stream) does not take it back.
      store.applyEvent(processing(60));
      store.applySnapshot(processing(60));
      expect(store.jobs[makeJob().id]).toMatchObject({ status: "queued", attempt: 2, queuePosition: 2 });
      dispose();
    });
  });

  it("keeps a waiting job's place when a replayed snapshot of it, stored before its place was known, says 0", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      store.applySnapshot(makeJob({ queuePosition: 3, attempt: 2 }));
      store.applyEvent(makeJob({ queuePosition: 0, attempt: 2 }));
      expect(store.jobs[makeJob().id]).toMatchObject({ status: "queued", attempt: 2, queuePosition: 3 });
      store.applyEvent(makeJob({ queuePosition: 2, attempt: 2 }));
      expect(store.jobs[makeJob().id]?.queuePosition).toBe(2);
      dispose();
    });
  });

  it("tells once that a job ended, however many times its final state comes", () => {
    createRoot((dispose) => {
      const ended: string[] = [];
      const store = createJobStore({ onEnded: (jobId) => ended.push(jobId) });
      store.applyEvent(processing(55));
      expect(ended).toEqual([]);
      const done = makeJob({ status: "complete", queuePosition: 0, progress: 100 });
      store.applyEvent(done);
      store.applyEvent(done);
      store.applySnapshot(done);
      expect(ended).toEqual([done.id]);
      dispose();
    });
  });

  it("moves a waiting job's estimates with a line event's timing, keeping its own run length", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      const job = makeJob({
        queuePosition: 3,
        estimatedStartAt: "2025-01-01T10:01:00.000Z",
        estimatedFinishAt: "2025-01-01T10:01:20.000Z",
      });
      store.applySnapshot(job);
      const timing = {
        at: "2025-01-01T10:00:10.000Z",
        places: [
          [1, 0, 30_000],
          [2, 30_000, 45_000],
        ] as [number, number, number][],
      };
      const stale = store.applyLine({
        kind: "line",
        from: 1,
        version: 2,
        changes: [{ op: "remove", at: 1, count: 1 }],
        timing,
      });
      expect(stale).toEqual([]);
      expect(store.jobs[job.id]).toMatchObject({
        queuePosition: 2,
        estimatedStartAt: "2025-01-01T10:00:40.000Z",
        estimatedFinishAt: "2025-01-01T10:01:00.000Z",
      });
      // Paused: nothing is known any more.
      store.applyLine({ kind: "line", from: 2, version: 2, changes: [], timing: null });
      expect(store.jobs[job.id]).toMatchObject({ queuePosition: 2, estimatedStartAt: null, estimatedFinishAt: null });
      // Known again, without a run length of its own: the timing's end for its place.
      expect(store.applyLine({ kind: "line", from: 2, version: 2, changes: [], timing })).toEqual([]);
      expect(store.jobs[job.id]).toMatchObject({
        estimatedStartAt: "2025-01-01T10:00:40.000Z",
        estimatedFinishAt: "2025-01-01T10:00:55.000Z",
      });
      dispose();
    });
  });
});

describe("createJobStore after a shutdown", () => {
  it("shows a job waiting again when a stop put it back in the line as the same attempt (an earlier server)", () => {
    createRoot((dispose) => {
      const store = createJobStore();
      const backend = "http://gpu-1:7860";
      store.applyEvent({ ...processing(40), backend });
      // A server of an earlier version stopped while it ran: the next start puts it first in the line, as the same
      // attempt (that stop gave the attempt back; a server now counts it up), having run on `backend`; a paused queue or a GPU that is down keeps it waiting.
      store.applyEvent(makeJob({ queuePosition: 1, attempt: 1, backend }));
      expect(store.jobs[makeJob().id]).toMatchObject({ status: "queued", queuePosition: 1, progress: 0 });
      // A resumed stream's replay of its first wait (before it ever ran) still takes nothing back.
      store.applyEvent({ ...processing(0, "2025-01-01T10:07:00.000Z"), backend });
      store.applyEvent(makeJob({ queuePosition: 4 }));
      expect(store.jobs[makeJob().id]?.status).toBe("processing");
      dispose();
    });
  });
});
