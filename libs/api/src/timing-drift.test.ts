import { describe, expect, it } from "vitest";
import { TimingDrift } from "./timing-drift";

const head = (sent: number | null, now: number | null) => () => ({ sent, now });

describe("TimingDrift", () => {
  it("says so once the head's start moved by 3 s from what was sent, checking at most once a second", () => {
    const drift = new TimingDrift(1_000);
    expect(drift.moved(0, head(10_000, 10_000))).toBe(false);
    expect(drift.moved(1_000, head(10_000, 7_500))).toBe(false);
    // Within the second: not even read.
    expect(drift.moved(1_500, head(10_000, 1_000))).toBe(false);
    expect(drift.moved(2_000, head(10_000, 6_900))).toBe(true);
    expect(drift.moved(3_000, head(6_900, 13_000))).toBe(true);
  });

  it("asks for a tenth of a long wait", () => {
    const drift = new TimingDrift(1_000);
    expect(drift.moved(0, head(600_000, 560_000))).toBe(false);
    expect(drift.moved(1_000, head(600_000, 530_000))).toBe(true);
  });

  it("says nothing while nobody waits, or before any timing was sent", () => {
    const drift = new TimingDrift(1_000);
    expect(drift.moved(0, head(null, 10_000))).toBe(false);
    expect(drift.moved(1_000, head(10_000, null))).toBe(false);
  });
});
