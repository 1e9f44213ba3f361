import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FairLine } from "./fair-line";
import type { LineShift, LineEntry, SchedulingMode } from "./fair-line";
import { applyLineEvent, toLineChanges } from "./line-change";
import type { LineEvent } from "./line-change";

type Op =
  | { kind: "add"; owner: number; priority: number; model: number }
  | { kind: "pick"; loaded: number }
  | { kind: "requeue"; owner: number }
  | { kind: "remove"; pick: number }
  | { kind: "start" }
  | { kind: "move"; pick: number; to: "front" | "back" }
  | { kind: "global"; pick: number }
  | { kind: "again"; pick: number };

const owners = ["ann", "bob", "cat", "dan"];
/** Job models: index 0 is a job that takes whatever is loaded. */
const checkpoints = [null, "flux", "sdxl", "schnell"];
/** Small on purpose, so that the search's end and the bound are reached often. */
const LIMITS = { limit: 3, bound: 2 };

type ModelJob = LineEntry & { requeued?: number; passes?: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      owner: fc.nat(3),
      priority: fc.integer({ min: -1, max: 1 }),
      model: fc.nat(3),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("pick" as const), loaded: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("requeue" as const), owner: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("start" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("move" as const),
      pick: fc.nat(),
      to: fc.constantFrom("front" as const, "back" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("global" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("again" as const), pick: fc.nat() }) },
);

/** Mostly submissions and affinity picks among few users and models, so that jobs reach the bound. */
const affinityOpArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      owner: fc.nat(1),
      priority: fc.constant(0),
      model: fc.nat(2),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("pick" as const), loaded: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("move" as const),
      pick: fc.nat(),
      to: fc.constantFrom("front" as const, "back" as const),
    }),
  },
);

/** The rules, executed literally: who starts next, again and again, on a copy of the state. */
class Model {
  jobs = new Map<string, ModelJob>();
  served = new Map<string, number>();
  counter = 0;
  /** `fifo`: each owner's places in submission order, one per job waiting in its lane. */
  places = new Map<string, number[]>();
  constructor(readonly mode: SchedulingMode) {}

  /** A job joins its owner's lane: it brings its seq as a place. */
  join(job: ModelJob): void {
    this.jobs.set(job.jobId, job);
    if (job.requeued === undefined && job.front == null) {
      this.places.set(
        job.owner,
        [...(this.places.get(job.owner) ?? []), job.seq].sort((a, b) => a - b),
      );
    }
  }

