import { randomUUID } from "node:crypto";
import type { InspectionRecord } from "@anvil/api";
import { INSPECTION_OFF } from "@anvil/api";
import { describe, expect, it } from "vitest";
import type { AnvilClient } from "./testing/clients";
import { codeOf, occupyGpu, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { scrape, valueOf } from "./testing/prometheus";
import { waitFor, waitForStatus } from "./testing/wait";

type DebugInspectInput = Parameters<AnvilClient["debug"]["inspect"]["subscribe"]>[0];

/** A `debug.inspect` subscription that records what it receives. */
function recordInspection(server: TestServer, input: DebugInspectInput) {
  const received: { id: string; record: InspectionRecord }[] = [];
  let failure: Error | null = null;
  const subscription = server.trpc.debug.inspect.subscribe(input, {
    onData: ({ id, data }) => received.push({ id, record: data }),
    onError: (error) => {
      failure = error;
    },
  });
  return {
    received,
    error: () => failure,
    until: (check: () => boolean, what: string) =>
      waitFor(() => {
        if (failure) throw new Error(`debug.inspect failed while waiting until ${what}: ${String(failure)}`);
        return check();
      }, what),
    stop: () => subscription.unsubscribe(),
  };
}

/** The states a job actor's own snapshots went through, repeats folded. */
const statesOf = (records: readonly InspectionRecord[], jobId: string): unknown[] => {
  const states: unknown[] = [];
  for (const r of records) {
    if (r.type === "@xstate.snapshot" && r.actorId === jobId && states.at(-1) !== r.state) states.push(r.state);
  }
  return states;
};

const [pglite] = testDrivers();

describe("debug.* with inspection on", () => {
  const server = useTestServer(pglite!, { inspect: "on" });

  it("streams a job's events queued → processing → complete to a subscriber watching everything", async () => {
    const inspection = recordInspection(server(), {});
    try {
      // The stream first replays the ring; once it has, the job below can only arrive live.
      const replayedUpTo = server().anvil.inspector!.latestSeq;
      expect(replayedUpTo).toBeGreaterThan(0);
      await inspection.until(
        () => inspection.received.some(({ record }) => record.seq >= replayedUpTo),
        "the ring is replayed",
      );
      const job = await server().trpc.jobs.submit.mutate({ prompt: uniquePrompt("inspected"), ...quick });
      const records = () => inspection.received.map((r) => r.record);
      await inspection.until(() => statesOf(records(), job.id).includes("complete"), "the job's actor completes");
      expect(statesOf(records(), job.id)).toEqual(["queued", "processing", "complete"]);
      const started = records().find((r) => r.actorId === job.id && r.eventType === "job.start");
      expect(started).toMatchObject({ type: "@xstate.event", jobId: job.id, sourceId: "scheduler" });
      expect(JSON.parse(started?.payloadSummary ?? "null")).toEqual({
        type: "job.start",
        backend: 0,
        turn: 1,
        reason: "local's turn: no other user waiting",
      });
      const processing = records().find((r) => r.actorId === job.id && r.state === "processing");
      expect(processing?.contextDiff).toMatchObject({ status: ["queued", "processing"], backend: [null, 0] });
      // Ids are "<instance>:<seq>", in the order of seq.
      const seqs = inspection.received.map(({ id, record }) => {
        expect(id).toBe(`${server().anvil.inspector?.instance}:${record.seq}`);
        return record.seq;
      });
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      // An open /inspect is not one of the `jobs.events` subscriptions /metrics counts.
      expect(valueOf(await scrape(server().url), "anvil_event_subscriptions")).toBe(0);
    } finally {
      inspection.stop();
    }
  });

  it("replays a finished job's events to a subscriber watching that job, and resumes after lastEventId", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("replayed"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const first = recordInspection(server(), { jobId: job.id });
    let all: { id: string; record: InspectionRecord }[];
    try {
      await first.until(
        () =>
          statesOf(
            first.received.map((r) => r.record),
            job.id,
          ).includes("complete"),
        "replayed",
      );
      expect(
        statesOf(
          first.received.map((r) => r.record),
          job.id,
        ),
      ).toEqual(["queued", "processing", "complete"]);
      expect(first.received.every((r) => r.record.jobId === job.id)).toBe(true);
      all = [...first.received];
    } finally {
      first.stop();
    }
    const middle = Math.floor(all.length / 2);
    const resumed = recordInspection(server(), { jobId: job.id, lastEventId: all[middle]!.id });
    try {
      await resumed.until(() => resumed.received.length >= all.length - middle - 1, "the rest is replayed");
      expect(resumed.received.map((r) => r.id)).toEqual(all.slice(middle + 1).map((r) => r.id));
    } finally {
      resumed.stop();
    }
  });

  it("refuses with PRECONDITION_FAILED (reload) a lastEventId of another server process", async () => {
    const inspection = recordInspection(server(), { lastEventId: "abcdef:1" });
    try {
      await waitFor(() => inspection.error() !== null, "the subscription fails");
      const error = inspection.error() as unknown as Parameters<typeof codeOf>[0];
      expect(codeOf(error).code).toBe("PRECONDITION_FAILED");
      expect(error.message).toMatch(/reload/);
    } finally {
      inspection.stop();
    }
  });

  it("shows a failed job's error event in its timeline", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("timeline sim:oom"), ...quick });
    await waitForStatus(trpc, job.id, "error");
    const timeline = await trpc.debug.timeline.query({ jobId: job.id });
    expect(timeline).toMatchObject({ jobId: job.id, alive: false, truncated: false });
    const failure = timeline.events.find(
      (e) => e.type === "@xstate.event" && e.eventType?.startsWith("xstate.error.actor."),
    );
    expect(failure).toMatchObject({ actorId: job.id, jobId: job.id, sourceId: `${job.id}/0.imageJob.processing` });
    expect(failure?.payloadSummary).toMatch(/OutOfMemory/);
    expect(statesOf(timeline.events, job.id)).toEqual(["queued", "processing", "error"]);
    const last = timeline.events.filter((e) => e.actorId === job.id && e.type === "@xstate.snapshot").at(-1);
    expect(last).toMatchObject({ state: "error", status: "done" });
    expect(last?.contextDiff?.["error"]?.[1]).toMatch(/out of memory/i);
  });

  it("says that the first in line waits because an admin paused the queue", async () => {
    const { trpc } = server();
    await trpc.queue.pause.mutate();
    try {
      const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("paused"), ...quick });
      // Once "dispatch-pending: the first in line is being started", which it was not.
      expect((await trpc.debug.scheduler.query()).blockedBy).toEqual({
        reason: "paused",
        message: "An admin paused the queue (queue.pause): nothing starts until queue.resume; running jobs finish",
      });
      await trpc.queue.resume.mutate();
      await waitForStatus(trpc, job.id, "complete");
    } finally {
      await trpc.queue.resume.mutate();
    }
  });

  it("shows the line in order, who holds the GPU, and why the first in line waits", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    const first = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("first in line"), ...quick });
    const second = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("second in line"), ...quick });
    const view = await trpc.debug.scheduler.query();
    expect(view).toMatchObject({
      dispatching: true,
      blockedBy: { reason: "all-backends-busy" },
      queued: 2,
      permits: { total: 1, held: 1, free: 0 },
    });
    expect(view.queue.map((q) => [q.jobId, q.position])).toEqual([
      [first.id, 1],
      [second.id, 2],
    ]);
    expect(view.queue[0]).toMatchObject({ attempt: 1, prompt: first.prompt, createdAt: first.createdAt });
    expect(view.backends).toEqual([
      expect.objectContaining({
        index: 0,
        url: server().simulator.url,
        healthy: true,
        jobId: blocker.id,
        since: expect.any(String),
        permit: { held: true, since: expect.any(String) },
        // Read from the simulator's options when it came up: its first checkpoint.
        // The model as the scheduler keys it: the title without its hash (see modelOf).
        model: "flux1-dev.safetensors",
      }),
    ]);
    expect(view.queue.map((q) => q.passedOver)).toEqual([0, 0]);
    // Why the running job got the GPU: the latest decision, also in its timeline.
    expect(view.dispatches[0]).toMatchObject({
      jobId: blocker.id,
      owner: "local",
      backend: 0,
      kind: "turn",
      reason: "local's turn: no other user waiting",
      switched: false,
      passedOver: 0,
      at: expect.any(String),
    });
    expect((await trpc.debug.timeline.query({ jobId: blocker.id })).dispatch?.reason).toBe(
      "local's turn: no other user waiting",
    );

    const actors = await trpc.debug.actors.query();
    // Only the running job has an actor: a waiting job's actor is spawned as it starts.
    expect(actors.scheduler).toMatchObject({ actorId: "scheduler", status: "active", children: 1 });
    expect(actors.aliveCount).toBe(3);
    expect(actors.alive.map((a) => [a.jobId, a.state, a.status, a.position])).toEqual([
      [blocker.id, "processing", "active", 0],
      [first.id, "queued", "not spawned yet", 1],
      [second.id, "queued", "not spawned yet", 2],
    ]);
  });

  it("does not call a waiting job's timeline truncated: its actor is spawned only as it starts", async () => {
    const { trpc } = server();
    await occupyGpu(server());
    const waiting = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("waiting, not truncated"), ...quick });
    const timeline = await trpc.debug.timeline.query({ jobId: waiting.id });
    expect(timeline).toMatchObject({ jobId: waiting.id, alive: true, truncated: false });
    expect(timeline.events.map((e) => [e.actorId, e.type, e.eventType])).toEqual([
      ["scheduler", "@xstate.event", "scheduler.enqueue"],
      ["scheduler", "@xstate.snapshot", "scheduler.enqueue"],
    ]);
  });

  it("answers NOT_FOUND for the timeline of a job that does not exist, rather than an empty one", async () => {
    const error = await trpcError(server().trpc.debug.timeline.query({ jobId: randomUUID() }));
    expect(codeOf(error)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
    expect(error.message).toMatch(/^No job with id /);
  });

  it("ends an inspection of a job that does not exist with NOT_FOUND, rather than a stream that stays silent", async () => {
    const inspection = recordInspection(server(), { jobId: randomUUID() });
    try {
      await waitFor(() => inspection.error() !== null, "the inspection fails");
      expect(inspection.error()?.message).toMatch(/^No job with id /);
      expect(inspection.received).toEqual([]);
    } finally {
      inspection.stop();
    }
  });

  it("reads a job id in any case, as the ids it names are written", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("upper case id"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    expect((await trpc.debug.timeline.query({ jobId: job.id.toUpperCase() })).jobId).toBe(job.id);
  });

  it("lists jobs whose actors ended among the finished ones, newest first", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("finished actor"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const actors = await trpc.debug.actors.query({ limit: 10 });
    expect(actors.alive.map((a) => a.jobId)).not.toContain(job.id);
    expect(actors.finished[0]).toMatchObject({ jobId: job.id, state: "complete", status: "done" });
  });

  it("charts both machines and reports the ring", async () => {
    const { trpc } = server();
    const charts = await trpc.debug.chart.query();
    expect(charts.imageJob.states.map((s) => s.key)).toEqual([
      "queued",
      "processing",
      "complete",
      "error",
      "cancelled",
    ]);
    expect(charts.scheduler.states).toEqual([{ id: "scheduler", key: "scheduler", final: false }]);
    const status = await trpc.debug.status.query();
    expect(status).toMatchObject({ inspection: true, ring: { capacity: 5_000, failures: 0 } });
  });
});

