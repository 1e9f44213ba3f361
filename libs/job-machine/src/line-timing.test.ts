import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyLineTiming, startFromTiming, toLineTiming } from "./line-timing";

const T0 = Date.parse("2026-01-01T12:00:00.000Z");

/** Starts that never go back: the first at T0, then the given gaps. */
const startsFrom = (gaps: number[]): number[] => {
  const starts = [T0];
  for (const gap of gaps) starts.push((starts.at(-1) ?? T0) + gap);
  return starts;
};

describe("line timing", () => {
  it("is null when the starts are not known", () => {
    expect(toLineTiming(null)).toBeNull();
    expect(toLineTiming([])).toBeNull();
    expect(startFromTiming(1, null)).toBeNull();
  });

  it("lists positions 1..8 one by one, then doubling, then the last", () => {
    const timing = toLineTiming(startsFrom(Array.from({ length: 99 }, () => 1_000)));
    expect(timing?.at).toBe("2026-01-01T12:00:00.000Z");
    expect(timing?.starts.map(([position]) => position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 100]);
  });

  it("gives every position's start exactly while the jobs take the same time", () => {
    const starts = startsFrom(Array.from({ length: 999 }, () => 7_000));
    const timing = toLineTiming(starts);
    for (const position of [1, 2, 9, 15, 33, 500, 1000]) {
      expect(startFromTiming(position, timing)).toBe(starts[position - 1]);
    }
  });

  it("is exact at the positions it lists and between their neighbours elsewhere, whatever the jobs take", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(600_000), { maxLength: 300 }), (gaps) => {
        const starts = startsFrom(gaps);
        const timing = toLineTiming(starts);
        const listed = new Set(timing?.starts.map(([position]) => position));
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
    const timing = toLineTiming(startsFrom([10_000, 10_000, 10_000]));
    const held = { estimatedStartAt: "2026-01-01T12:00:30.000Z", estimatedFinishAt: "2026-01-01T12:00:42.000Z" };
    expect(applyLineTiming(held, 2, timing)).toEqual({
      estimatedStartAt: "2026-01-01T12:00:10.000Z",
      estimatedFinishAt: "2026-01-01T12:00:22.000Z",
    });
    expect(applyLineTiming(held, 2, null)).toEqual({ estimatedStartAt: null, estimatedFinishAt: null });
    // Its snapshot knew no run length: the client reads it again.
    expect(applyLineTiming({ estimatedStartAt: null, estimatedFinishAt: null }, 2, timing)).toBeNull();
  });
});