  /** A job leaves its owner's lane (it starts, is cancelled or moved ahead of all): it takes the place it held. */
  leaveLane(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job || job.requeued !== undefined || job.front != null) return;
    const own = this.lane(job.owner);
    const places = [...(this.places.get(job.owner) ?? [])];
    places.splice(own.indexOf(job), 1);
    this.places.set(job.owner, places);
  }

  private lane(owner: string): ModelJob[] {
    return [...this.jobs.values()]
      .filter((job) => job.owner === owner && job.requeued === undefined && job.front == null)
      .sort((a, b) => this.byLane(a, b));
  }

  private byLane(a: LineEntry, b: LineEntry): number {
    const ga = Math.sign(a.move ?? 0);
    const gb = Math.sign(b.move ?? 0);
    if (ga !== gb) return ga - gb;
    if (ga !== 0) return (a.move ?? 0) - (b.move ?? 0);
    return b.priority - a.priority || a.seq - b.seq;
  }

  order(): string[] {
    const waiting = [...this.jobs.values()];
    const front = waiting
      .filter((job) => job.requeued !== undefined || job.front != null)
      .sort((a, b) => (b.requeued ?? -1) - (a.requeued ?? -1) || (b.front ?? 0) - (a.front ?? 0));
    let rest = waiting.filter((job) => !front.includes(job));
    const served = new Map(this.served);
    let counter = this.counter;
    const order = front.map((job) => job.jobId);
    if (this.mode === "fifo") {
      // Submission order, where each owner's own order fills the places the owner's jobs hold in it.
      const places: [number, string][] = [];
      for (const owner of new Set(rest.map((job) => job.owner))) {
        const held = this.places.get(owner) ?? [];
        this.lane(owner).forEach((job, k) => places.push([held[k] as number, job.jobId]));
      }
      return [...order, ...places.sort((a, b) => a[0] - b[0]).map(([, jobId]) => jobId)];
    }
    const laneOf = (job: LineEntry) => job.owner;
    while (rest.length > 0) {
      const lanes = new Map<string, LineEntry[]>();
      for (const job of rest) lanes.set(laneOf(job), [...(lanes.get(laneOf(job)) ?? []), job]);
      const key = (lane: string) => [served.get(lane) ?? 0, Math.min(...(lanes.get(lane) ?? []).map((j) => j.seq))];
      const turn = [...lanes.keys()].sort((a, b) => {
        const [sa = 0, ma = 0] = key(a);
        const [sb = 0, mb = 0] = key(b);
        return sa - sb || ma - mb || (a < b ? -1 : a > b ? 1 : 0);
      })[0] as string;
      const next = [...(lanes.get(turn) ?? [])].sort((a, b) => this.byLane(a, b))[0] as LineEntry;
      order.push(next.jobId);
      served.set(turn, ++counter);
      rest = rest.filter((job) => job !== next);
    }
    return order;
  }

  /**
   * Model affinity, literally: when nothing waits ahead of the turns, the turn's owner's jobs in their own order;
   * the first of the first `limit` that has `loaded` (or needs no model), walking past only jobs ranked like the
   * first one and passed over fewer than `bound` times.
   */
  pick(loaded: string | null, limits: typeof LIMITS): { jobId: string; passedOver: number } | undefined {
    const next = this.order()[0];
    const first = next === undefined ? undefined : this.jobs.get(next);
    if (this.mode === "fifo" || !first || first.requeued !== undefined || first.front != null) return undefined;
    const own = [...this.jobs.values()]
      .filter((job) => job.owner === first.owner && job.requeued === undefined && job.front == null)
      .sort((a, b) => this.byLane(a, b));
    for (const [i, job] of own.slice(0, limits.limit).entries()) {
      const alike =
        (first.move ?? 0) === 0
          ? (job.move ?? 0) === 0 && job.priority === first.priority
          : (first.move ?? 0) > 0 && (job.move ?? 0) > 0;
      if (i > 0 && !alike) break;
      if (job.model == null || job.model === loaded) return { jobId: job.jobId, passedOver: i };
      if ((job.passes ?? 0) >= limits.bound) break;
    }
    return undefined;
  }
}

const applyChange = (before: Map<string, number>, change: LineShift): Map<string, number> => {
  const moved = new Set(change.inserted.map((p) => p.jobId));
  const removed = [...change.removed].sort((a, b) => a - b);
  const after = new Map<string, number>();
  for (const [jobId, at] of before) {
    if (removed.includes(at)) continue;
    let p = at - removed.filter((r) => r < at).length;
    for (const insert of change.inserted) if (p >= insert.at) p++;
    after.set(jobId, p);
  }
  for (const insert of change.inserted) after.set(insert.jobId, insert.at);
  // A job put back must have been taken out first, from where it stood.
  for (const jobId of moved) {
    const was = before.get(jobId);
    if (was !== undefined) expect(change.removed).toContain(was);
  }
  return after;
};

/** The line changes clients get for `shift` bring every position they hold to the new one, or say to read it again. */
const expectLineChanges = (before: Map<string, number>, shift: LineShift, after: Map<string, number>): void => {
  const changes = toLineChanges(shift, before.size).map((c) => (c.op === "reorder" ? c : { ...c, count: 1 }));
  const event: LineEvent = { kind: "line", from: 0, version: changes.length, changes, timing: null };
  for (const [jobId, at] of before) {
    const now = applyLineEvent(at, event);
    if (now !== null) expect(now).toBe(after.get(jobId) ?? 0);
  }
  // Positions ahead of everything the shift touched are never read again.
  const first = Math.min(...shift.removed, ...shift.inserted.map((p) => p.at));
  for (const at of before.values()) if (at < first) expect(applyLineEvent(at, event)).toBe(at);
};

