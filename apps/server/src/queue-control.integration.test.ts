import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { openDatabase } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import type { Job } from "@anvil/job-machine";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { subscribe } from "./reliability/support/events";
import { codeOf, occupyGpu, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { startTestServer, useTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

const positions = async (server: TestServer, ids: string[]): Promise<number[]> =>
  Promise.all(ids.map(async (jobId) => (await server.trpc.jobs.get.query({ jobId })).queuePosition));

const ranOrder = (server: TestServer, prompts: string[]): string[] =>
  server.simulator
    .stats()
    .log.filter((entry) => prompts.includes(entry.prompt))
    .map((entry) => entry.prompt);

/** Waits until every one of `jobs` completed on `server`, and checks that the backend ran them in that order. */
const expectRunInOrder = async (server: TestServer, jobs: Job[]): Promise<void> => {
  for (const job of jobs) await waitForStatus(server.trpc, job.id, "complete");
  const prompts = jobs.map((job) => job.prompt);
  expect(ranOrder(server, prompts)).toEqual(prompts);
};

/** Submits as `owner` (not an admin), through the service: the API's caller is whoever signed in. */
const submitAs = (server: TestServer, owner: string, label: string) =>
  server.anvil.service.submit(
    {
      prompt: uniquePrompt(label),
      ...DEFAULT_JOB_PARAMS,
      ...quick,
    },
    { name: owner, admin: false },
  );

describe.each(testDrivers())("turns on $kind", (driver) => {
  const server = useTestServer(driver, { simulatorStepMs: 5 });

  it("starts A1 B1 C1 A2 A3 when A1 A2 A3 B1 C1 wait, with those positions from the start", async () => {
    const blocker = await occupyGpu(server());
    const jobs = [];
    for (const owner of ["ann", "ann", "ann", "bob", "cat"]) jobs.push(await submitAs(server(), owner, owner));
    const [a1, a2, a3, b1, c1] = jobs.map((job) => job.id);
    const ids = [a1, b1, c1, a2, a3] as string[];
    expect(await positions(server(), ids)).toEqual([1, 2, 3, 4, 5]);
    // bob's second job comes before ann's third: ann has had her turn.
    const b2 = await submitAs(server(), "bob", "bob again");
    expect(b2.queuePosition).toBe(5);
    expect(await positions(server(), [a3 as string])).toEqual([6]);

    await server().trpc.jobs.cancel.mutate({ jobId: blocker.id });
    for (const job of [...jobs, b2]) await waitForStatus(server().trpc, job.id, "complete");
    const prompts = [...jobs, b2].map((job) => job.prompt);
    const byId = new Map([...jobs, b2].map((job) => [job.id, job.prompt]));
    expect(ranOrder(server(), prompts)).toEqual([a1, b1, c1, a2, b2.id, a3].map((id) => byId.get(id as string)));
  });

  it("says who moved a job, its owner or an admin, in the answer, in jobs.get and once it ended", async () => {
    const blocker = await occupyGpu(server());
    const x = await submitAs(server(), "ann", "moved by an admin");
    const y = await submitAs(server(), "ann", "moved by ann");
    expect([x.movedBy, y.movedBy]).toEqual([null, null]);
    const { service } = server().anvil;
    expect(await service.move(y.id, "front", false, { name: "ann", admin: false })).toMatchObject({ movedBy: "ann" });
    expect(await service.move(x.id, "front", true, { name: "admin", admin: true })).toMatchObject({
      movedBy: "admin",
    });
    const movedBy = async () => Promise.all([x, y].map(async (job) => (await service.get(job.id)).movedBy));
    expect(await movedBy()).toEqual(["admin", "ann"]);
    await server().trpc.jobs.cancel.mutate({ jobId: blocker.id });
    for (const job of [x, y]) await waitForStatus(server().trpc, job.id, "complete");
    expect(await movedBy()).toEqual(["admin", "ann"]);
  });

  it("tells a stream of the moved job's conversation who moved it, as the job's card reads it", async () => {
    await occupyGpu(server());
    await submitAs(server(), "ann", "ahead");
    const moved = await submitAs(server(), "ann", "moved by an admin");
    const stream = subscribe(server().trpc, { conversationId: moved.conversationId });
    await stream.until((events) => events.some((e) => e.job.id === moved.id), "the stream sent the waiting job");
    await server().trpc.jobs.move.mutate({ jobId: moved.id, to: "front", global: true });
    await stream.until(
      (events) => events.some((e) => e.job.id === moved.id && e.job.movedBy === "local"),
      "the stream said who moved the job",
    );
    stream.stop();
  });

  it("sends an unfiltered stream opened after the job was queued its snapshot when it is moved, with who moved it", async () => {
    await occupyGpu(server());
    await submitAs(server(), "ann", "ahead");
    const moved = await submitAs(server(), "ann", "moved by its owner");
    // Fresh and unfiltered: live events only, so the waiting job is not sent when the stream opens.
    const { events } = server().anvil;
    const before = events.subscribers;
    const stream = subscribe(server().trpc);
    await waitFor(() => events.subscribers > before, "the stream listens to the server's events");
    await server().anvil.service.move(moved.id, "front", false, { name: "ann", admin: false });
    await stream.until(
      (events) => events.some((e) => e.job.id === moved.id && e.job.movedBy === "ann" && e.job.status === "queued"),
      "the stream sent the moved job with who moved it",
      5_000,
    );
    stream.stop();
  });

  it("keeps another user's job NOT_FOUND to move or retry", async () => {
    const theirs = await submitAs(server(), "ann", "ann's");
    await expect(server().anvil.service.move(theirs.id, "front", false, { name: "bob", admin: false })).rejects.toThrow(
      /No job/,
    );
    await expect(server().anvil.service.retry(theirs.id, { name: "bob", admin: false })).rejects.toThrow(/No job/);
  });
});

describe.each(testDrivers())("SCHEDULING=fifo on $kind", (driver) => {
  const server = useTestServer(driver, { simulatorStepMs: 5, scheduling: "fifo" });

  it("starts the jobs in the order their positions read after owners' and an admin's moves (README's example)", async () => {
    const { trpc, anvil } = server();
    await trpc.queue.pause.mutate();
    const jobs = [];
    for (const label of ["ann 1", "ann 2", "bob 1", "ann 3", "bob 2", "ann 4"]) {
      jobs.push(await submitAs(server(), label.split(" ")[0] as string, label));
    }
    const [a1, a2, b1, a3, b2, a4] = jobs as [Job, Job, Job, Job, Job, Job];
    // ann's move reorders only ann's jobs, in the places they hold: bob's first job stays third.
    await anvil.service.move(a3.id, "front", false, { name: "ann", admin: false });
    await trpc.jobs.move.mutate({ jobId: b2.id, to: "front", global: true });
    const line = [b2, a3, a1, b1, a2, a4];
    expect(
      await positions(
        server(),
        line.map((job) => job.id),
      ),
    ).toEqual([1, 2, 3, 4, 5, 6]);

    await trpc.queue.resume.mutate();
    await expectRunInOrder(server(), line);
  });
});

describe.each(testDrivers())("queue control on $kind", (driver) => {
  const server = useTestServer(driver, { simulatorStepMs: 5 });

  it("holds every job while paused, moves jobs within the line and ahead of it, and starts them in that order on resume", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    expect((await trpc.queue.pause.mutate()).paused).toBe(true);
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map(async (label) => trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), ...quick })),
    ).then((jobs) => jobs.sort((x, y) => x.queuePosition - y.queuePosition));
    if (!a || !b || !c) throw new Error("three jobs");
    const ids = [a.id, b.id, c.id];
    expect(await positions(server(), ids)).toEqual([1, 2, 3]);

    // The answer is the job at its new place; moved where it already is, it stays there.
    expect((await trpc.jobs.move.mutate({ jobId: c.id, to: "front" })).queuePosition).toBe(1);
    expect(await positions(server(), ids)).toEqual([2, 3, 1]);
    expect((await trpc.jobs.move.mutate({ jobId: c.id, to: "front" })).queuePosition).toBe(1);
    expect(await positions(server(), ids)).toEqual([2, 3, 1]);
    await trpc.jobs.move.mutate({ jobId: c.id, to: "back" });
    expect(await positions(server(), ids)).toEqual([1, 2, 3]);
    await trpc.jobs.move.mutate({ jobId: b.id, to: "front", global: true });
    expect(await positions(server(), ids)).toEqual([2, 1, 3]);

    // The GPU comes free while paused: nothing starts.
    await trpc.jobs.cancel.mutate({ jobId: blocker.id });
    await waitFor(() => server().simulator.stats().active === 0, "the blocker stopped");
    await waitFor(async () => (await trpc.queue.status.query()).processing === 0, "nothing runs");
    expect(await trpc.queue.status.query()).toMatchObject({ paused: true, queued: 3, processing: 0 });

    expect((await trpc.queue.resume.mutate()).paused).toBe(false);
    for (const job of [a, b, c]) await waitForStatus(trpc, job.id, "complete");
    expect(ranOrder(server(), [a.prompt, b.prompt, c.prompt])).toEqual([b.prompt, a.prompt, c.prompt]);
  });

  it("retries a failed job as a new job with the same prompt, params and conversation", async () => {
    const { trpc } = server();
    const failing = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("sim:oom retried"), ...quick, seed: 7 });
    await waitForStatus(trpc, failing.id, "error");
    const again = await trpc.jobs.retry.mutate({ jobId: failing.id });
    expect(again.id).not.toBe(failing.id);
    expect(again).toMatchObject({
      prompt: failing.prompt,
      params: failing.params,
      conversationId: failing.conversationId,
    });
    expect(["queued", "processing", "error"]).toContain(again.status);
    await waitForStatus(trpc, again.id, "error");
  });

  it("reads the head of the line in start order: an admin everyone's, a user their own, each with the count of all", async () => {
    const { trpc } = server();
    const blocker = await occupyGpu(server());
    await trpc.queue.pause.mutate();
    try {
      const jobs = [];
      for (const label of ["ann 1", "ann 2", "ann 3", "bob 1", "bob 2"]) {
        jobs.push(await submitAs(server(), label.split(" ")[0]!, label));
      }
      const mine = new Set(jobs.map((job) => job.id));
      const head = await trpc.queue.line.query({ limit: 3 });
      expect(head.total).toBe(5);
      expect(head.users).toBe(2);
      // The line's version as read, which its line events go on from.
      expect(head.version).toBe(server().anvil.service.lineVersion);
      // Turns: ann, bob, ann, bob, ann.
      const labelOf = (job: { prompt: string }) => job.prompt.replace(/ \S+$/, "");
      expect(head.items.map((job) => [job.queuePosition, labelOf(job)])).toEqual([
        [1, "ann 1"],
        [2, "bob 1"],
        [3, "ann 2"],
      ]);
      expect(head.items.every((job) => mine.has(job.id) && job.status === "queued")).toBe(true);
      const anns = server().anvil.service.line({ name: "ann", admin: false }, 10);
      expect(anns.items.map((job) => [job.queuePosition, labelOf(job)])).toEqual([
        [1, "ann 1"],
        [3, "ann 2"],
        [5, "ann 3"],
      ]);
      expect([anns.total, anns.users]).toEqual([3, 1]);
      const whole = await trpc.queue.line.query();
      expect(whole.items).toHaveLength(5);
      expect(whole.version).toBe(head.version);
      const tooMany = await trpcError(trpc.queue.line.query({ limit: 501 }));
      expect(codeOf(tooMany)).toMatchObject({ code: "BAD_REQUEST" });
      expect(tooMany.message).toBe("limit must be at most 500");
    } finally {
      await trpc.jobs.cancelWaiting.mutate({ everyone: true });
      await trpc.queue.resume.mutate();
      await trpc.jobs.cancel.mutate({ jobId: blocker.id });
    }
  });

  it("makes one new job per retry key: a retry sent again returns it, a key of another request is CONFLICT", async () => {
    const { trpc } = server();
    const prompt = uniquePrompt("sim:oom retried by key");
    const failing = await trpc.jobs.submit.mutate({ prompt, ...quick, seed: 9, idempotencyKey: "first try" });
    await waitForStatus(trpc, failing.id, "error");
    const again = await trpc.jobs.retry.mutate({ jobId: failing.id, idempotencyKey: "retry 1" });
    expect(again.id).not.toBe(failing.id);
    expect((await trpc.jobs.retry.mutate({ jobId: failing.id, idempotencyKey: "retry 1" })).id).toBe(again.id);
    const listed = await trpc.jobs.list.query({ conversationId: failing.conversationId });
    expect(listed.items.map((job) => job.id)).toEqual([failing.id, again.id]);
    // The key of the submission, which asked for another job (seed 9, no conversation): not this retry's.
    const reused = await trpcError(trpc.jobs.retry.mutate({ jobId: failing.id, idempotencyKey: "first try" }));
    expect(codeOf(reused)).toMatchObject({ code: "CONFLICT" });
    expect(reused.message).toMatch(/^Idempotency key "first try" was already used with a different request/);
    const empty = await trpcError(trpc.jobs.retry.mutate({ jobId: failing.id, idempotencyKey: "" }));
    expect(empty.message).toBe("idempotencyKey must not be empty");
    // Without a key, each retry is a job of its own, as before.
    const third = await trpc.jobs.retry.mutate({ jobId: failing.id });
    expect([failing.id, again.id]).not.toContain(third.id);
  });

  it("answers CONFLICT for a move or retry the job's state forbids and NOT_FOUND for an unknown job", async () => {
    const { trpc } = server();
    const done = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("done"), ...quick });
    await waitForStatus(trpc, done.id, "complete");
    expect(codeOf(await trpcError(trpc.jobs.move.mutate({ jobId: done.id, to: "front" })))).toMatchObject({
      code: "CONFLICT",
    });
    expect(codeOf(await trpcError(trpc.jobs.retry.mutate({ jobId: done.id })))).toMatchObject({ code: "CONFLICT" });
    const unknown = "00000000-0000-4000-8000-000000000000";
    expect(codeOf(await trpcError(trpc.jobs.retry.mutate({ jobId: unknown })))).toMatchObject({ code: "NOT_FOUND" });
    expect(codeOf(await trpcError(trpc.jobs.move.mutate({ jobId: unknown, to: "back" })))).toMatchObject({
      code: "NOT_FOUND",
    });
    const bad = await trpcError(trpc.jobs.move.mutate({ jobId: done.id, to: "sideways" as "front" }));
    expect(codeOf(bad)).toMatchObject({ code: "BAD_REQUEST" });
    expect(bad.message).toMatch(/to must be/);
  });
});

