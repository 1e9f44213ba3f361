import { describe, expect, it } from "vitest";
import type { AnvilOutputs } from "../types";
import { statusLines } from "./format";

type Backend = AnvilOutputs["queue"]["status"]["backends"][number];
const backend = (url: string, over: Partial<Backend>): Backend => ({
  url,
  busy: false,
  jobId: null,
  healthy: true,
  stopping: false,
  since: null,
  ...over,
});

describe("statusLines", () => {
  it("says what each GPU does: idle, busy with a job, or stopping one that ended", () => {
    const lines = statusLines({
      queued: 3,
      processing: 1,
      paused: true,
      backends: [
        backend("http://a:7860", { busy: true, jobId: "job-1" }),
        backend("http://b:7860", { busy: true, stopping: true }),
        backend("http://c:7860", { healthy: false }),
        // Another user's job: the GPU is busy, whose job it is is not said.
        backend("http://d:7860", { busy: true }),
      ],
    });
    expect(lines).toEqual([
      "queued 3, processing 1 (paused)",
      "  http://a:7860  healthy  busy with job-1",
      "  http://b:7860  healthy  stopping",
      "  http://c:7860  unhealthy  idle",
      "  http://d:7860  healthy  busy",
    ]);
  });
});