const run = (mode: SchedulingMode, ops: Op[]) => {
  const line = new FairLine(mode);
  const model = new Model(mode);
  let seq = 0;
  let moves = 0;
  let requeues = 0;
  /** `fifo`: the places jobs bring, as the line's changes say to write them down (absent: their own seq). */
  const stored = new Map<string, number | null>();
  /** Each job as the scheduler holds it (as given, never changed by the line), and the ones started so far. */
  const given = new Map<string, LineEntry>();
  const started = new Map<string, ModelJob>();
  const pickOf = (pick: number): string | undefined => [...model.jobs.keys()][pick % Math.max(1, model.jobs.size)];
  for (const op of ops) {
    const before = new Map(model.order().map((jobId, i) => [jobId, i + 1]));
    let change: LineShift | undefined;
    switch (op.kind) {
      case "add": {
        const entry = {
          jobId: `j${++seq}`,
          owner: owners[op.owner] ?? "ann",
          priority: op.priority,
          seq,
          model: checkpoints[op.model] ?? null,
        };
        model.join({ ...entry });
        given.set(entry.jobId, entry);
        change = line.add(entry);
        break;
      }
      case "requeue": {
        const entry = { jobId: `j${++seq}`, owner: owners[op.owner] ?? "ann", priority: 0, seq };
        model.join({ ...entry, requeued: ++requeues });
        change = line.unshift(entry);
        break;
      }
      case "remove": {
        const jobId = pickOf(op.pick);
        if (!jobId) continue;
        model.leaveLane(jobId);
        model.jobs.delete(jobId);
        change = line.remove(jobId);
        break;
      }
      case "start": {
        const jobId = line.peek();
        expect(jobId).toBe(model.order()[0]);
        if (!jobId) continue;
        const job = model.jobs.get(jobId) as ModelJob;
        const front = job.requeued !== undefined || job.front != null;
        model.leaveLane(jobId);
        model.jobs.delete(jobId);
        started.set(jobId, job);
        const start = line.start(jobId);
        if (!front) model.served.set(job.owner, ++model.counter);
        expect(start?.served ?? null).toBe(front ? null : model.counter);
        change = start?.change;
        break;
      }
      case "pick": {
        const loaded = checkpoints[op.loaded] ?? null;
        const pick = line.peekTurn(LIMITS, (entry) => entry.model == null || entry.model === loaded);
        const expectedPick = model.pick(loaded, LIMITS);
        expect(pick).toEqual(expectedPick);
        if (!pick) continue;
        const owner = model.jobs.get(pick.jobId)?.owner ?? "";
        const order = model.order();
        for (const job of model.jobs.values()) {
          if (job.owner !== owner) continue;
          if (order.indexOf(job.jobId) < order.indexOf(pick.jobId)) job.passes = (job.passes ?? 0) + 1;
        }
        started.set(pick.jobId, model.jobs.get(pick.jobId) as ModelJob);
        model.leaveLane(pick.jobId);
        model.jobs.delete(pick.jobId);
        model.served.set(owner, ++model.counter);
        const start = line.start(pick.jobId);
        expect(start?.served).toBe(model.counter);
        change = start?.change;
        break;
      }
      case "move": {
        const jobId = pickOf(op.pick);
        const job = jobId ? model.jobs.get(jobId) : undefined;
        if (!jobId || !job) continue;
        job.move = op.to === "front" ? -++moves : ++moves;
        if (job.front == null && job.requeued === undefined) {
          change = line.move(jobId, { move: job.move });
          break;
        }
        // Out of the front list (an admin's move, or a run again) into its owner's lane: it brings its seq again.
        job.front = null;
        delete job.requeued;
        model.join(job);
        change = line.move(jobId, { move: job.move, front: null });
        break;
      }
      case "again": {
        // A started job whose backend went away waits again ahead of all, as the scheduler holds it.
        const jobId = [...started.keys()][op.pick % Math.max(1, started.size)];
        const job = jobId ? started.get(jobId) : undefined;
        const entry = jobId ? given.get(jobId) : undefined;
        if (!jobId || !job || !entry || job.front != null) continue;
        started.delete(jobId);
        model.join({ ...job, requeued: ++requeues });
        change = line.unshift(entry);
        break;
      }
      case "global": {
        const jobId = pickOf(op.pick);
        const job = jobId ? model.jobs.get(jobId) : undefined;
        if (!jobId || !job || job.front != null || job.requeued !== undefined) continue;
        model.leaveLane(jobId);
        job.front = ++moves;
        change = line.move(jobId, { front: job.front });
        break;
      }
    }
    const expected = model.order();
    expect([...line]).toEqual(expected);
    expect(expected.map((jobId) => line.position(jobId))).toEqual(expected.map((_, i) => i + 1));
    expect(line.size).toBe(expected.length);
    for (const [jobId, job] of model.jobs) {
      expect(line.passedOver(jobId)).toBe(job.passes ?? 0);
      expect(job.passes ?? 0).toBeLessThanOrEqual(LIMITS.bound);
    }
    const after = new Map(expected.map((jobId, i) => [jobId, i + 1]));
    if (change) expect(applyChange(before, change)).toEqual(after);
    if (change) expectLineChanges(before, change, after);
    for (const { jobId, place } of change?.places ?? []) stored.set(jobId, place);
    if (mode === "fifo") expect([...rebuilt(model, stored)]).toEqual(expected);
  }
};

