import { applyLineEvent } from "@anvil/job-machine";
import type { LineChange, LineTiming } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { MAX_LINE_CHANGES, PendingLine } from "./line-events";

/** A line as a plain array, changed the way a scheduler would, reporting each change. */
class ModelLine {
  ids: string[] = [];
  version = 0;
  constructor(private readonly report: (version: number, change: LineChange) => void) {}

  insert(id: string, at = this.ids.length + 1) {
    this.ids.splice(at - 1, 0, id);
    this.report(++this.version, { op: "insert", at });
  }

  remove(at: number) {
    this.ids.splice(at - 1, 1);
    this.report(++this.version, { op: "remove", at });
  }

  position(id: string) {
    return this.ids.indexOf(id) + 1;
  }
}

/** No timing known: what a server that has learned nothing yet sends. */
const untimed = () => null;

describe("PendingLine", () => {
  it("lets a client derive every position it holds from the folded events alone", () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 16807) % 2147483647) % n;
    const pending = new PendingLine(0);
    const line = new ModelLine((version, change) => pending.add(version, change));
    for (let i = 0; i < 40; i++) line.insert(`j${i}`);
    // The client holds every job with the position it had at version `from` of the first event.
    const held = new Map(line.ids.map((id) => [id, line.position(id)]));
    pending.take(untimed);
    for (let round = 0; round < 200; round++) {
      for (let k = random(4); k >= 0; k--) {
        const choice = random(3);
        if (choice === 0 && line.ids.length > 0) line.remove(1);
        else if (choice === 1 && line.ids.length > 0) line.remove(1 + random(line.ids.length));
        else line.insert(`n${round}.${k}`, 1 + random(line.ids.length + 1));
      }
      const event = pending.take(untimed);
      if (!event) continue;
      for (const [id, position] of held) {
        const next = applyLineEvent(position, event);
        expect(next, `${id} at round ${round}`).toBe(line.position(id));
        if (next === 0) held.delete(id);
        else held.set(id, next ?? 0);
      }
    }
  });

  it("folds the head starting job after job, and a burst of submissions, into one change each", () => {
    const pending = new PendingLine(10);
    for (let v = 11; v <= 15; v++) pending.add(v, { op: "remove", at: 1 });
    for (let v = 16; v <= 20; v++) pending.add(v, { op: "insert", at: 100 + (v - 16) });
    expect(pending.take(untimed)).toEqual({
      kind: "line",
      from: 10,
      version: 20,
      changes: [
        { op: "remove", at: 1, count: 5 },
        { op: "insert", at: 100, count: 5 },
      ],
      timing: null,
    });
    expect(pending.take(untimed)).toBeNull();
  });

  it("says 'read again' instead of listing more than the bound, and a reorder asks for the jobs it touched", () => {
    const pending = new PendingLine(0);
    for (let v = 1; v <= MAX_LINE_CHANGES + 1; v++) pending.add(v, { op: "insert", at: 1 + 2 * v });
    const event = pending.take(untimed);
    expect(event?.changes).toBeNull();
    expect(applyLineEvent(3, event!)).toBeNull();

    pending.add(MAX_LINE_CHANGES + 2, { op: "reorder", from: 2, to: 5 });
    const reorder = pending.take(untimed)!;
    expect([1, 2, 5, 6].map((p) => applyLineEvent(p, reorder))).toEqual([1, null, null, 6]);
  });

  it("sends an event without changes when only the timing moved, carrying the timing as it is then", () => {
    const pending = new PendingLine(3);
    const timing: LineTiming = { at: "2026-01-01T12:00:00.000Z", places: [[1, 0, 5_000]] };
    pending.retime();
    expect(pending.empty).toBe(false);
    expect(pending.take(() => timing)).toEqual({ kind: "line", from: 3, version: 3, changes: [], timing });
    expect(pending.take(() => timing)).toBeNull();
    pending.add(4, { op: "remove", at: 1 });
    pending.retime();
    expect(pending.take(untimed)).toEqual({
      kind: "line",
      from: 3,
      version: 4,
      changes: [{ op: "remove", at: 1, count: 1 }],
      timing: null,
    });
  });
});
