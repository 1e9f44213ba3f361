import { createRoot } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { createLine } from "./line";
import type { LineApi } from "./line";
import type { SubscriptionHandlers } from "./subscription";
import { makeJob } from "./test-support";
import { eventually } from "../test-patience";
import type { Job, JobStreamEvent, LineEvent } from "./types";

const job = (n: number, owner: string, position: number): Job =>
  makeJob({ id: `00000000-0000-4000-8000-00000000000${n}`, owner, prompt: `${owner} ${n}`, queuePosition: position });

/**
 * A server for the line: `jobs` is what `queue.line` (the head, by position) and `jobs.get` answer, and the test
 * sends stream events through `send`.
 */
function fakeServer(jobs: Job[], version = 0) {
  let handlers: SubscriptionHandlers<JobStreamEvent> | undefined;
  let event = 0;
  const byId = () => new Map(jobs.map((j) => [j.id, j]));
  const api = {
    head: vi.fn(async (limit: number) => {
      const waiting = jobs.filter((j) => j.status === "queued").sort((a, b) => a.queuePosition - b.queuePosition);
      return {
        items: waiting.slice(0, limit),
        total: waiting.length,
        users: new Set(waiting.map((j) => j.owner)).size,
        version,
      };
    }),
    get: vi.fn(async (jobId: string) => {
      const found = byId().get(jobId);
      if (!found) throw new Error("not found");
      return found;
    }),
    subscribe: (_input: object, h: SubscriptionHandlers<JobStreamEvent>) => {
      handlers = h;
      h.onStarted();
      return { unsubscribe: () => undefined };
    },
    moveToFront: vi.fn(async (_jobId: string): Promise<unknown> => undefined),
    cancel: vi.fn(async (jobId: string) => {
      const found = byId().get(jobId);
      if (!found) throw new Error("not found");
      return { ...found, status: "cancelled" as const, queuePosition: 0, cancelledBy: "admin" };
    }),
    cancelEveryone: vi.fn(async () => ({ jobIds: jobs.filter((j) => j.status === "queued").map((j) => j.id) })),
  } satisfies LineApi;
  return {
    api,
    /** What the server holds now (a later `queue.line` or `jobs.get` answers it), and at which line version. */
    set: (next: Job[], at = version) => {
      jobs = next;
      version = at;
    },
    send: (data: JobStreamEvent) => handlers?.onData({ id: String(++event), data }),
  };
}

const line = (from: number, changes: LineEvent["changes"]): LineEvent => ({
  kind: "line",
  from,
  version: from + 1,
  changes,
  timing: null,
});

/** The line's rows as "#position owner n". */
const rowsOf = (state: ReturnType<typeof createLine>) => state.waiting().map((j) => `#${j.queuePosition} ${j.prompt}`);

const mount = (api: LineApi, rows = 100, wholeLine = true) =>
  createRoot((dispose) => ({ state: createLine(api, rows, { wholeLine: () => wholeLine }), dispose }));

