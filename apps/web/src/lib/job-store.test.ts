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
});
