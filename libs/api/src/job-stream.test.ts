import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import type { JobRecord } from "@anvil/persistence";
import { toJob } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import type { Context } from "./context";
import { EventHub } from "./event-hub";
import { jobEventStream } from "./job-stream";

const JOB_ID = "00000000-0000-4000-8000-000000000001";

const record = (status: Job["status"], lastEventId: number): JobRecord => ({
  id: JOB_ID,
  conversationId: "00000000-0000-4000-8000-000000000002",
  messageId: "00000000-0000-4000-8000-000000000003",
  status,
  progress: status === "complete" ? 100 : 0,
  prompt: "a barn",
  params: { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 4, seed: 1 },
  imageUrl: status === "complete" ? `/images/${JOB_ID}.png` : null,
  usedSeed: null,
  error: null,
  createdAt: new Date(0).toISOString(),
  startedAt: null,
  finishedAt: null,
  seq: 1,
  attempts: status === "queued" ? 0 : 1,
  lastEventId,
});

describe("jobEventStream", () => {
  it("sends every status change that lands between reading the cursor and reading the job", async () => {
    const events = new EventHub();
    let stored = record("queued", 5);
    let getJobCalls = 0;
    const store = {
      getJob: async () => {
        // The second read (the current snapshot) comes after the job was started and finished, both published.
        if (++getJobCalls === 2) {
          for (const [status, id] of [
            ["processing", 6],
            ["complete", 7],
          ] as const) {
            stored = record(status, id);
            events.publish({ kind: "status", eventId: id, job: toJob(stored, 0) });
          }
        }
        return stored;
      },
      latestEventId: async () => 5,
    };
    const service = { toLiveJob: (r: JobRecord) => toJob(r, 0), liveJob: () => undefined };
    const ctx = { store, service, events, database: "pglite", coalesceMs: 1 } as unknown as Context;
    const abort = new AbortController();

    const received: { id: string; status: string }[] = [];
    for await (const envelope of jobEventStream(ctx, { jobId: JOB_ID }, abort.signal)) {
      const [id, job] = envelope as unknown as [string, Job];
      received.push({ id, status: job.status });
      if (job.status === "complete") abort.abort();
    }

    expect(received).toEqual([
      { id: "6", status: "processing" },
      { id: "7", status: "complete" },
    ]);
  });
});