describe.each(testDrivers())("the line across a restart on $kind", (driver) => {
  const opened: { database?: TestDatabase; servers: TestServer[] } = { servers: [] };
  const closeAll = async () => {
    for (const s of opened.servers.splice(0)) await s.anvil.close();
  };
  afterEach(async () => {
    await closeAll();
    await opened.database?.dispose();
  });

  it("keeps the pause, the turns and every move: the next server rebuilds the same order", async () => {
    const database = await driver.create();
    opened.database = database;
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const first = await startTestServer(database, { simulatorStepMs: 5, logger });
    opened.servers.push(first);
    const a1 = await submitAs(first, "ann", "ann first");
    await waitForStatus(first.trpc, a1.id, "complete");
    await first.trpc.queue.pause.mutate();
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: "queue paused: no job starts until queue.resume", by: "local" }),
    );
    const a2 = await submitAs(first, "ann", "ann second");
    const b1 = await submitAs(first, "bob", "bob first");
    expect(await positions(first, [b1.id, a2.id])).toEqual([1, 2]);
    const jobs = [];
    for (const label of ["x", "y", "z"]) {
      jobs.push(await first.trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), ...quick }));
    }
    const [x, y, z] = jobs;
    if (!x || !y || !z) throw new Error("three jobs");
    await first.trpc.jobs.move.mutate({ jobId: z.id, to: "front" });
    await first.trpc.jobs.move.mutate({ jobId: x.id, to: "back" });
    // Turns: bob and local were never served (bob submitted first), ann was; local's own jobs go z, y, x.
    const ids = [b1.id, z.id, a2.id, y.id, x.id];
    const before = await positions(first, ids);
    expect(before).toEqual([1, 2, 3, 4, 5]);
    await first.anvil.close();
    opened.servers.splice(0);

    logs.splice(0);
    const second = await startTestServer(database, { simulatorStepMs: 5, logger });
    opened.servers.push(second);
    expect((await second.trpc.queue.status.query()).paused).toBe(true);
    // A server that starts on a paused queue says why nothing runs.
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: "the queue is paused (queue.pause): no job starts until queue.resume",
      }),
    );
    expect(await positions(second, ids)).toEqual(before);
    await second.trpc.queue.resume.mutate();
    const all = [b1, z, a2, y, x];
    await expectRunInOrder(second, all);
  }, 60_000);

  /** A server with `fifo` on a new database, its queue paused, and the jobs `labels` name ("ann 1": one of ann's). */
  const pausedFifo = async (labels: readonly string[]) => {
    const database = await driver.create();
    opened.database = database;
    const first = await startTestServer(database, fifo);
    opened.servers.push(first);
    await first.trpc.queue.pause.mutate();
    const jobs: Job[] = [];
    for (const label of labels) jobs.push(await submitAs(first, label.split(" ")[0] as string, label));
    return { database, first, jobs };
  };

  /**
   * With `fifo`, six jobs of ann and bob on a paused queue, reordered so that two of ann's hold places other than
   * their own; resolves with the first server still running and the line it shows.
   */
  const fifoPlacesWritten = async () => {
    const { database, first, jobs } = await pausedFifo(["ann 1", "ann 2", "bob 1", "ann 3", "bob 2", "ann 4"]);
    const [a1, a2, b1, a3, b2, a4] = jobs as [Job, Job, Job, Job, Job, Job];
    const ann = { name: "ann", admin: false };
    // a3 goes first among ann's jobs, in a1's place (1), then ahead of all: a1 holds a3's place (4) from now on.
    await first.anvil.service.move(a3.id, "front", false, ann);
    await first.trpc.jobs.move.mutate({ jobId: b2.id, to: "front", global: true });
    await first.trpc.jobs.move.mutate({ jobId: a3.id, to: "front", global: true });
    // a4 goes first among ann's jobs, in a2's place (2), and is cancelled: a2 holds a4's place (6) from now on.
    await first.anvil.service.move(a4.id, "front", false, ann);
    await first.trpc.jobs.cancel.mutate({ jobId: a4.id });
    const line = [a3, b2, b1, a1, a2];
    expect(await positions(first, ids(line))).toEqual([1, 2, 3, 4, 5]);
    return { database, first, line };
  };
  const fifo = { simulatorStepMs: 5, scheduling: "fifo" } as const;
  const ids = (jobs: readonly Job[]) => jobs.map((job) => job.id);
  /** Closes the running server and starts another on `database` with `options`. */
  const restart = async (database: TestDatabase, options: Parameters<typeof startTestServer>[1]) => {
    await closeAll();
    const next = await startTestServer(database, options);
    opened.servers.push(next);
    return next;
  };

  it("keeps the places an owner's reordered jobs hold once one of them left: the next server starts them alike", async () => {
    const { database, line } = await fifoPlacesWritten();
    const second = await restart(database, fifo);
    expect(await positions(second, ids(line))).toEqual([1, 2, 3, 4, 5]);
    await second.trpc.queue.resume.mutate();
    await expectRunInOrder(second, line);
  });

  it("finishes an admin's move ahead of all whose places were not written when the leader went", async () => {
    const { database, first, jobs } = await pausedFifo(["ann 1", "ann 2", "bob 1", "ann 3"]);
    const [a1, a2, b1, a3] = jobs as [Job, Job, Job, Job];
    // a3 goes first among ann's jobs, in a1's place (1), then ahead of all: a1 holds a3's place (4) from now on.
    await first.anvil.service.move(a3.id, "front", false, { name: "ann", admin: false });
    await first.trpc.jobs.move.mutate({ jobId: a3.id, to: "front", global: true });
    const line = [a3, a1, b1, a2];
    expect(await positions(first, ids(line))).toEqual([1, 2, 3, 4]);
    await closeAll();
    // As if the leader had gone between the move's commit and the one of the places it handed on: a1 brings its own
    // place still, and a3 the one it brought, as the move left them.
    const db = await openDatabase({ url: database.databaseUrl, dataDir: database.dataDir });
    try {
      await db.db.execute(sql`update jobs set fifo_place = null where id = ${a1.id}`);
      await db.db.execute(sql`update jobs set fifo_place = seq where id = ${a3.id}`);
    } finally {
      await db.close();
    }
    const second = await restart(database, fifo);
    expect(await positions(second, ids(line))).toEqual([1, 2, 3, 4]);
    // And the places are written now: a third server rebuilds the same line.
    const third = await restart(database, fifo);
    expect(await positions(third, ids(line))).toEqual([1, 2, 3, 4]);
    // Moved ahead of all again, it leaves no owner's jobs: nothing to hand on, nothing for the next one to make again.
    await third.trpc.jobs.move.mutate({ jobId: a3.id, to: "front", global: true });
    const fourth = await restart(database, fifo);
    expect(await positions(fourth, ids(line))).toEqual([1, 2, 3, 4]);
  });

  it("starts from submission order again after a run with fair turns, which keep no places", async () => {
    const { database, line } = await fifoPlacesWritten();
    await restart(database, { simulatorStepMs: 5, scheduling: "fair" });
    const fifoAgain = await restart(database, fifo);
    // The moves ahead of all stay (a3, then b2); ann's others go in the order she submitted them, then bob's b1.
    const [a3, b2, b1, a1, a2] = line as [Job, Job, Job, Job, Job];
    expect(await positions(fifoAgain, ids([a3, b2, a1, a2, b1]))).toEqual([1, 2, 3, 4, 5]);
  });
});