/**
 * `fifo`: the line a new leader builds from the waiting jobs as the database holds them, each with the place it
 * brings as the line's changes wrote it down (`stored`); those that must run again go ahead, the latest first.
 */
const rebuilt = (model: Model, stored: Map<string, number | null>): FairLine => {
  const line = new FairLine("fifo");
  const waiting = [...model.jobs.values()].sort((a, b) => a.seq - b.seq);
  const entry = ({ requeued: _requeued, passes: _passes, ...job }: ModelJob): LineEntry => ({
    ...job,
    place: stored.get(job.jobId) ?? null,
  });
  for (const job of waiting) if (job.requeued === undefined) line.add(entry(job));
  const again = waiting.filter((job) => job.requeued !== undefined);
  for (const job of again.sort((a, b) => (a.requeued ?? 0) - (b.requeued ?? 0))) line.unshift(entry(job));
  return line;
};

describe("FairLine", () => {
  it("starts A1 B1 C1 A2 A3 when A1 A2 A3 B1 C1 wait and nobody was served", () => {
    const line = new FairLine("fair");
    ["A", "A", "A", "B", "C"].forEach((owner, i) => line.add({ jobId: `${owner}${i}`, owner, priority: 0, seq: i }));
    const started: string[] = [];
    for (let id = line.peek(); id !== undefined; id = line.peek()) {
      started.push(id);
      line.start(id);
    }
    expect(started).toEqual(["A0", "B3", "C4", "A1", "A2"]);
  });

  it("keeps positions a permutation matching the simulated start order (fair)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => run("fair", ops)),
      { numRuns: 300 },
    );
  });

  it("keeps positions exact after every affinity pick, and passes no job over more than the bound", () => {
    fc.assert(
      fc.property(fc.array(affinityOpArb, { minLength: 20, maxLength: 80 }), (ops) => run("fair", ops)),
      { numRuns: 300 },
    );
  });

  it("keeps positions a permutation matching the simulated start order (fifo)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => run("fifo", ops)),
      { numRuns: 150 },
    );
  });

  it("lets an owner's moves and priorities reorder only that owner's places in submission order (fifo)", () => {
    const line = new FairLine("fifo");
    const order = () => [...line];
    ["ann1", "ann2", "bob1", "ann3"].forEach((jobId, seq) =>
      line.add({ jobId, owner: jobId.slice(0, 3), priority: 0, seq }),
    );
    // bob's only job is already first among bob's jobs: moving it to the front passes nobody else's.
    line.move("bob1", { move: -1 });
    expect(order()).toEqual(["ann1", "ann2", "bob1", "ann3"]);
    expect(line.position("bob1")).toBe(3);
    // ann's last job to ann's front: it takes ann's first place, and ann's others move down through ann's places.
    line.move("ann3", { move: -2 });
    expect(order()).toEqual(["ann3", "ann1", "bob1", "ann2"]);
    // A priority job goes ahead of its owner's jobs of lower priority, in its owner's places only: bob2 behind bob1,
    // which bob moved to the front; ann4 ahead of ann1 and ann2, not of bob1.
    line.add({ jobId: "bob2", owner: "bob", priority: 5, seq: 4 });
    line.add({ jobId: "ann4", owner: "ann", priority: 5, seq: 5 });
    expect(order()).toEqual(["ann3", "ann4", "bob1", "ann1", "bob2", "ann2"]);
    expect(order().map((jobId) => line.position(jobId))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(line.peek()).toBe("ann3");
  });

  it("reports a start in FIFO order as one removal at the head, and one that passes a turn as a reorder", () => {
    const fifo = new FairLine("fifo");
    ["A", "B", "A"].forEach((owner, i) => fifo.add({ jobId: `f${i}`, owner, priority: 0, seq: i }));
    expect(toLineChanges(fifo.start("f0")?.change ?? { removed: [], inserted: [] }, 3)).toEqual([
      { op: "remove", at: 1 },
    ]);
    // A0 B2 A1 wait (in that order): A0 starts and A's turn passes, but B2 A1 is where a plain removal puts them.
    const fair = new FairLine("fair");
    ["A", "A", "B"].forEach((owner, i) => fair.add({ jobId: `${owner}${i}`, owner, priority: 0, seq: i }));
    expect(toLineChanges(fair.start("A0")?.change ?? { removed: [], inserted: [] }, 3)).toEqual([
      { op: "remove", at: 1 },
    ]);
    // A priority submission for A in A0 B1 A2 A3 goes ahead of A0, which moves back a round (A4 B1 A0 A2 A3): a
    // reorder, then the line's new length.
    const renumbered = new FairLine("fair");
    ["A", "B", "A", "A"].forEach((owner, i) => renumbered.add({ jobId: `${owner}${i}`, owner, priority: 0, seq: i }));
    const change = renumbered.add({ jobId: "A4", owner: "A", priority: 5, seq: 4 });
    expect(toLineChanges(change, 4)).toEqual([
      { op: "reorder", from: 1, to: 4 },
      { op: "insert", at: 5 },
    ]);
  });

  it("describes a submit among many users as a few moves, not a renumbering of the line", () => {
    const line = new FairLine("fair");
    for (let i = 0; i < 1000; i++) line.add({ jobId: `j${i}`, owner: `u${i % 10}`, priority: 0, seq: i });
    const change = line.add({ jobId: "new", owner: "u3", priority: 0, seq: 1000 });
    expect(change.inserted).toEqual([{ jobId: "new", at: 1001 }]);
    expect(change.removed).toEqual([]);
    expect(toLineChanges(change, 1000)).toEqual([{ op: "insert", at: 1001 }]);
  });
});

