import { describe, expect, it } from "vitest";
import type { AnvilClient } from "../create-client";
import { capturedOutput } from "../testing/captured-output";
import { jobWaits } from "./job-waits";

/** The waits of a command whose server answers `queue.status` with `status` (or fails when it is an Error). */
const waitsWith = (status: Record<string, unknown> | Error) => {
  const stdout = capturedOutput();
  const stderr = capturedOutput();
  const anvil = {
    queue: {
      status: {
        query: async () => {
          if (status instanceof Error) throw status;
          return { queued: 1, processing: 0, backends: [], ...status };
        },
      },
    },
  } as unknown as AnvilClient;
  const waits = jobWaits({
    io: { stdout: stdout.stream, stderr: stderr.stream },
    env: { url: "http://127.0.0.1:3000", token: undefined },
    anvil: () => anvil,
    json: () => false,
    print: () => undefined,
    printJson: () => undefined,
  });
  return { waits, stderr: stderr.text };
};

describe("jobWaits' sayIfStopped", () => {
  it("says why a job would not start: a paused queue, a server that cannot store images, or one that stops", async () => {
    const paused = waitsWith({ paused: true, imagesNotStored: true });
    await paused.waits.sayIfStopped();
    expect(paused.stderr()).toBe("anvil: the queue is paused: the job waits until an admin resumes it\n");

    const full = waitsWith({ paused: false, imagesNotStored: true });
    await full.waits.sayIfStopped();
    expect(full.stderr()).toMatch(/^anvil: the server cannot store images .*no job starts until it can\n$/);

    const stopping = waitsWith({ paused: false, imagesNotStored: false, serverStopping: true });
    await stopping.waits.sayIfStopped();
    expect(stopping.stderr()).toBe(
      "anvil: the server is stopping: the job waits until Anvil runs again (a restart, or another server)\n",
    );

    const down = (url: string) => ({ url, busy: false, healthy: false, jobId: null });
    const noGpu = waitsWith({ paused: false, backends: [down("http://gpu-a:7860"), down("http://gpu-b:7860")] });
    await noGpu.waits.sayIfStopped();
    expect(noGpu.stderr()).toBe(
      "anvil: no GPU answers now (http://gpu-a:7860, http://gpu-b:7860): the job waits until one does\n",
    );
  });

  it("says nothing of a queue that runs, of a server older than the field, or of one that does not answer", async () => {
    const runs = { paused: false, imagesNotStored: false, serverStopping: false };
    // One GPU of two down is a slower line, not a stopped one.
    const oneUp = {
      ...runs,
      backends: [
        { url: "http://gpu-a:7860", busy: false, healthy: false, jobId: null },
        { url: "http://gpu-b:7860", busy: true, healthy: true, jobId: null },
      ],
    };
    for (const status of [runs, oneUp, { paused: false }, new Error("down")]) {
      const { waits, stderr } = waitsWith(status);
      await waits.sayIfStopped();
      expect(stderr()).toBe("");
    }
  });
});
