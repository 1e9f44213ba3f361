import type { Job } from "@anvil/job-machine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrompt } from "./testing/fixtures";
import { derivedJobs, recordJobEvents } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { startTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

/**
 * Steady work: every job the same size and steps, about 0.8 s on the simulator at 40 ms a step, so that the jitter of a
 * loaded 2-core CI machine (a few hundred ms a job at worst) stays well inside the 40 % an estimate may be off.
 */
const steady = { width: 512, height: 512, steps: 20 } as const;
const STEP_MS = 40;

/** How far an estimate may be off: 40 % of the time it foretold, counted from when it was read. */
const expectWithin40Percent = (what: string, estimated: string | null, actual: string | null, readAt: number) => {
  expect(estimated, `${what}: estimated`).not.toBeNull();
  expect(actual, `${what}: happened`).not.toBeNull();
  const foretold = Date.parse(estimated!) - readAt;
  const took = Date.parse(actual!) - readAt;
  expect(Math.abs(foretold - took), `${what}: foretold in ${foretold} ms, took ${took} ms`).toBeLessThanOrEqual(
    0.4 * took,
  );
};

describe.each(testDrivers())("estimates on $kind", (driver) => {
  let database: TestDatabase;
  let server: TestServer;
  const submit = (label: string) => server.trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), ...steady });
  /**
   * Jobs run to the end until the server foretells how long one takes now: its first runs are slow on a fresh server
   * (as on a GPU that loads its model), and on a machine whose load shifts (a busy CI) earlier runs took longer or
   * shorter than the ones measured next. Three at a time, until the GPU time the server foretold for the third (its
   * estimated end less its estimated start, read while it waited) is within 25 % of what the three took (at most five
   * times). Returns the median of the last three's times as the server recorded them (start to end).
   */
  const warmUp = async (): Promise<number> => {
    let median = NaN;
    for (let round = 0; round < 5; round++) {
      const jobs: Job[] = [];
      for (let i = 0; i < 3; i++) jobs.push(await submit(`warm-up ${round}.${i}`));
      const { estimatedStartAt, estimatedFinishAt } = await server.trpc.jobs.get.query({ jobId: jobs[2]!.id });
      const took: number[] = [];
      for (const job of jobs) {
        const done = await waitForStatus(server.trpc, job.id, "complete");
        took.push(Date.parse(done.finishedAt!) - Date.parse(done.startedAt!));
      }
      median = took.sort((x, y) => x - y)[1]!;
      if (estimatedStartAt === null || estimatedFinishAt === null) continue;
      const foretold = Date.parse(estimatedFinishAt) - Date.parse(estimatedStartAt);
      if (Math.abs(foretold - median) <= 0.25 * median) break;
    }
    return median;
  };

  beforeAll(async () => {
    database = await driver.create();
    server = await startTestServer(database, { simulatorStepMs: STEP_MS });
  });
  afterAll(async () => {
    await server?.anvil.close();
    await database?.dispose();
  });

  it("knows nothing before a job has finished, then foretells a queued job's start and end within 40 %", async () => {
    const { trpc } = server;
    await submit("first ever");
    const second = await submit("second ever");
    expect(await trpc.jobs.get.query({ jobId: second.id })).toMatchObject({
      status: "queued",
      estimatedStartAt: null,
      estimatedFinishAt: null,
    });
    await waitForStatus(trpc, second.id, "complete");
    await warmUp();

    const line: Job[] = [];
    for (let i = 0; i < 4; i++) line.push(await submit(`steady ${i}`));
    const last = line.at(-1)!;
    const readAt = Date.now();
    const foretold = await trpc.jobs.get.query({ jobId: last.id });
    expect(foretold.status).toBe("queued");
    const done = await waitForStatus(trpc, last.id, "complete");
    expectWithin40Percent("start", foretold.estimatedStartAt, done.startedAt, readAt);
    expectWithin40Percent("end", foretold.estimatedFinishAt, done.finishedAt, readAt);
    // Once it ended it foretells nothing.
    expect(done).toMatchObject({ estimatedStartAt: null, estimatedFinishAt: null });
  }, 60_000);

  it("foretells nothing while the queue is paused, and a subscriber derives the estimates again from the line's timing", async () => {
    const { trpc } = server;
    await warmUp();
    const subscriber = await recordJobEvents(server, trpc, {});
    try {
      await trpc.queue.pause.mutate();
      const line: Job[] = [];
      for (let i = 0; i < 3; i++) line.push(await submit(`paused ${i}`));
      const last = line.at(-1)!;
      expect(await trpc.jobs.get.query({ jobId: last.id })).toMatchObject({
        queuePosition: 3,
        estimatedStartAt: null,
        estimatedFinishAt: null,
      });
      await subscriber.untilStatus(last.id, "queued");
      // Line events while paused carry no timing, and nothing a client derives knows more than jobs.get.
      await waitFor(() => subscriber.lines.length > 0, "a line event arrives while paused");
      expect(subscriber.lines.every(({ line }) => line.timing === null)).toBe(true);
      expect(derivedJobs(subscriber).get(last.id)).toMatchObject({ estimatedStartAt: null, estimatedFinishAt: null });

      await trpc.queue.resume.mutate();
      const readAt = Date.now();
      // The first job starts at once; the subscriber gets a line event with the timing and moves the last job by it.
      await waitFor(() => {
        const held = derivedJobs(subscriber).get(last.id);
        return held?.queuePosition === 2 && held.estimatedStartAt !== null;
      }, "the subscriber derives the last job's estimates from a line event");
      const derived = derivedJobs(subscriber).get(last.id)!;
      const done = await waitForStatus(trpc, last.id, "complete");
      expectWithin40Percent("derived start", derived.estimatedStartAt, done.startedAt, readAt);
      expectWithin40Percent("derived end", derived.estimatedFinishAt, done.finishedAt, readAt);
    } finally {
      subscriber.stop();
      await trpc.queue.resume.mutate();
    }
  }, 60_000);

  it("sends the line's timing again when the running job goes faster than foretold, so waiting jobs' starts follow", async () => {
    const { trpc } = server;
    await warmUp();
    const subscriber = await recordJobEvents(server, trpc, {});
    try {
      // Both in one go, so that the line's timing first gives the one behind the big one a start from the
      // prediction alone: eight times the pixel-steps of the jobs learned from, so foretold eight times as long,
      // where the simulator's steps take the same time at any size (it runs about twice as long as they did).
      const [big, behind] = await trpc.jobs.submitMany.mutate({
        jobs: [
          { prompt: uniquePrompt("big"), width: 1024, height: 1024, steps: 40 },
          { prompt: uniquePrompt("behind the big one"), ...steady },
        ],
      });
      await subscriber.untilStatus(behind!.id, "processing");
      const { received } = subscriber;
      const statusAt = (id: string) =>
        received.findIndex((event) => "job" in event && event.job.id === id && event.job.status === "processing");
      const [from, to] = [statusAt(big!.id), statusAt(behind!.id)];
      // What line events said of the head's start, in the order they said it.
      const heads = received.flatMap((event, index) =>
        "line" in event && event.line.timing ? [{ index, line: event.line, at: Date.parse(event.line.timing.at) }] : [],
      );
      // While the big one ran and the line stayed as it was, a line event with no changes brought that start forward.
      const retimed = heads.filter(({ index, line }) => index > from && index < to && line.from === line.version);
      expect(retimed.length, "timing-only line events while the big job ran").toBeGreaterThan(0);
      const announced = heads
        .filter(({ index, line }) => index < retimed[0]!.index && line.from !== line.version)
        .at(-1);
      expect(retimed[0]!.at).toBeLessThan(announced!.at);
    } finally {
      subscriber.stop();
    }
  }, 60_000);

  it("foretells no start while the server stops, and says it stops: what waits runs at the next start", async () => {
    await warmUp();
    const running = await submit("running as the server stops");
    const waiting = await submit("waiting as the server stops");
    await waitForStatus(server.trpc, running.id, "processing");
    expect((await server.trpc.jobs.get.query({ jobId: waiting.id })).estimatedStartAt).not.toBeNull();
    expect(await server.trpc.queue.status.query()).toMatchObject({ serverStopping: false });
    // A SIGTERM's grace: the running job may finish, and calls are still answered meanwhile.
    const closing = server.anvil.close({ graceMs: 30_000 });
    try {
      expect(await server.trpc.jobs.get.query({ jobId: waiting.id })).toMatchObject({
        status: "queued",
        estimatedStartAt: null,
        estimatedFinishAt: null,
      });
      // And the queue says why nothing starts (the page and the CLI say it in words).
      expect(await server.trpc.queue.status.query()).toMatchObject({ serverStopping: true, queued: 1 });
    } finally {
      await closing;
    }
    server = await startTestServer(database, { simulatorStepMs: STEP_MS });
    await waitForStatus(server.trpc, waiting.id, "complete");
  }, 60_000);

  it("estimates at once on a server that starts on the same database, from the jobs it finds finished there", async () => {
    const recorded = await warmUp();
    await server.anvil.close();
    server = await startTestServer(database, { simulatorStepMs: STEP_MS });
    const running = await submit("after the restart");
    const waiting = await submit("behind it");
    const [foretoldRun, foretoldWait] = await Promise.all(
      [running, waiting].map((job) => server.trpc.jobs.get.query({ jobId: job.id })),
    );
    expect(foretoldRun!.estimatedFinishAt).not.toBeNull();
    const { estimatedStartAt, estimatedFinishAt } = foretoldWait!;
    expect(estimatedStartAt, "start after a restart").not.toBeNull();
    expect(estimatedFinishAt, "end after a restart").not.toBeNull();
    // What it foretells a steady job takes is what the jobs it found took, as the server recorded them: not the wall
    // time of the next two, which a machine whose load shifts (a busy CI) runs at another pace than the ones before.
    const foretold = Date.parse(estimatedFinishAt!) - Date.parse(estimatedStartAt!);
    expect(Math.abs(foretold - recorded), `foretold ${foretold} ms, found ${recorded} ms`).toBeLessThanOrEqual(
      0.4 * recorded,
    );
    await waitForStatus(server.trpc, waiting.id, "complete");
  }, 60_000);
});
