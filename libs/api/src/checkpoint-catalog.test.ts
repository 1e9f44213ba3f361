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
