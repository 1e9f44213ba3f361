import { afterEach, describe, expect, it } from "vitest";
import { startForgeSimulator, type ForgeSimulator, type ForgeSimulatorOptions } from "./forge-simulator";

const body = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ prompt: "a red fox", width: 64, height: 64, steps: 2, seed: 7, ...overrides });

interface Txt2ImgReply {
  images: string[];
  info: string;
}

describe("ForgeSimulator as Forge's source behaves", () => {
  let sim: ForgeSimulator | undefined;
  const start = async (options: ForgeSimulatorOptions = {}) => {
    sim = await startForgeSimulator({ stepMs: 2, modelLoadMs: 2, ...options });
    return sim;
  };
  const post = (path: string, json: unknown, headers: Record<string, string> = {}) =>
    fetch(`${sim?.url}${path}`, { method: "POST", body: JSON.stringify(json), headers });
  const get = async <T>(path: string) => (await (await fetch(`${sim?.url}${path}`)).json()) as T;

  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it("wants HTTP Basic on every /sdapi route when started with auth", async () => {
    const s = await start({ auth: "anvil:s3cret" });
    expect((await fetch(`${s.url}/sdapi/v1/progress`)).status).toBe(401);
    const wrong = `Basic ${Buffer.from("anvil:nope").toString("base64")}`;
    expect((await fetch(`${s.url}/sdapi/v1/progress`, { headers: { authorization: wrong } })).status).toBe(401);
    const right = `Basic ${Buffer.from("anvil:s3cret").toString("base64")}`;
    expect((await fetch(`${s.url}/sdapi/v1/progress`, { headers: { authorization: right } })).status).toBe(200);
  });

  it("fails to load a modular checkpoint without its modules, and keeps it selected so the next job fails too", async () => {
    await start({ models: ["flux1-dev", "flux1-dev-unet"], modularModels: ["flux1-dev-unet"] });
    const broken = await post(
      "/sdapi/v1/txt2img",
      JSON.parse(
        body({
          override_settings: { sd_model_checkpoint: "flux1-dev-unet" },
          override_settings_restore_afterwards: false,
        }),
      ),
    );
    expect(broken.status).toBe(500);
    expect(await broken.json()).toMatchObject({ error: "AssertionError", message: "You do not have CLIP state dict!" });
    expect((await post("/sdapi/v1/txt2img", JSON.parse(body()))).status).toBe(500);
    // Forge dropped flux1-dev before the failed load and still counts it as loaded (Forge issue #2166).
    const lost = await post(
      "/sdapi/v1/txt2img",
      JSON.parse(body({ override_settings: { sd_model_checkpoint: "flux1-dev" } })),
    );
    expect(await lost.json()).toMatchObject({ error: "AttributeError", message: expect.stringMatching(/NoneType/) });
    const modules = await get<{ filename: string }[]>("/sdapi/v1/sd-modules");
    const withModules = await post(
      "/sdapi/v1/txt2img",
      JSON.parse(
        body({
          override_settings: {
            sd_model_checkpoint: "flux1-dev-unet",
            forge_additional_modules: modules.map((m) => m.filename),
          },
          override_settings_restore_afterwards: false,
        }),
      ),
    );
    expect(withModules.status).toBe(200);
  });

  it("looks each module up by its base name, as modules_change does, and drops one it does not list", async () => {
    await start({ models: ["flux1-dev", "flux1-dev-unet"], modularModels: ["flux1-dev-unet"] });
    const generate = (modules: string[]) =>
      post(
        "/sdapi/v1/txt2img",
        JSON.parse(
          body({ override_settings: { sd_model_checkpoint: "flux1-dev-unet", forge_additional_modules: modules } }),
        ),
      );
    const files = ["ae.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors"];
    // Another system's paths: a POSIX Forge's os.path.basename does not split at "\\", so none is found, and the load
    // fails without its text encoders.
    const elsewhere = await generate(files.map((file) => `C:\\forge\\models\\${file}`));
    expect(await elsewhere.json()).toMatchObject({ message: "You do not have CLIP state dict!" });
    // File names alone, or paths of another layout, are found in its own folders.
    expect((await generate(files)).status).toBe(200);
    expect((await generate(files.map((file) => `/elsewhere/${file}`))).status).toBe(200);
  });

  it("keeps an interrupt or a skip sent while idle until the next job begins, which clears them (shared_state.py)", async () => {
    await start();
    interface Progress {
      state: { interrupted: boolean; skipped: boolean; job_timestamp: string };
    }
    const flags = async () => {
      const { state } = await get<Progress>("/sdapi/v1/progress");
      return { interrupted: state.interrupted, skipped: state.skipped };
    };
    // Before any job, as after one: `state.interrupt()` and `state.skip()` set the flags whether or not a job runs.
    await post("/sdapi/v1/interrupt", {});
    expect(await flags()).toEqual({ interrupted: true, skipped: false });
    // The next job's state.begin() clears them: it runs to the end and answers with its image.
    const first = (await (await post("/sdapi/v1/txt2img", JSON.parse(body()))).json()) as Txt2ImgReply;
    expect(first.images).toHaveLength(1);
    expect(sim?.stats().log.map((entry) => entry.outcome)).toEqual(["completed"]);
    expect(await flags()).toEqual({ interrupted: false, skipped: false });
    await post("/sdapi/v1/skip", {});
    expect(await flags()).toEqual({ interrupted: false, skipped: true });
    await post("/sdapi/v1/interrupt", {});
    expect(await flags()).toEqual({ interrupted: true, skipped: true });
    await post("/sdapi/v1/txt2img", JSON.parse(body({ seed: 8 })));
    expect(sim?.stats().log.map((entry) => entry.outcome)).toEqual(["completed", "completed"]);
    expect(await flags()).toEqual({ interrupted: false, skipped: false });
  });

  it("only selects a checkpoint on POST /options; the next generation loads it", async () => {
    const s = await start();
    expect((await post("/sdapi/v1/options", { sd_model_checkpoint: "flux1-schnell" })).status).toBe(200);
    expect(s.stats().modelLoads).toBe(0);
    const reply = (await (await post("/sdapi/v1/txt2img", JSON.parse(body()))).json()) as Txt2ImgReply;
    expect(JSON.parse(reply.info)).toMatchObject({ sd_model_name: "flux1-schnell" });
    expect(s.stats().modelLoads).toBe(1);
    const unknown = await post("/sdapi/v1/options", { sd_model_checkpoint: "nope" });
    expect(unknown.status).toBe(500);
  });

  it("ignores the checkpoint override when acting out an old build", async () => {
    await start({ ignoreCheckpointOverride: true });
    const json = JSON.parse(body({ override_settings: { sd_model_checkpoint: "flux1-schnell" } }));
    const reply = (await (await post("/sdapi/v1/txt2img", json)).json()) as Txt2ImgReply;
    expect(JSON.parse(reply.info)).toMatchObject({ sd_model_name: "flux1-dev" });
  });

  it("lists a checkpoint added to the folder only after refresh-checkpoints", async () => {
    const s = await start();
    s.addCheckpoint("juggernaut-xl");
    const titles = async () => (await get<{ model_name: string }[]>("/sdapi/v1/sd-models")).map((m) => m.model_name);
    expect(await titles()).not.toContain("juggernaut-xl");
    expect((await post("/sdapi/v1/refresh-checkpoints", {})).status).toBe(200);
    expect(await titles()).toContain("juggernaut-xl");
  });

  it("sends JPEG images when samples_format is jpg", async () => {
    await start();
    await post("/sdapi/v1/options", { samples_format: "jpg" });
    const reply = (await (await post("/sdapi/v1/txt2img", JSON.parse(body()))).json()) as Txt2ImgReply;
    expect([...Buffer.from(reply.images[0] ?? "", "base64").subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it("lists samplers with their aliases and schedulers with their labels", async () => {
    await start();
    expect(await get("/sdapi/v1/samplers")).toContainEqual({
      name: "Euler a",
      aliases: ["k_euler_a", "k_euler_ancestral"],
      options: {},
    });
    expect(await get("/sdapi/v1/schedulers")).toContainEqual(
      expect.objectContaining({ name: "karras", label: "Karras" }),
    );
  });
});
