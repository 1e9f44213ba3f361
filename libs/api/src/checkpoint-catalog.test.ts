import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointCatalog } from "./checkpoint-catalog";

describe("CheckpointCatalog.resolveModules", () => {
  let sim: ForgeSimulator;
  let catalog: CheckpointCatalog;
  beforeAll(async () => {
    sim = await startForgeSimulator({ stepMs: 1, modelLoadMs: 1 });
    catalog = new CheckpointCatalog([makeForgeClient({ baseUrl: sim.url })]);
  });
  afterAll(async () => {
    await sim.close();
  });

  it("names each module by its file name alone, as Forge keeps it, whether asked by file name, path or model name", async () => {
    const listed = await catalog.modules();
    const ae = listed.find((m) => m.filename.endsWith("/ae.safetensors"));
    // The backend lists it under its full path.
    expect(ae?.filename).toMatch(/^\/.+\/ae\.safetensors$/);

    expect(await catalog.resolveModules(["ae.safetensors", ae!.filename, ae!.name])).toEqual([
      "ae.safetensors",
      "ae.safetensors",
      "ae.safetensors",
    ]);
  });

  it("refuses a module no backend lists, naming the known ones", async () => {
    await expect(catalog.resolveModules(["missing.safetensors"])).rejects.toThrow(
      /module "missing.safetensors" is not known to the backend; known: .*ae\.safetensors/,
    );
  });
});

describe("CheckpointCatalog with backends that do not hold the same checkpoints", () => {
  const sims: ForgeSimulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((sim) => sim.close()));
  });

  it("warns once, naming the backend and what it lacks: a job for that checkpoint fails when it goes there", async () => {
    const both = await startForgeSimulator({ models: ["flux1-dev", "sdxl-base-1.0"] });
    const one = await startForgeSimulator({ models: ["flux1-dev"] });
    sims.push(both, one);
    const lines: { message: string; fields: Record<string, unknown>; level: string | undefined }[] = [];
    const catalog = new CheckpointCatalog(
      [makeForgeClient({ baseUrl: both.url }), makeForgeClient({ baseUrl: one.url })],
      undefined,
      (message, fields, level) => lines.push({ message, fields, level }),
    );

    expect((await catalog.list()).map((m) => m.modelName).sort()).toEqual(["flux1-dev", "sdxl-base-1.0"]);
    await catalog.list();

    expect(lines).toEqual([
      {
        message: expect.stringMatching(/^the backends do not hold the same checkpoints/),
        fields: { lacking: [{ backend: one.url, missing: ["sdxl-base-1.0.safetensors"] }] },
        level: "warn",
      },
    ]);
  });
});

describe("CheckpointCatalog with backends that do not hold the same modules", () => {
  const sims: ForgeSimulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((sim) => sim.close()));
  });

  it("warns naming the backend and the module files it lacks: Forge drops a module it does not list", async () => {
    const full = await startForgeSimulator({});
    const bare = await startForgeSimulator({ modules: [] });
    sims.push(full, bare);
    const lines: { message: string; fields: Record<string, unknown>; level: string | undefined }[] = [];
    const catalog = new CheckpointCatalog(
      [makeForgeClient({ baseUrl: full.url }), makeForgeClient({ baseUrl: bare.url })],
      undefined,
      (message, fields, level) => lines.push({ message, fields, level }),
    );
    const modules = (await catalog.modules()).map((m) => m.filename.split("/").pop()).sort();
    expect(modules.length).toBeGreaterThan(0);
    expect(lines).toEqual([
      {
        message: expect.stringMatching(/^the backends do not hold the same checkpoints or modules/),
        fields: { lacking: [{ backend: bare.url, missing: [], missingModules: modules }] },
        level: "warn",
      },
    ]);
  });
});

describe("CheckpointCatalog while no backend has ever answered", () => {
  it("says of each list that it is not known yet, and of a checkpoint that it cannot be checked", async () => {
    // A port nothing listens on: the backend is down, as a Forge that is still starting.
    const down = await startForgeSimulator({});
    const url = down.url;
    await down.close();
    const catalog = new CheckpointCatalog([makeForgeClient({ baseUrl: url })]);
    for (const [list, name] of [
      [() => catalog.list(), "checkpoints"],
      [() => catalog.modules(), "modules"],
      [() => catalog.samplers(), "samplers"],
      [() => catalog.schedulers(), "schedulers"],
    ] as const) {
      await expect(list()).rejects.toThrow(`No backend answers, so the ${name} are not known yet; try again shortly`);
    }
    await expect(catalog.resolve("flux1-dev")).rejects.toThrow(
      "No backend answers, so the checkpoint cannot be checked; try again shortly",
    );
  });
});

describe("CheckpointCatalog for a job submitted while no backend had answered", () => {
  it("takes its checkpoint and modules as given, and resolves them at dispatch once a backend answers", async () => {
    // A Forge that is still starting: its port is closed.
    const down = await startForgeSimulator({});
    const port = Number(new URL(down.url).port);
    await down.close();
    const catalog = new CheckpointCatalog([makeForgeClient({ baseUrl: down.url })]);
    const given = { checkpoint: "SDXL-Base-1.0", modules: ["/models/VAE/ae.safetensors"] };
    const accepted = await catalog.resolveModel(given);
    expect(accepted).toEqual(given);
    const names = { sampler: "Euler", scheduler: null, ...accepted };
    // Nothing answers at dispatch either: the name is not sent as given, and not called unknown.
    expect(await catalog.namesForDispatch(names)).toEqual({
      unanswered: 'No backend answered, so the checkpoint "SDXL-Base-1.0" could not be checked',
    });
    const up = await startForgeSimulator({ port, stepMs: 1, modelLoadMs: 1 });
    try {
      expect(await catalog.namesForDispatch(names)).toEqual({
        sampler: "Euler",
        scheduler: null,
        checkpoint: expect.stringMatching(/^sdxl-base-1\.0\.safetensors \[[0-9a-f]+\]$/),
        modules: ["ae.safetensors"],
      });
      // Checked at submission from now on: resolved to the names Forge takes.
      expect(await catalog.resolveModel(given)).toEqual({
        checkpoint: expect.stringMatching(/^sdxl-base-1\.0\.safetensors \[[0-9a-f]+\]$/),
        modules: ["ae.safetensors"],
      });
    } finally {
      await up.close();
    }
  });
});
