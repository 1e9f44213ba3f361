import { afterEach, describe, expect, it, vi } from "vitest";
import type { Job } from "../types";
import { plainDisplay } from "./wait-display";

const job = (status: Job["status"], queuePosition: number, progress: number, estimate: string | null = null) =>
  ({
    status,
    queuePosition,
    progress,
    estimatedStartAt: status === "queued" ? estimate : null,
    estimatedFinishAt: status === "processing" ? estimate : null,
  }) as Job;
const inSeconds = (s: number) => new Date(Date.now() + s * 1_000).toISOString();

describe("plainDisplay", () => {
  it("prints one line per change of place, status or tenth of progress, never the same line twice", () => {
    const lines: string[] = [];
    const display = plainDisplay((line) => lines.push(line));
    for (const update of [
      job("queued", 2, 0),
      job("queued", 2, 0),
      job("queued", 1, 0),
      job("processing", 0, 0),
      job("processing", 0, 4),
      job("processing", 0, 12),
      job("complete", 0, 100),
    ]) {
      display.update(update);
    }
    expect(lines).toEqual(["queued, position 2", "queued, position 1", "processing 0%", "processing 10%", "complete"]);
  });

  it("says no position 0 for a job that waits again, replayed from before its place was known", () => {
    const lines: string[] = [];
    const display = plainDisplay((line) => lines.push(line));
    for (const update of [job("processing", 0, 40), job("queued", 0, 0), job("queued", 1, 0)]) display.update(update);
    expect(lines).toEqual(["processing 40%", "queued", "queued, position 1"]);
  });
});

describe("plainDisplay with estimates", () => {
  afterEach(() => vi.useRealTimers());

  it("says when a queued job starts and a running one is ready, without printing a line for an estimate alone", () => {
    // A clock that stands still: 90 s from now, read a millisecond later, would round to "~1 min".
    vi.useFakeTimers({ now: Date.parse("2025-01-01T10:00:00.000Z") });
    const lines: string[] = [];
    const display = plainDisplay((line) => lines.push(line));
    display.update(job("queued", 3, 0, inSeconds(40)));
    display.update(job("queued", 3, 0, inSeconds(38)));
    display.update(job("queued", 2, 0, null));
    display.update(job("processing", 0, 0, inSeconds(90)));
    expect(lines).toEqual([
      "queued, position 3, starts in ~40 s",
      "queued, position 2",
      "processing 0%, ready in ~2 min",
    ]);
  });
});

describe("plainDisplay with a job that runs late", () => {
  afterEach(() => vi.useRealTimers());

  it("says it is taking longer than expected once its estimate, kept at now by the server, has been due for 30 s", () => {
    vi.useFakeTimers({ now: Date.parse("2025-01-01T10:00:00.000Z") });
    const lines: string[] = [];
    const display = plainDisplay((line) => lines.push(line));
    display.update(job("processing", 0, 0, inSeconds(0)));
    vi.advanceTimersByTime(20_000);
    display.update(job("processing", 0, 10, inSeconds(0)));
    vi.advanceTimersByTime(20_000);
    display.update(job("processing", 0, 20, inSeconds(0)));
    expect(lines).toEqual([
      "processing 0%, ready any moment",
      "processing 10%, ready any moment",
      "processing 20%, taking longer than expected",
    ]);
  });
});
