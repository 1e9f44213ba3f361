import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyLineTiming, placeFromTiming, toLineTiming } from "./line-timing";

const T0 = Date.parse("2026-01-01T12:00:00.000Z");

/** One backend's line: the first job starts at T0, each next one when the one before ends (`runs` ms each). */
const lineOf = (runs: number[]) => {
  const starts: number[] = [];
  const ends: number[] = [];
  let at = T0;
  for (const run of runs) {
    starts.push(at);
    at += run;
    ends.push(at);
  }
  return { starts, ends };
};
const startFromTiming = (position: number, timing: Parameters<typeof placeFromTiming>[1]) =>
  placeFromTiming(position, timing)?.start ?? null;

describe("line timing", () => {
  it("is null when the starts are not known", () => {
    expect(toLineTiming(null)).toBeNull();
    expect(toLineTiming({ starts: [], ends: [] })).toBeNull();
    expect(startFromTiming(1, null)).toBeNull();
  });

  it("lists positions 1..8 one by one, then doubling, then the last", () => {
    const timing = toLineTiming(lineOf(Array.from({ length: 100 }, () => 1_000)));
    expect(timing?.at).toBe("2026-01-01T12:00:00.000Z");
    expect(timing?.places.map(([position]) => position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 100]);
    expect(timing?.places[2]).toEqual([3, 2_000, 3_000]);
  });

  it("gives every position's start and end exactly while the jobs take the same time, also past the last", () => {
    const { starts, ends } = lineOf(Array.from({ length: 1_001 }, () => 7_000));
    const timing = toLineTiming({ starts: starts.slice(0, 1_000), ends: ends.slice(0, 1_000) });
    for (const position of [1, 2, 9, 15, 33, 500, 1000, 1001]) {
      expect(placeFromTiming(position, timing)).toEqual({ start: starts[position - 1], end: ends[position - 1] });
    }
  });

  it("is exact at the positions it lists and between their neighbours elsewhere, whatever the jobs take", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(600_000), { minLength: 1, maxLength: 300 }), (runs) => {
        const { starts } = lineOf(runs);
        const timing = toLineTiming(lineOf(runs));
        const listed = new Set(timing?.places.map(([position]) => position));
        let previous = -Infinity;
        for (let position = 1; position <= starts.length; position++) {
          const start = startFromTiming(position, timing) ?? Number.NaN;
          if (listed.has(position)) expect(start).toBe(starts[position - 1]);
          expect(start).toBeGreaterThanOrEqual(previous);
          previous = start;
        }
      }),
    );
  });

  it("moves a held job's start to its new position and keeps its own run length", () => {
    const timing = toLineTiming(lineOf([10_000, 10_000, 10_000, 10_000]));
    const held = { estimatedStartAt: "2026-01-01T12:00:30.000Z", estimatedFinishAt: "2026-01-01T12:00:42.000Z" };
    expect(applyLineTiming(held, 2, timing)).toEqual({
      estimatedStartAt: "2026-01-01T12:00:10.000Z",
      estimatedFinishAt: "2026-01-01T12:00:22.000Z",
    });
    expect(applyLineTiming(held, 2, null)).toEqual({ estimatedStartAt: null, estimatedFinishAt: null });
    // Its snapshot knew nothing (the queue was paused): the timing's own end for the position.
    expect(applyLineTiming({ estimatedStartAt: null, estimatedFinishAt: null }, 2, timing)).toEqual({
      estimatedStartAt: "2026-01-01T12:00:10.000Z",
      estimatedFinishAt: "2026-01-01T12:00:20.000Z",
    });
  });
});
