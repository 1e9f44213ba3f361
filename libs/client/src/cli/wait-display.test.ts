import { describe, expect, it } from "vitest";
import type { Job } from "../types";
import { plainDisplay } from "./wait-display";

const job = (status: Job["status"], queuePosition: number, progress: number) =>
  ({ status, queuePosition, progress }) as Job;

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
});
