import { describe, expect, it } from "vitest";
import { toJobEvent } from "./records";
import type { JobEventRow } from "./schema";

describe("toJobEvent", () => {
  it("fills in what a snapshot logged by an older server lacks, and keeps what a newer one says", () => {
    const row = (job: Record<string, unknown>) =>
      ({
        id: 7,
        jobId: "j",
        conversationId: "c",
        status: "cancelled",
        job,
        createdAt: new Date("2026-12-06T10:00:00.000Z"),
      }) as unknown as JobEventRow;
    // Before estimates, `cancelledBy` and `movedBy` existed.
    expect(toJobEvent(row({ id: "j", status: "cancelled" })).job).toEqual({
      id: "j",
      status: "cancelled",
      cancelledBy: null,
      movedBy: null,
      estimatedStartAt: null,
      estimatedFinishAt: null,
    });
    expect(toJobEvent(row({ id: "j", status: "cancelled", cancelledBy: "admin", movedBy: "ann" })).job).toMatchObject({
      cancelledBy: "admin",
      movedBy: "ann",
    });
  });
});