/** The waiting jobs among `jobIds` as their positions read: the one at 1 first. */
const byPosition = (line: FairLine, jobIds: Iterable<string>): string[] => {
  const waiting = [...jobIds].filter((jobId) => line.has(jobId));
  const order = waiting.sort((a, b) => line.position(a) - line.position(b));
  expect(order.map((jobId) => line.position(jobId))).toEqual(order.map((_, i) => i + 1));
  return order;
};

/** Takes the next job until none waits, and says in which order they came out. */
const drain = (line: FairLine): string[] => {
  const started: string[] = [];
  for (let jobId = line.peek(); jobId !== undefined; jobId = line.peek()) {
    started.push(jobId);
    line.start(jobId);
  }
  return started;
};

/**
 * Reads the positions, then takes the next job again and again: every job taken must be the one at position 1, and
 * the others must keep the order their positions read. Returns the order in which they started.
 */
const startAll = (line: FairLine, jobIds: string[]): string[] => {
  let expected = byPosition(line, jobIds);
  const started: string[] = [];
  for (let jobId = line.peek(); jobId !== undefined; jobId = line.peek()) {
    expect(jobId).toBe(expected[0]);
    started.push(jobId);
    line.start(jobId);
    expected = expected.slice(1);
    expect(byPosition(line, jobIds)).toEqual(expected);
  }
  expect(expected).toEqual([]);
  return started;
};