describe("createLine", () => {
  it("reads the head of the line in start order, not in submission order, and counts the jobs behind it", async () => {
    const server = fakeServer([
      job(1, "ann", 1),
      job(2, "ann", 3),
      job(3, "ann", 4),
      job(4, "bob", 2),
      job(5, "cy", 5),
    ]);
    const { state, dispose } = mount(server.api, 3);
    await eventually(() => expect(state.loading()).toBe(false));
    expect(rowsOf(state)).toEqual(["#1 ann 1", "#2 bob 4", "#3 ann 2"]);
    expect([state.total(), state.users()]).toEqual([5, 3]);
    expect(server.api.head).toHaveBeenCalledWith(3);
    dispose();
  });

  it("fills the head from behind as its jobs start, and shows none that waits behind it", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3), job(4, "bob", 4)], 10);
    const { state, dispose } = mount(server.api, 2);
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 ann 1", "#2 bob 2"]));
    // ann's first starts: it leaves at once, and the head is read again for the job that moves up into it.
    server.set(
      [{ ...job(1, "ann", 0), status: "processing" }, job(2, "bob", 1), job(3, "ann", 2), job(4, "bob", 3)],
      11,
    );
    server.send(line(10, [{ op: "remove", at: 1, count: 1 }]));
    server.send({ ...job(1, "ann", 0), status: "processing" });
    expect(rowsOf(state)[0]).toBe("#1 bob 2");
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 bob 2", "#2 ann 3"]));
    expect(state.total()).toBe(3);
    // A new job far behind the head is not shown (it is counted at the next read).
    server.send(job(5, "cy", 4));
    expect(rowsOf(state)).toEqual(["#1 bob 2", "#2 ann 3"]);
    dispose();
  });

  it("moves the rows by line events, adds a new job and drops a started one", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "ann", 2)], 10);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(2));
    // bob's first job takes the second place: ann's second moves back one.
    server.send(line(10, [{ op: "insert", at: 2, count: 1 }]));
    server.send(job(3, "bob", 2));
    expect(rowsOf(state)).toEqual(["#1 ann 1", "#2 bob 3", "#3 ann 2"]);
    // ann's first starts.
    server.send(line(11, [{ op: "remove", at: 1, count: 1 }]));
    server.send({ ...job(1, "ann", 0), status: "processing" });
    expect(rowsOf(state)).toEqual(["#1 bob 3", "#2 ann 2"]);
    expect(server.api.get).not.toHaveBeenCalled();
    dispose();
  });

  it("shows no row #0: a job's snapshot replayed from before its place was known keeps the row's place", async () => {
    const server = fakeServer([job(1, "ann", 1)], 10);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(1));
    server.send(job(1, "ann", 0));
    // One the head does not hold joins it with its place, not before it is known.
    server.send(job(2, "bob", 0));
    expect(rowsOf(state)).toEqual(["#1 ann 1"]);
    dispose();
  });

  it("counts the jobs that leave and join by line events, before the head is read again", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)]);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(3));
    // Checked at once, not eventually: until the next read of the head, only the events can say how many wait.
    server.send(line(10, [{ op: "remove", at: 1, count: 1 }]));
    server.send({ ...job(1, "ann", 0), status: "processing" });
    expect([state.waiting().length, state.total()]).toEqual([2, 2]);
    server.send(line(11, [{ op: "insert", at: 3, count: 2 }]));
    expect(state.total()).toBe(4);
    server.send(line(12, [{ op: "reorder", from: 1, to: 4 }]));
    expect(state.total()).toBe(4);
    // All but bob's leave: one job waits, so one user does, whatever the last read said.
    server.send(line(13, [{ op: "remove", at: 2, count: 3 }]));
    server.send({ ...job(3, "ann", 0), status: "cancelled" });
    expect([state.total(), state.users()]).toEqual([1, 1]);
    dispose();
  });

  it("does not count again a change the last read of the head holds already", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)]);
    server.set([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)], 10);
    // One row shown: the count of those behind it comes from the read and the events alone.
    const { state, dispose } = mount(server.api, 1);
    await eventually(() => expect(state.total()).toBe(3));
    // ann's first starts (line version 11), and the head is read before the event that says so arrives.
    server.set([{ ...job(1, "ann", 0), status: "processing" }, job(2, "bob", 1), job(3, "ann", 2)], 11);
    state.reload();
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 bob 2"]));
    expect(state.total()).toBe(2);
    server.send(line(10, [{ op: "remove", at: 1, count: 1 }]));
    expect(state.total()).toBe(2);
    dispose();
  });

  it("does not move the rows again by a change the read of the head holds already", async () => {
    // ann's job started at version 10 → 11, and the head was read at 11, before the stream's event says so.
    const server = fakeServer([job(2, "bob", 1), job(3, "cy", 2)], 11);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 bob 2", "#2 cy 3"]));
    server.send(line(10, [{ op: "remove", at: 1, count: 1 }]));
    expect(rowsOf(state)).toEqual(["#1 bob 2", "#2 cy 3"]);
    // The next change, past the read, moves them.
    server.set([job(3, "cy", 1)], 12);
    server.send(line(11, [{ op: "remove", at: 1, count: 1 }]));
    server.send({ ...job(2, "bob", 0), status: "processing" });
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 cy 3"]));
    dispose();
  });

  it("adds to a read of the head the changes that came while it was on its way", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2)]);
    server.set([job(1, "ann", 1), job(2, "bob", 2)], 10);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(state.total()).toBe(2));
    // The next read answers the line at version 10 only once the change after it (a job joins) has come.
    let answer: () => void = () => undefined;
    const read = server.api.head.getMockImplementation()!;
    server.api.head.mockImplementationOnce(
      (limit) => new Promise((resolve) => (answer = () => void read(limit).then(resolve))),
    );
    state.reload();
    await eventually(() => expect(server.api.head).toHaveBeenCalledTimes(2));
    server.send(line(10, [{ op: "insert", at: 3, count: 1 }]));
    expect(state.total()).toBe(3);
    answer();
    await eventually(() => expect(server.api.head.mock.results[1]?.value).resolves.toMatchObject({ total: 2 }));
    expect(state.total()).toBe(3);
    dispose();
  });

  it("counts afresh from a new leader's read, whose versions start again from 0", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)]);
    server.set([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)], 500);
    const { state, dispose } = mount(server.api, 1);
    await eventually(() => expect(state.total()).toBe(3));
    server.send(line(500, [{ op: "insert", at: 4, count: 1 }]));
    expect(state.total()).toBe(4);
    // The leader fails over; the new one's line is at version 2 and holds that job.
    server.set([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3), job(4, "bob", 4)], 2);
    state.reload();
    await eventually(() => expect(server.api.head).toHaveBeenCalledTimes(2));
    await eventually(() => expect(server.api.head.mock.results[1]?.value).resolves.toMatchObject({ version: 2 }));
    expect(state.total()).toBe(4);
    dispose();
  });

  it("leaves a user's own count to the reads of the head: the line events are everyone's", async () => {
    const server = fakeServer([job(1, "ann", 1), job(3, "ann", 3)]);
    // One row shown, one more of hers behind it.
    const { state, dispose } = mount(server.api, 1, false);
    await eventually(() => expect([rowsOf(state).length, state.total()]).toEqual([1, 2]));
    // Bob's job at position 2 started: ann still has two waiting.
    server.send(line(10, [{ op: "remove", at: 2, count: 1 }]));
    expect(state.total()).toBe(2);
    dispose();
  });

  it("reads again the positions a reorder touched", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2), job(3, "ann", 3)]);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(3));
    server.set([job(1, "ann", 2), job(2, "bob", 3), job(3, "ann", 1)]);
    server.send(line(4, [{ op: "reorder", from: 1, to: 3 }]));
    await eventually(() => expect(rowsOf(state)).toEqual(["#1 ann 3", "#2 ann 1", "#3 bob 2"]));
    expect(server.api.get).toHaveBeenCalledTimes(3);
    dispose();
  });

  it("reads the head again when an event cannot be applied to many positions", async () => {
    const many = Array.from({ length: 60 }, (_, i) =>
      makeJob({ id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, queuePosition: i + 1 }),
    );
    const server = fakeServer(many);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(state.waiting()).toHaveLength(60));
    server.send(line(7, null));
    await eventually(() => expect(server.api.head).toHaveBeenCalledTimes(2));
    expect(server.api.get).not.toHaveBeenCalled();
    dispose();
  });

  it("moves a job to the front and reads its new place at once", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2)]);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(2));
    server.set([job(1, "ann", 2), job(2, "bob", 1)]);
    await state.moveToFront(job(2, "bob", 2));
    expect(server.api.moveToFront).toHaveBeenCalledWith(job(2, "bob", 2).id);
    // The others' places come with the move's line event; the moved job's own is read now.
    await eventually(() => expect(state.waiting().find((j) => j.prompt === "bob 2")?.queuePosition).toBe(1));
    dispose();
  });

  it("cancels one waiting job, whose row leaves with the answer, before the stream tells it", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2)]);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(2));
    await state.cancel(job(1, "ann", 1));
    expect(server.api.cancel).toHaveBeenCalledWith(job(1, "ann", 1).id);
    expect(rowsOf(state)).toEqual(["#2 bob 2"]);
    dispose();
  });

  it("cancels everyone's waiting jobs, and the rows leave as the stream tells each one's end", async () => {
    const server = fakeServer([job(1, "ann", 1), job(2, "bob", 2)]);
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(rowsOf(state)).toHaveLength(2));
    expect(await state.cancelAll()).toEqual([job(1, "ann", 1).id, job(2, "bob", 2).id]);
    expect(server.api.cancelEveryone).toHaveBeenCalledTimes(1);
    server.send({ ...job(1, "ann", 1), status: "cancelled", queuePosition: 0 });
    expect(rowsOf(state)).toEqual(["#2 bob 2"]);
    server.send({ ...job(2, "bob", 2), status: "cancelled", queuePosition: 0 });
    expect(rowsOf(state)).toEqual([]);
    dispose();
  });

  it("says why when the line cannot be read", async () => {
    const server = fakeServer([]);
    server.api.head.mockRejectedValueOnce(new Error("The Anvil server is restarting"));
    const { state, dispose } = mount(server.api);
    await eventually(() => expect(state.error()).toBe("The line could not be read: The Anvil server is restarting"));
    dispose();
  });
});
