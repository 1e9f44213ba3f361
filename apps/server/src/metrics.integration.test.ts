import { afterEach, describe, expect, it } from "vitest";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { scrape, valueOf } from "./testing/prometheus";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { startTestServer, useTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("/metrics on $kind", (driver) => {
  const server = useTestServer(driver);

  it("answers Prometheus text with every Anvil metric", async () => {
    const response = await fetch(`${server().url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const name of [
      "anvil_jobs",
      "anvil_queue_depth",
      "anvil_job_wait_seconds",
      "anvil_job_gpu_seconds",
      "anvil_gpu_busy_seconds_total",
      "anvil_gpu_busy_ratio",
      "anvil_backend_errors_total",
      "anvil_backend_up",
      "anvil_event_subscriptions",
      "anvil_events_published_total",
      "anvil_images_not_stored",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it("counts a completed and an out-of-memory job in the status gauge, the error counter and both histograms", async () => {
    const { url, trpc, simulator } = server();
    const before = await scrape(url);
    const ok = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("metrics ok"), ...quick });
    const oom = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("metrics sim:oom"), ...quick });
    await waitForStatus(trpc, ok.id, "complete");
    await waitForStatus(trpc, oom.id, "error");
    const after = await scrape(url);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta("anvil_jobs", { status: "complete" })).toBe(1);
    expect(delta("anvil_jobs", { status: "error" })).toBe(1);
    expect(valueOf(after, "anvil_jobs", { status: "queued" })).toBe(0);
    expect(valueOf(after, "anvil_jobs", { status: "processing" })).toBe(0);
    expect(delta("anvil_backend_errors_total", { reason: "OutOfMemory" })).toBe(1);
    expect(delta("anvil_job_wait_seconds_count")).toBe(2);
    expect(delta("anvil_job_gpu_seconds_count", { status: "complete" })).toBe(1);
    expect(delta("anvil_job_gpu_seconds_count", { status: "error" })).toBe(1);
    expect(delta("anvil_gpu_busy_seconds_total", { backend: simulator.url })).toBeGreaterThan(0);
    // Each job was announced queued, processing and then final.
    expect(delta("anvil_events_published_total")).toBeGreaterThanOrEqual(6);

    // Deleted with its conversation, a job is counted no more (the gauge counted it until a restart).
    await trpc.conversations.delete.mutate({ conversationId: ok.conversationId });
    const deleted = await scrape(url);
    expect(valueOf(deleted, "anvil_jobs", { status: "complete" })).toBe(
      valueOf(before, "anvil_jobs", { status: "complete" }),
    );
    expect(valueOf(deleted, "anvil_jobs", { status: "error" })).toBe(valueOf(after, "anvil_jobs", { status: "error" }));
  });

  it("counts the GPU busy for the whole of jobs that run back to back, not only the first", async () => {
    const { url, trpc, simulator } = server();
    const before = await scrape(url);
    const jobs = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        trpc.jobs.submit.mutate({ prompt: uniquePrompt(`back to back ${n}`), ...quick, steps: 40 }),
      ),
    );
    for (const job of jobs) await waitForStatus(trpc, job.id, "complete");
    const after = await scrape(url);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    // The jobs' own time on the GPU, as each one's start and end say; the busy time is the union of those spans.
    const held = delta("anvil_job_gpu_seconds_sum", { status: "complete" });
    const busy = delta("anvil_gpu_busy_seconds_total", { backend: simulator.url });
    expect(held).toBeGreaterThan(0);
    expect(busy).toBeGreaterThan(0.7 * held);
    expect(busy).toBeLessThanOrEqual(held + 0.05);
  });

  it("shows waiting jobs as queue depth and open subscriptions as a gauge", async () => {
    const { url, trpc } = server();
    const subscriptions = async () => valueOf(await scrape(url), "anvil_event_subscriptions");
    const before = await subscriptions();
    const subscription = trpc.jobs.events.subscribe({}, { onData: () => {} });
    try {
      await waitFor(async () => (await subscriptions()) === before + 1, "the gauge counts the new subscription");
      await occupyGpu(server());
      await trpc.jobs.submit.mutate({ prompt: uniquePrompt("metrics waits"), ...quick });
      await trpc.jobs.submit.mutate({ prompt: uniquePrompt("metrics waits too"), ...quick });
      const samples = await scrape(url);
      expect(valueOf(samples, "anvil_queue_depth")).toBe(2);
      expect(valueOf(samples, "anvil_jobs", { status: "queued" })).toBe(2);
      expect(valueOf(samples, "anvil_jobs", { status: "processing" })).toBe(1);
      expect(valueOf(samples, "anvil_event_subscriptions")).toBe(before + 1);
    } finally {
      subscription.unsubscribe();
    }
    await waitFor(async () => (await subscriptions()) === before, "the gauge drops the closed subscription");
  });
});

describe.each(testDrivers())("/metrics after a restart on $kind", (driver) => {
  const opened: { database?: TestDatabase; servers: TestServer[] } = { servers: [] };
  afterEach(async () => {
    for (const server of opened.servers.splice(0)) await server.anvil.close();
    await opened.database?.dispose();
  });

  it("starts the status gauge from the jobs the database holds", async () => {
    const database = await driver.create();
    opened.database = database;
    const first = await startTestServer(database);
    opened.servers.push(first);
    const done = await first.trpc.jobs.submit.mutate({ prompt: uniquePrompt("counted"), ...quick });
    const failed = await first.trpc.jobs.submit.mutate({ prompt: uniquePrompt("counted sim:oom"), ...quick });
    await waitForStatus(first.trpc, done.id, "complete");
    await waitForStatus(first.trpc, failed.id, "error");
    await first.anvil.close();
    opened.servers.splice(0);

    const second = await startTestServer(database);
    opened.servers.push(second);
    const samples = await scrape(second.url);
    expect(valueOf(samples, "anvil_jobs", { status: "complete" })).toBe(1);
    expect(valueOf(samples, "anvil_jobs", { status: "error" })).toBe(1);
    expect(valueOf(samples, "anvil_jobs", { status: "queued" })).toBe(0);
  });
});

describe("/metrics with API_TOKEN", () => {
  const [pglite] = testDrivers();
  const token = "metrics-secret-token";
  const server = useTestServer(pglite!, { apiToken: token });

  it("needs the token like /trpc does", async () => {
    expect((await fetch(`${server().url}/metrics`)).status).toBe(401);
    const authorized = await fetch(`${server().url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(authorized.status).toBe(200);
  });
});
