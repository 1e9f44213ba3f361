import { randomUUID } from "node:crypto";
import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { ImageStore } from "@anvil/persistence";
import { Effect } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import { forgeGenerate } from "./generate";
import { Handovers } from "./handovers";

/** An images folder that is full for its first `fullFor` writes, as a disk is until someone makes room. */
const fillingUp = (fullFor: number) => {
  const stored = new Map<string, Uint8Array>();
  let writes = 0;
  const images: ImageStore = {
    write: async (jobId, bytes) => {
      if (++writes <= fullFor) {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      stored.set(jobId, bytes);
    },
    read: async () => null,
    remove: async (jobId) => void stored.delete(jobId),
  };
  return { images, stored, writes: () => writes };
};

describe("forgeGenerate", () => {
  let sim: ForgeSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
  });

  it("keeps a finished image while the images folder is full and stores it once there is room", async () => {
    sim = await startForgeSimulator({ stepMs: 1, modelLoadMs: 1 });
    const { images, stored, writes } = fillingUp(2);
    const said: unknown[] = [];
    const generate = forgeGenerate(
      [makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10 })],
      images,
      { unreachable: () => undefined, imageStorage: (cause) => said.push(cause === null ? "stored" : "full") },
      new Handovers(),
    );
    const jobId = randomUUID();
    const params = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 2 };
    const keep = await Effect.runPromise(
      generate({ jobId, prompt: "a full disk", params, attempt: 1, backend: 0 }, () => {}),
    );
    const result = await Effect.runPromise(keep);
    expect(result.imageUrl).toContain(jobId);
    expect(writes()).toBe(3);
    expect(stored.has(jobId)).toBe(true);
    expect(said).toEqual(["full", "full", "stored"]);
  });
});
