import { createHash } from "node:crypto";

/** A checkpoint as `/sdapi/v1/sd-models` lists it. */
export interface SimulatedModel {
  readonly title: string;
  readonly model_name: string;
  readonly hash: string;
  readonly sha256: string;
  readonly filename: string;
  readonly config: null;
}

/** The checkpoints a simulator offers unless told otherwise. */
export const DEFAULT_MODELS = ["flux1-dev", "flux1-schnell", "sdxl-base-1.0"];

/** Builds Forge's listing for a model name such as "flux1-dev". */
export const simulatedModel = (name: string): SimulatedModel => {
  const sha256 = createHash("sha256").update(name).digest("hex");
  const hash = sha256.slice(0, 10);
  const file = `${name}.safetensors`;
  return {
    title: `${file} [${hash}]`,
    model_name: name,
    hash,
    sha256,
    filename: `/models/Stable-diffusion/${file}`,
    config: null,
  };
};

/** Forge's lookup of a checkpoint setting: title, name, or file name; anything else matches nothing. */
export const matchModel = (models: readonly SimulatedModel[], wanted: string): SimulatedModel | undefined =>
  models.find(
    (m) =>
      m.title === wanted ||
      m.model_name === wanted ||
      m.filename.endsWith(`/${wanted}`) ||
      `${m.model_name}.safetensors` === wanted,
  );

/** A VAE or text encoder as `/sdapi/v1/sd-modules` lists it. */
export interface SimulatedModule {
  readonly model_name: string;
  readonly filename: string;
}

/** The modules a simulator offers unless told otherwise: what a Flux UNet-only checkpoint needs. */
export const DEFAULT_MODULES = ["ae.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors"];

/** Builds Forge's listing for a module file name. */
export const simulatedModule = (file: string): SimulatedModule => ({
  model_name: file,
  filename: `/models/${file.startsWith("ae") ? "VAE" : "text_encoder"}/${file}`,
});
