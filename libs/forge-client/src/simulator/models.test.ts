import { describe, expect, it } from "vitest";
import { matchModel, shortHash, simulatedModel } from "./models";

describe("the simulator's checkpoints, as Forge lists and looks them up", () => {
  it("lists a file Forge has not hashed with no hash, as Forge's /sd-models does (its shorthash is None)", () => {
    expect(simulatedModel("flux1-dev", false)).toMatchObject({
      title: "flux1-dev.safetensors",
      hash: null,
      sha256: null,
    });
    expect(simulatedModel("flux1-dev")).toMatchObject({
      title: `flux1-dev.safetensors [${shortHash("flux1-dev")}]`,
      hash: shortHash("flux1-dev"),
    });
  });

  it("takes the names Forge takes for a checkpoint, and no others", () => {
    const hashed = simulatedModel("flux1-dev");
    const unhashed = simulatedModel("sdxl-base-1.0", false);
    const models = [hashed, unhashed];
    const short = shortHash("flux1-dev");
    for (const name of [
      hashed.title,
      "flux1-dev",
      "flux1-dev.safetensors",
      short,
      hashed.sha256 ?? "",
      `flux1-dev [${short}]`,
    ]) {
      expect(matchModel(models, name), name).toBe(hashed);
    }
    expect(matchModel(models, "sdxl-base-1.0.safetensors")).toBe(unhashed);
    // No cached SHA-256, no shorthash names.
    expect(matchModel(models, shortHash("sdxl-base-1.0"))).toBeUndefined();
    expect(matchModel(models, `sdxl-base-1.0.safetensors [${shortHash("sdxl-base-1.0")}]`)).toBeUndefined();
    // Forge knows a file by its path within the models folder, not by a path of the disk.
    expect(matchModel(models, hashed.filename)).toBeUndefined();
    expect(matchModel(models, "Stable-diffusion/flux1-dev.safetensors")).toBeUndefined();
  });
});
