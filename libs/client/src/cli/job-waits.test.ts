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

    const down = (url: string, unavailable?: string) => ({
      url,
      busy: false,
      healthy: false,
      jobId: null,
      unavailable,
    });
    const noGpu = waitsWith({
      paused: false,
      backends: [down("http://gpu-a:7860", "unreachable"), down("http://gpu-b:7860", "busy-elsewhere")],
    });
    await noGpu.waits.sayIfStopped();
    expect(noGpu.stderr()).toBe(
      "anvil: no GPU can take it now (http://gpu-a:7860: not answering; http://gpu-b:7860: busy with a generation from outside this Anvil): the job waits until one can\n",
    );

    // A server older than the field says only that its GPUs are not healthy.
    const older = waitsWith({ paused: false, backends: [down("http://gpu-a:7860")] });
    await older.waits.sayIfStopped();
    expect(older.stderr()).toBe(
      "anvil: no GPU can take it now (http://gpu-a:7860: not answering): the job waits until one can\n",
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
    // A server's first moment as leader: it has not asked its GPUs yet.
    const unprobed = {
      ...runs,
      backends: [{ url: "http://gpu-a:7860", busy: false, healthy: false, jobId: null, unavailable: "unprobed" }],
    };
    for (const status of [runs, oneUp, unprobed, { paused: false }, new Error("down")]) {
      const { waits, stderr } = waitsWith(status);
      await waits.sayIfStopped();
      expect(stderr()).toBe("");
    }
  });
});
