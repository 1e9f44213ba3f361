import { describe, expect, it } from "vitest";
import { modelOf } from "./affinity";
import { modelName } from "./model-name";

describe("modelOf", () => {
  it("gives one model whether Forge's options name the checkpoint by its title or without its hash", () => {
    // Anvil sets `sd_model_checkpoint` to the title without its hash; Forge adds a hash to an unhashed file's title
    // once it first loads it; /options returns whichever string was set.
    const job = modelOf({ checkpoint: "flux/flux1-dev.safetensors [1a2b3c4d5e]", modules: [] });
    expect(modelOf({ checkpoint: "flux/flux1-dev.safetensors", modules: [] })).toBe(job);
    expect(modelOf({ checkpoint: " flux/flux1-dev.safetensors [1A2B3C4D5E] ", modules: [] })).toBe(job);
    expect(modelOf({ checkpoint: "sdxl/flux1-dev.safetensors", modules: [] })).not.toBe(job);
    expect(modelOf({ checkpoint: null, modules: [] })).toBeNull();
  });

  it("compares modules by file name in any order, as Forge does", () => {
    const job = modelOf({
      checkpoint: "flux1-dev.safetensors",
      modules: ["/models/VAE/ae.safetensors", "/m/clip_l.safetensors"],
    });
    expect(
      modelOf({ checkpoint: "flux1-dev.safetensors", modules: ["C:\\m\\clip_l.safetensors", "ae.safetensors"] }),
    ).toBe(job);
    expect(modelOf({ checkpoint: "flux1-dev.safetensors", modules: ["ae.safetensors"] })).not.toBe(job);
  });

  it("names the model for people by its file name alone", () => {
    expect(
      modelName(modelOf({ checkpoint: "flux/flux1-dev.safetensors [1a2b3c4d5e]", modules: ["/m/ae.safetensors"] })!),
    ).toBe("flux1-dev");
  });
});