describe("debug.* with a small ring", () => {
  const server = useTestServer(pglite!, { inspect: "on", inspectionCapacity: 10 });

  it("asks a subscriber to reload when its lastEventId has left the ring", async () => {
    const { trpc, anvil } = server();
    const first = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("evicted"), ...quick });
    await waitForStatus(trpc, first.id, "complete");
    const stale = anvil.inspector!.eventId(1);
    const second = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("evicts"), ...quick });
    await waitForStatus(trpc, second.id, "complete");
    expect(anvil.inspector!.stats().oldestSeq).toBeGreaterThan(2);
    const error = await trpcError(
      new Promise((resolve, reject) => {
        const subscription = trpc.debug.inspect.subscribe(
          { lastEventId: stale },
          { onData: resolve, onError: (e) => (subscription.unsubscribe(), reject(e)) },
        );
      }),
    );
    expect(codeOf(error).code).toBe("PRECONDITION_FAILED");
    expect(error.message).toMatch(/reload/);
  });
});

describe("debug.* with inspection off", () => {
  const server = useTestServer(pglite!, { inspect: "off" });

  it("answers PRECONDITION_FAILED saying how to turn inspection on, except for the chart and status", async () => {
    const { trpc } = server();
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("not inspected"), ...quick });
    for (const call of [
      trpc.debug.timeline.query({ jobId: job.id }),
      trpc.debug.scheduler.query(),
      trpc.debug.actors.query(),
    ]) {
      const error = await trpcError(call);
      expect(codeOf(error)).toEqual({ code: "PRECONDITION_FAILED", httpStatus: 412 });
      expect(error.message).toBe(INSPECTION_OFF);
    }
    expect((await trpc.debug.chart.query()).imageJob.id).toBe("imageJob");
    expect(await trpc.debug.status.query()).toEqual({ inspection: false, ring: null });
  });
});

describe("ANVIL_INSPECT=stately without Stately's package", () => {
  const server = useTestServer(pglite!, { inspect: "stately" });

  it("inspects as with ANVIL_INSPECT=1, and says so: not stately, which it cannot feed", async () => {
    const { anvil, trpc } = server();
    expect(anvil.inspection).toBe("on");
    expect((await trpc.debug.status.query()).inspection).toBe(true);
  });
});
