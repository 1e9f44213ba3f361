import type { DispatchDecision } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { DispatchLog } from "./dispatch-log";

const decision = (jobId: string): DispatchDecision => ({
  jobId,
  owner: "ann",
  backend: 0,
  turn: 1,
  kind: "turn",
  reason: "ann's turn: never served yet",
  model: null,
  loaded: null,
  switched: false,
  passedOver: 0,
});

describe("DispatchLog", () => {
  it("keeps only the latest decisions, newest first, and finds a job's last one", () => {
    const log = new DispatchLog(3);
    for (let i = 1; i <= 10; i++) log.record(decision(`j${i}`), Date.UTC(2026, 0, 1, 0, 0, i));
    expect(log.latest().map((d) => d.jobId)).toEqual(["j10", "j9", "j8"]);
    expect(log.latest(2).map((d) => d.jobId)).toEqual(["j10", "j9"]);
    expect(log.of("j9")?.at).toBe("2026-01-01T00:00:09.000Z");
    log.record({ ...decision("j9"), reason: "runs again ahead of the line: its backend went away" });
    expect(log.of("j9")?.reason).toMatch(/^runs again/);
  });
});
