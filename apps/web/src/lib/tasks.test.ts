import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { throttled } from "./tasks";

describe("throttled", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs the first request at once and folds a burst of requests into one more run after the interval", async () => {
    const runs: number[] = [];
    const request = throttled(async () => void runs.push(Date.now()), 250);
    const start = Date.now();
    request();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([start]);
    for (let i = 0; i < 10; i++) {
      request();
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(runs).toEqual([start, start + 250]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toHaveLength(2);
  });

  it("never runs more often than once per interval, however often it is asked", async () => {
    const runs: number[] = [];
    const request = throttled(async () => void runs.push(Date.now()), 250);
    for (let t = 0; t < 2_000; t += 10) {
      request();
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(runs.length).toBeGreaterThanOrEqual(7);
    for (let i = 1; i < runs.length; i++) expect(runs[i]! - runs[i - 1]!).toBeGreaterThanOrEqual(250);
  });
});
