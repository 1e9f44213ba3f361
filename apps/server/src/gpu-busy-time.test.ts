import { describe, expect, it } from "vitest";
import { GpuBusyTime } from "./gpu-busy-time";

describe("GpuBusyTime", () => {
  it("adds up a backend's jobs back to back, when each job's end is told after the next one started", () => {
    const busy = new GpuBusyTime(1);
    busy.started(0, "a", 0);
    busy.started(0, "b", 5_000);
    busy.ended(0, "a", 5_200);
    busy.started(0, "c", 10_000);
    busy.ended(0, "b", 10_300);
    expect(busy.seconds(12_000)).toEqual([12]);
    busy.ended(0, "c", 15_000);
    expect(busy.seconds(60_000)).toEqual([15]);
  });

  it("counts nothing while a backend is idle, and nothing for a job that went back to the line", () => {
    const busy = new GpuBusyTime(2);
    busy.started(1, "a", 1_000);
    busy.ended(1, "a", 3_000);
    busy.started(1, "b", 10_000);
    // Its backend was lost: the job waits in the line again, and runs later on the other one.
    busy.ended(1, "b", 11_000);
    busy.started(0, "b", 20_000);
    expect(busy.seconds(21_000)).toEqual([1, 3]);
  });

  it("ignores a backend it does not know and the end of a job it did not see start", () => {
    const busy = new GpuBusyTime(1);
    busy.started(3, "a", 0);
    busy.ended(0, "x", 1_000);
    busy.started(0, "b", 2_000);
    busy.ended(0, "x", 3_000);
    expect(busy.seconds(4_000)).toEqual([2]);
  });
});
