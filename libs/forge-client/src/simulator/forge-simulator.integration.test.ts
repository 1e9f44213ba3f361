import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startForgeSimulator, type ForgeSimulator } from "./forge-simulator";

const body = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ prompt: "a red fox", width: 64, height: 64, steps: 10, seed: 7, ...overrides });

const pngSize = (base64: string) => {
  const png = Buffer.from(base64, "base64");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Ten seconds, as in forge-client.integration.test.ts: these run beside the server's tests on a loaded machine.
const waitFor = async (check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await sleep(5);
  }
};

interface Txt2ImgReply {
  images: string[];
  info: string;
}

describe("ForgeSimulator", () => {
  let sim: ForgeSimulator;
  const txt2img = (json: string, signal?: AbortSignal) =>
    fetch(`${sim.url}/sdapi/v1/txt2img`, { method: "POST", body: json, signal });
  const progress = async () =>
    (await (await fetch(`${sim.url}/sdapi/v1/progress`)).json()) as {
      progress: number;
      state: { job_count: number; sampling_step: number; interrupted: boolean; skipped: boolean };
    };
  const jobCount = async () => (await progress()).state.job_count;

  beforeEach(async () => {
    sim = await startForgeSimulator({ stepMs: 10, modelLoadMs: 5 });
  });
  afterEach(async () => {
    await sim.close();
  });

  it("rescans its checkpoints under the generation lock, after the generation that holds it, reporting idle", async () => {
    const generating = txt2img(body({ steps: 30 }));
    await waitFor(async () => (await jobCount()) === 1);
    const asked = Date.now();
    const refreshed = await fetch(`${sim.url}/sdapi/v1/refresh-checkpoints`, { method: "POST" });
    const answered = Date.now();
    expect(refreshed.status).toBe(200);
    const generated = await generating;
    expect(generated.status).toBe(200);
    // It waited for the lock: the generation (30 steps of 10 ms) was over before the rescan answered.
    expect(answered - asked).toBeGreaterThanOrEqual(100);
    expect(sim.stats().log[0]?.endedAt).toBeLessThanOrEqual(answered);
  });

  it("answers a failure as soon as it leaves the lock, as Forge does, however long it takes to encode an image", async () => {
    await sim.close();
    sim = await startForgeSimulator({ stepMs: 10, modelLoadMs: 5, encodeMs: 2_000 });
    const failed = await txt2img(body({ prompt: "sim:vaeoom" }));
    expect(failed.status).toBe(500);
    const [entry] = sim.stats().log;
    // An image would be encoded for 2 s before its answer; a failure's answer does not wait for that.
    expect((entry?.answeredAt ?? Infinity) - (entry?.endedAt ?? 0)).toBeLessThan(1_000);
  });

  it("asks for credentials on its own routes only: any other path is a 404, as Forge's are", async () => {
    const guarded = await startForgeSimulator({ auth: "user:secret", automatic1111: true });
    try {
      expect((await fetch(`${guarded.url}/sdapi/v1/progress`)).status).toBe(401);
      // An AUTOMATIC1111 has no sd-modules (Forge's alone): 404, with or without credentials.
      expect((await fetch(`${guarded.url}/sdapi/v1/sd-modules`)).status).toBe(404);
      expect((await fetch(`${guarded.url}/sdapi/v1/no-such-route`)).status).toBe(404);
    } finally {
      await guarded.close();
    }
  });

  it("keeps generating after its client disconnects, as Forge does", async () => {
    const abort = new AbortController();
    const pending = txt2img(body({ steps: 30 }), abort.signal).catch(() => "aborted");
    await waitFor(async () => (await jobCount()) === 1);
    abort.abort();
    expect(await pending).toBe("aborted");
    await sleep(30);
    expect(await jobCount()).toBe(1);
    await waitFor(() => sim.stats().completed === 1);
    expect(sim.stats().log[0]).toMatchObject({ outcome: "completed", delivered: false });
    expect(await jobCount()).toBe(0);
  });

  it("counts sampling_step from 0 to sampling_steps - 1 and reports progress by Forge's formula", async () => {
    sim.setStepMs(40);
    const pending = txt2img(body({ steps: 3 }));
    const seen: { progress: number; step: number; steps: number }[] = [];
    await waitFor(async () => {
      const p = (await progress()) as Awaited<ReturnType<typeof progress>> & { state: { sampling_steps: number } };
      if (p.state.job_count === 1)
        seen.push({ progress: p.progress, step: p.state.sampling_step, steps: p.state.sampling_steps });
      return p.state.job_count === 0 && seen.length > 0;
    });
    await pending;
    expect(Math.max(...seen.map((p) => p.step))).toBe(2);
    for (const p of seen) {
      expect(p.steps).toBe(3);
      if (p.progress < 1) expect(p.progress).toBeCloseTo(0.01 + p.step / 3, 5);
    }
  });

  it("runs two concurrent txt2img requests one after the other and counts both as held", async () => {
    const replies = await Promise.all([txt2img(body()), txt2img(body({ prompt: "a blue fox" }))]);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200]);
    const stats = sim.stats();
    expect(stats).toMatchObject({ overlaps: 0, maxConcurrent: 1, maxQueued: 2, completed: 2 });
    const [first, second] = stats.log;
    expect(second?.startedAt).toBeGreaterThanOrEqual(first?.endedAt ?? Infinity);
  });

  it("answers 200 with the unfinished image when interrupted mid-sampling, and keeps the flag until the next job", async () => {
    const pending = txt2img(body({ steps: 200 }));
    await waitFor(async () => (await progress()).state.sampling_step >= 2);
    await fetch(`${sim.url}/sdapi/v1/interrupt`, { method: "POST" });
    const reply = (await (await pending).json()) as Txt2ImgReply;
    expect(reply.images).toHaveLength(1);
    expect(sim.stats().log[0]?.outcome).toBe("interrupted");
    expect((await progress()).state).toMatchObject({ job_count: 0, interrupted: true });
    await txt2img(body({ steps: 1 }));
    expect((await progress()).state).toMatchObject({ job_count: 0, interrupted: false });
  });

  it("sets skipped on Skip and answers with the unfinished image", async () => {
    const pending = txt2img(body({ steps: 200 }));
    await waitFor(async () => (await progress()).state.sampling_step >= 1);
    await fetch(`${sim.url}/sdapi/v1/skip`, { method: "POST" });
    expect(((await (await pending).json()) as Txt2ImgReply).images).toHaveLength(1);
    expect((await progress()).state).toMatchObject({ job_count: 0, skipped: true, interrupted: false });
  });

  it("reports job_count -1 while loading a checkpoint, which an interrupt cannot cut short, then ends without an image", async () => {
    sim.setModelLoadMs(1000);
    const started = Date.now();
    const pending = txt2img(body({ override_settings: { sd_model_checkpoint: "flux1-schnell" } }));
    await waitFor(async () => (await jobCount()) === -1);
    expect((await progress()).progress).toBe(0.01);
    await fetch(`${sim.url}/sdapi/v1/interrupt`, { method: "POST" });
    expect(await jobCount()).toBe(-1);
    const reply = (await (await pending).json()) as Txt2ImgReply;
    expect(reply.images).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sim.stats()).toMatchObject({ modelLoads: 1, interrupted: 1 });
  });

  it("answers a failure with Forge's { error, detail, body, message }", async () => {
    const reply = await txt2img(body({ prompt: "sim:oom" }));
    expect(reply.status).toBe(500);
    expect(await reply.json()).toEqual({
      error: "OutOfMemoryError",
      detail: "",
      body: "",
      message: expect.stringMatching(/^CUDA out of memory/),
    });
  });

  it("counts a request that arrives while another generation holds the backend as waited", async () => {
    sim.setBusy(true, { loadMs: 100 });
    await waitFor(async () => (await jobCount()) !== 0);
    const queued = txt2img(body({ steps: 1 }));
    await waitFor(() => sim.stats().waited === 1);
    sim.setBusy(false);
    expect((await queued).status).toBe(200);
  });

  it("draws the same picture for the same prompt and seed, and another for another seed", async () => {
    const image = async (seed: number) =>
      ((await (await txt2img(body({ seed, steps: 1 }))).json()) as Txt2ImgReply).images[0];
    const [a, b, c] = [await image(1), await image(1), await image(2)];
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it("caps the long side at maxImageSize and keeps the aspect ratio", async () => {
    const reply = (await (await txt2img(body({ width: 1024, height: 512, steps: 1 }))).json()) as Txt2ImgReply;
    expect(pngSize(reply.images[0] ?? "")).toEqual({ width: 256, height: 128 });
    expect(JSON.parse(reply.info)).toMatchObject({ width: 1024, height: 512, seed: 7, all_seeds: [7] });
  });

  it("answers 422 with FastAPI's detail for a field of the wrong type; a missing prompt is empty, as in Forge", async () => {
    const reply = await txt2img(JSON.stringify({ width: 64, height: "tall" }));
    expect(reply.status).toBe(422);
    const { detail } = (await reply.json()) as { detail: { loc: unknown[] }[] };
    expect(detail.map((issue) => issue.loc)).toEqual([["body", "height"]]);
    expect((await txt2img(JSON.stringify({ width: 64, height: 64, steps: 1 }))).status).toBe(200);
  });

  it("ignores an unknown override checkpoint and uses the loaded model", async () => {
    const json = body({ steps: 1, override_settings: { sd_model_checkpoint: "no-such-model" } });
    const reply = (await (await txt2img(json)).json()) as Txt2ImgReply;
    expect(JSON.parse(reply.info)).toMatchObject({ sd_model_name: "flux1-dev" });
    expect(sim.stats().modelLoads).toBe(0);
  });

  it("reports another client's generation as busy until setBusy(false)", async () => {
    sim.setBusy(true);
    await waitFor(async () => (await jobCount()) === 1);
    const queued = txt2img(body({ steps: 1 }));
    await waitFor(() => sim.stats().queued === 1);
    await sleep(30);
    expect(sim.stats()).toMatchObject({ queued: 1, completed: 0 });
    sim.setBusy(false);
    expect((await queued).status).toBe(200);
  });

  it("refuses connections while offline and serves again on the same URL afterwards", async () => {
    await sim.setOffline(true);
    await expect(fetch(`${sim.url}/sdapi/v1/sd-models`)).rejects.toThrow();
    await sim.setOffline(false);
    expect((await fetch(`${sim.url}/sdapi/v1/sd-models`)).status).toBe(200);
  });
});
