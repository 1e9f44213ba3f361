import { EventHub } from "@anvil/api";
import type { JobService } from "@anvil/api";
import { BackendLost, DEFAULT_JOB_PARAMS, JOB_STATUSES } from "@anvil/job-machine";
import type { GenerateRequest, Job, JobStatus } from "@anvil/job-machine";
import { afterEach, describe, expect, it } from "vitest";
import { AnvilMetrics } from "./metrics";
import type { JobCounts } from "./metrics";
import { parseMetrics, valueOf } from "./testing/prometheus";

const job = (status: JobStatus, attempt: number, error: string | null = null): Job => ({
  id: "j1",
  conversationId: "c1",
  messageId: "m1",
  status,
  queuePosition: 0,
  progress: 0,
  prompt: "p",
  params: DEFAULT_JOB_PARAMS,
  imageUrl: null,
  usedSeed: null,
  error,
  createdAt: "2026-12-03T04:00:00.000Z",
  startedAt: "2026-12-03T04:00:01.000Z",
  finishedAt: status === "error" ? "2026-12-03T04:00:09.000Z" : null,
  owner: "local",
  priority: 0,
  attempt,
  backend: "http://gpu:7860",
  estimatedStartAt: null,
  estimatedFinishAt: null,
  callbackUrl: null,
  cancelledBy: null,
  movedBy: null,
});

describe("AnvilMetrics' images gauge", () => {
  const metrics = new AnvilMetrics(new EventHub(), ["http://gpu:7860"]);
  afterEach(() => metrics.close());

  it("is 1 while finished images cannot be stored, and 0 before and after", async () => {
    const gauge = async () => valueOf(parseMetrics((await metrics.text()).body), "anvil_images_not_stored", {});
    expect(await gauge()).toBe(0);
    const scheduler = {
      imagesBlocked: true,
      journal: { run: (work: () => Promise<void>) => work() },
      snapshot: () => ({ queued: 0, processing: 0, backends: [] }),
    };
    const service = { scheduler, monitor: { health: () => [] } } as unknown as JobService;
    await metrics.attach(service, async () => Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as JobCounts);
    expect(await gauge()).toBe(1);
    scheduler.imagesBlocked = false;
    expect(await gauge()).toBe(0);
  });
});

describe("AnvilMetrics' error counter", () => {
  const metrics = new AnvilMetrics(new EventHub(), ["http://gpu:7860"]);
  afterEach(() => metrics.close());
  const errors = async (reason: string) => {
    const { body } = await metrics.text();
    return valueOf(parseMetrics(body), "anvil_backend_errors_total", { reason });
  };

  it("counts a job that lost its backend, ran again and then timed out as timed out", async () => {
    const request: GenerateRequest = { jobId: "j1", prompt: "p", params: DEFAULT_JOB_PARAMS, attempt: 1, backend: 0 };
    const { observer } = metrics;
    observer.transition?.(
      { jobId: "j1", from: "queued", to: "processing", backend: 0, attempt: 1 },
      job("processing", 1),
    );
    observer.generationFailed?.(request, new BackendLost("Lost the connection to Forge at http://gpu:7860"));
    observer.transition?.({ jobId: "j1", from: "processing", to: "queued", backend: 0, attempt: 2 }, job("queued", 2));
    observer.transition?.(
      { jobId: "j1", from: "queued", to: "processing", backend: 0, attempt: 2 },
      job("processing", 2),
    );
    observer.transition?.(
      { jobId: "j1", from: "processing", to: "error", backend: 0, attempt: 2 },
      job("error", 2, "The generation timed out after 10 minutes"),
    );
    expect(await errors("Timeout")).toBe(1);
    expect(await errors("BackendLost")).toBe(0);
    // Its wait is counted once, at its first start: the second start's time since submission holds its first run.
    const { body } = await metrics.text();
    expect(valueOf(parseMetrics(body), "anvil_job_wait_seconds_count", {})).toBe(1);
  });
});