describe("FairLine positions and start order", () => {
  /** Submits `jobs` in order (the owner is the id's letter), each with its priority, or 0. */
  const submit = (line: FairLine, jobs: (string | [string, number])[]) =>
    jobs.forEach((job, seq) => {
      const [jobId, priority] = typeof job === "string" ? [job, 0] : job;
      line.add({ jobId, owner: jobId.slice(0, 1), priority, seq: seq + 1 });
    });
  /** A1 with priority -3, then B1 and A2. */
  const PRIORITY_EXAMPLE: (string | [string, number])[] = [["A1", -3], "B1", "A2"];
  /** README's example: A1 A2 B1 A3 B2 A4, A moves A3 to the front of A's jobs, an admin moves B2 ahead of all. */
  const README_EXAMPLE = ["A1", "A2", "B1", "A3", "B2", "A4"];
  const readmeExample = (mode: SchedulingMode): FairLine => {
    const line = new FairLine(mode);
    submit(line, README_EXAMPLE);
    line.move("A3", { move: -1 });
    line.move("B2", { front: 1 });
    return line;
  };

  it("starts an owner's priority job in the place of that owner's earlier job, not another user's (fifo)", () => {
    const line = new FairLine("fifo");
    submit(line, PRIORITY_EXAMPLE);
    expect(byPosition(line, ["A1", "B1", "A2"])).toEqual(["A2", "B1", "A1"]);
    expect(startAll(line, ["A1", "B1", "A2"])).toEqual(["A2", "B1", "A1"]);
  });

  it("starts README's A3 A1 B1 A2 after A moves A3 to the front (fifo)", () => {
    const line = new FairLine("fifo");
    submit(line, ["A1", "A2", "B1", "A3"]);
    line.move("A3", { move: -1 });
    expect(byPosition(line, ["A1", "A2", "B1", "A3"])).toEqual(["A3", "A1", "B1", "A2"]);
    expect(startAll(line, ["A1", "A2", "B1", "A3"])).toEqual(["A3", "A1", "B1", "A2"]);
  });

  it("starts an admin's global move first and the rest in the places they hold (fifo)", () => {
    const line = readmeExample("fifo");
    expect(byPosition(line, README_EXAMPLE)).toEqual(["B2", "A3", "A1", "B1", "A2", "A4"]);
    expect(startAll(line, README_EXAMPLE)).toEqual(["B2", "A3", "A1", "B1", "A2", "A4"]);
  });

  it("keeps a cancelled job's place out of its owner's others' reach: the rest keep their order (fifo)", () => {
    const line = new FairLine("fifo");
    const ids = ["A1", "A2", "B1", "A3"];
    submit(line, ids);
    line.move("A3", { move: -1 });
    line.remove("A3");
    expect(byPosition(line, ids)).toEqual(["A1", "B1", "A2"]);
    expect(startAll(line, ids)).toEqual(["A1", "B1", "A2"]);
  });

  it("says which place each job brings once another left with it, so a line rebuilt from them is the same (fifo)", () => {
    const line = new FairLine("fifo");
    submit(line, ["A1", "B1", "A2"]);
    line.move("A2", { move: -1 });
    // A2 starts in A1's place (1): A1 holds A2's (3) from now on, and is told to bring it.
    expect(line.start("A2")?.change.places).toEqual([{ jobId: "A1", place: 3 }]);
    const rebuilt = new FairLine("fifo");
    rebuilt.add({ jobId: "A1", owner: "A", priority: 0, seq: 1, place: 3 });
    rebuilt.add({ jobId: "B1", owner: "B", priority: 0, seq: 2 });
    expect([...rebuilt]).toEqual(["B1", "A1"]);
    expect([...line]).toEqual(["B1", "A1"]);
    // Out of its lane (ahead of all), A1 will bring its own seq when it joins it again, and is told so at once.
    expect(line.move("A1", { front: 1 }).places).toEqual([{ jobId: "A1", place: null }]);
    expect(line.move("A1", { move: 1, front: null }).places).toBeUndefined();
    expect(byPosition(line, ["A1", "B1"])).toEqual(["A1", "B1"]);
  });

  it("tells a job that starts in a place it was handed to bring its own seq, should it wait again (fifo)", () => {
    const line = new FairLine("fifo");
    submit(line, ["A1", "B1", "A2"]);
    line.move("A2", { move: -1 });
    expect(line.start("A2")?.change.places).toEqual([{ jobId: "A1", place: 3 }]);
    line.start("B1");
    // Its row is written so with its start: back in the line after its backend went away, it is no heir of A2's.
    expect(line.start("A1")?.change.places).toEqual([{ jobId: "A1", place: null }]);
  });

  it("writes a job moved ahead of all as bringing its own seq, also when it did: the database kept its place till then (fifo)", () => {
    const line = new FairLine("fifo");
    submit(line, ["A1", "B1", "A2"]);
    line.move("A2", { move: -1 });
    // A2 leaves holding A1's place (1), bringing its own: A1 brings A2's (3) from now on, and A2 its own.
    expect(line.move("A2", { front: 1 }).places).toEqual([
      { jobId: "A1", place: 3 },
      { jobId: "A2", place: null },
    ]);
    // B1 holds the place it brought: nothing to hand on, and its own is written all the same, once.
    expect(line.move("B1", { front: 2 }).places).toEqual([{ jobId: "B1", place: null }]);
    // From the front list into its lane: it brought its own seq already.
    expect(line.move("B1", { move: 1, front: null }).places).toBeUndefined();
  });

  it("drops the places an earlier fifo run wrote when it takes jobs in with fair turns, and says so", () => {
    const line = new FairLine("fair");
    expect(line.add({ jobId: "A1", owner: "A", priority: 0, seq: 1, place: 3 }).places).toEqual([
      { jobId: "A1", place: null },
    ]);
    expect(line.unshift({ jobId: "A2", owner: "A", priority: 0, seq: 3, place: 1 }).places).toEqual([
      { jobId: "A2", place: null },
    ]);
    expect(line.add({ jobId: "B1", owner: "B", priority: 0, seq: 2 }).places).toBeUndefined();
    // A move ahead of all, which the database marks with the job's place until the line writes it as none.
    expect(line.move("B1", { front: 1 }).places).toEqual([{ jobId: "B1", place: null }]);
  });

  it("starts the same scenarios in the order their positions read (fair)", () => {
    const first = new FairLine("fair");
    submit(first, PRIORITY_EXAMPLE);
    expect(startAll(first, ["A1", "B1", "A2"])).toEqual(["A2", "B1", "A1"]);
    expect(startAll(readmeExample("fair"), README_EXAMPLE)).toEqual(["B2", "A3", "B1", "A1", "A2", "A4"]);
  });

  type Step =
    | { kind: "submit"; owner: number; priority: number }
    | { kind: "move"; pick: number; to: "front" | "back" }
    | { kind: "global"; pick: number }
    | { kind: "cancel"; pick: number }
    | { kind: "next" }
    | { kind: "again"; pick: number };

  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("submit" as const),
        owner: fc.nat(2),
        priority: fc.integer({ min: -2, max: 2 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("move" as const),
        pick: fc.nat(),
        to: fc.constantFrom("front" as const, "back" as const),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("global" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("next" as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("again" as const), pick: fc.nat() }) },
  );

  /**
   * After every step the positions read are the order in which the line hands the jobs out when only "take the
   * next one" follows: checked on a second line that replays every step so far and is then emptied.
   */
  const positionsAreStartOrder = (mode: SchedulingMode, steps: Step[]) => {
    const line = new FairLine(mode);
    const done: ((target: FairLine) => void)[] = [];
    const submitted: string[] = [];
    const started: LineEntry[] = [];
    let moves = 0;
    const pickOf = (pick: number): string | undefined => {
      const waiting = submitted.filter((jobId) => line.has(jobId));
      return waiting[pick % Math.max(1, waiting.length)];
    };
    for (const step of steps) {
      let apply: ((target: FairLine) => void) | undefined;
      switch (step.kind) {
        case "submit": {
          const seq = submitted.length + 1;
          const entry = { jobId: `j${seq}`, owner: owners[step.owner] ?? "ann", priority: step.priority, seq };
          submitted.push(entry.jobId);
          apply = (target) => target.add(entry);
          break;
        }
        case "move": {
          const jobId = pickOf(step.pick);
          if (!jobId) break;
          // As jobs.move sends it: an owner's move also takes a job an admin moved ahead of all back to its lane.
          const move = step.to === "front" ? -++moves : ++moves;
          apply = (target) => target.move(jobId, { move, front: null });
          break;
        }
        case "global": {
          const jobId = pickOf(step.pick);
          if (!jobId || line.ahead(jobId)) break;
          const front = ++moves;
          apply = (target) => target.move(jobId, { front });
          break;
        }
        case "cancel": {
          const jobId = pickOf(step.pick);
          if (jobId) apply = (target) => target.remove(jobId);
          break;
        }
        case "next": {
          const jobId = line.peek();
          const entry = jobId ? line.entry(jobId) : undefined;
          if (!jobId || !entry) break;
          started.push(entry);
          apply = (target) => target.start(jobId);
          break;
        }
        case "again": {
          // A started job's backend went away: it waits again, ahead of the line.
          const entry = started.splice(step.pick % Math.max(1, started.length), 1)[0];
          if (entry) apply = (target) => target.unshift(entry);
          break;
        }
      }
      if (!apply) continue;
      apply(line);
      done.push(apply);
      const replay = new FairLine(mode);
      for (const again of done) again(replay);
      expect(drain(replay)).toEqual(byPosition(line, submitted));
    }
  };

  it.each(["fifo", "fair"] as const)(
    "reads positions in the order the jobs start, after any submits, moves, cancels and starts (%s)",
    (mode) => {
      fc.assert(
        fc.property(fc.array(stepArb, { maxLength: 50 }), (steps) => positionsAreStartOrder(mode, steps)),
        { numRuns: 300 },
      );
    },
  );
});
