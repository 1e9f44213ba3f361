import { describe, expect, it } from "vitest";
import { formatEstimate, formatPosition, formatRemaining } from "./format";

describe("formatRemaining", () => {
  it.each([
    [1_000, null],
    [4_000, "~5 s"],
    [41_000, "~40 s"],
    [57_000, "~55 s"],
    [58_000, "~1 min"],
    [70_000, "~1 min"],
    [150_000, "~3 min"],
    [59 * 60_000 + 40_000, "~1 h"],
    [100 * 60_000, "~2 h"],
    [26 * 3_600_000, "~26 h"],
  ])("rounds %i ms to %s", (ms, text) => {
    expect(formatRemaining(ms)).toBe(text);
  });
});

describe("formatEstimate", () => {
  it("counts down to the estimate, and says 'any moment' once it is due", () => {
    const now = Date.parse("2025-01-01T10:00:00.000Z");
    expect(formatEstimate("start", "2025-01-01T10:00:40.000Z", now)).toBe("starts in ~40 s");
    expect(formatEstimate("finish", "2025-01-01T10:05:00.000Z", now)).toBe("ready in ~5 min");
    expect(formatEstimate("finish", "2025-01-01T09:59:50.000Z", now)).toBe("ready any moment");
  });

  it("says a job is late once it is half a minute past its estimate", () => {
    const now = Date.parse("2025-01-01T10:00:00.000Z");
    expect(formatEstimate("finish", "2025-01-01T09:59:31.000Z", now)).toBe("ready any moment");
    expect(formatEstimate("finish", "2025-01-01T09:59:00.000Z", now)).toBe("taking longer than expected");
    expect(formatEstimate("start", "2025-01-01T09:50:00.000Z", now)).toBe("starting later than expected");
    // The server keeps a late estimate at "now": the caller says since when it has seen it due.
    const since = now - 31_000;
    expect(formatEstimate("finish", "2025-01-01T10:00:00.000Z", now, since)).toBe("taking longer than expected");
    expect(formatEstimate("finish", "2025-01-01T10:00:00.000Z", now, now - 5_000)).toBe("ready any moment");
  });
});

describe("formatPosition", () => {
  it("says a waiting job's place, and no place 0 for one replayed from before its place was known", () => {
    expect(formatPosition(3)).toBe("#3 in queue");
    expect(formatPosition(0)).toBe("In queue");
  });
});
